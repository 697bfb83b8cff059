"""Benchmark workload: OrderCard with every getter's work in a static method (native vs Python UDFs)."""
