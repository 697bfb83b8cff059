"""Sensors: numeric edge cases of Python arithmetic in SQL."""
