"""Benchmark workload: projection with reference navigation (orders and their customer)."""
