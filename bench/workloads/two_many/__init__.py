"""Benchmark workload: one view over two `many` collections with several aggregates each."""
