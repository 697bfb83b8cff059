"""Benchmark workload: OrderCard with every getter's work in a static method over scalars (thread vs process UDFs)."""
