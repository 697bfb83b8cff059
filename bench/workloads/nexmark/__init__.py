"""Benchmark workload: Nexmark-shaped views (bids with their auction, auctions with their seller)."""
