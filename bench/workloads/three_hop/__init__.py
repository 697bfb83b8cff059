"""Benchmark workload: three-hop references (shipment -> warehouse -> city -> country)."""
