"""Flink inside this process: `ontoc run --local`, the differential tests, `ontoc validate`."""
