"""Benchmark workload of part 4 (end to end): orders with their customer, carrying the producer's clock.

bench/e2e.py copies this package per run with the topic names suffixed (`e2e_orders` ->
`e2e_orders_<run>`), so every run starts from empty topics.
"""
