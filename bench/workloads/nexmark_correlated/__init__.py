"""Nexmark's models (the same topics and generator as `nexmark/`) with a view over correlated collections.

A package of its own: the planner options ontoc sets depend on whether a package aggregates.
"""
