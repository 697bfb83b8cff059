"""Runtimes that execute compiled ontoc views (embedded Flink for ``--local``)."""
