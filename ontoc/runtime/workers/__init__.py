"""Code that runs in Flink's Python workers on the TaskManagers.

It imports PyFlink, `ontoc.events`, `ontoc.event_validation` and the IR types, never the compiler.
"""
