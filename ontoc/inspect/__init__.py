"""What CI needs besides compiling: explain a view, validate with Flink's planner, plan an upgrade.

`packages` compiles a definitions folder package by package, `explain` builds
the IR / SQL / lineage report of one view, `checks` turns the planner's
verdicts into located diagnostics, `upgrade` compares two compiled versions
(their manifests) and decides for each changed job whether its state survives
(the upgrade plan that `ontoc plan` prints), `revision` checks definitions out
of git, `schemas` holds the JSON Schemas of the reports and the manifest. The
click commands are in `ontoc/cli/inspect.py`; docs/inspect.md documents the
commands and their JSON.
"""
