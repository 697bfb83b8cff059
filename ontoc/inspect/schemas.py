"""JSON Schemas (draft 2020-12) of what `--format json` prints, and of `manifest.json`.

docs/inspect.md explains the fields.

The documents are stable within a `format` number: fields may be added, none
is renamed, removed or changes meaning without incrementing `format`.
`python -m ontoc.inspect.schemas explain` prints one.
"""

from __future__ import annotations

import json
import sys

from ..backend.flink.manifest import ManifestState, json_schema
from .upgrade import UpgradePlan

STR = {"type": "string"}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}
NULLABLE_STR = {"type": ["string", "null"]}
STRINGS = {"type": "array", "items": STR}


def obj(required: dict, optional: dict | None = None) -> dict:
    return {"type": "object", "required": sorted(required), "properties": {**required, **(optional or {})}}


LOCATION = obj({"file": STR, "line": INT, "col": INT})

DIAGNOSTIC = obj(
    {"severity": {"enum": ["error", "warning"]}, "code": STR, "message": STR, "hint": NULLABLE_STR},
    {"file": STR, "line": INT, "col": INT, "end_col": {"type": ["integer", "null"]}},
)
DIAGNOSTICS = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "ontoc diagnostics",
    "type": "array",
    "items": DIAGNOSTIC,
}

READ = obj({"topic": STR, "model": STR, "field": STR, "path": STR, "role": {"enum": ["value", "join"]}})
SOURCES = {"type": "object", "additionalProperties": STRINGS}
OUTPUT_LINEAGE = obj(
    {"name": STR, "sources": SOURCES, "reads": {"type": "array", "items": READ}}, {"type": STR, "getter": NULLABLE_STR}
)
STATE = json_schema(ManifestState)  # the same in `explain` as in the manifest

EXPLAIN = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "ontoc explain",
    **obj(
        {
            "ontoc": {"const": "explain"},
            "format": {"const": 1},
            "package": STR,
            "view": STR,
            "topic": STR,
            "root_model": STR,
            "definition": LOCATION,
            "fields": {"type": "array", "items": obj({"name": STR, "type": STR, "getter": LOCATION})},
            "where": {"oneOf": [{"type": "null"}, obj({"name": STR, "file": STR, "line": INT, "col": INT})]},
            "ir": STR,
            "sql": obj({"file": STR, "query": STR, "statements": STR}),
            "lineage": obj(
                {
                    "key": OUTPUT_LINEAGE,
                    "fields": {"type": "array", "items": OUTPUT_LINEAGE},
                    "filter": {"oneOf": [{"type": "null"}, OUTPUT_LINEAGE]},
                    "sources": SOURCES,
                }
            ),
            "state": STATE,
        },
        {
            "python_udfs": {
                "type": "array",
                "items": obj(
                    {"function": STR, "kind": {"enum": ["scalar", "aggregate"]}, "method": STR, "fields": STRINGS}
                ),
            },
        },
    ),
}

VALIDATE = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "ontoc validate",
    **obj(
        {
            "ontoc": {"const": "validate"},
            "format": {"const": 1},
            "ok": BOOL,
            "views": {
                "type": "array",
                "items": obj(
                    {
                        "package": STR,
                        "view": STR,
                        "topic": STR,
                        "definition": LOCATION,
                        "ok": BOOL,
                        "message": NULLABLE_STR,
                        "failures": {
                            "type": "array",
                            "items": obj(
                                {
                                    "kind": {"enum": ["getter", "where", "view"]},
                                    "getter": NULLABLE_STR,
                                    "message": STR,
                                    "file": STR,
                                    "line": INT,
                                    "col": INT,
                                    "sql": NULLABLE_STR,
                                }
                            ),
                        },
                    }
                ),
            },
            "diagnostics": {"type": "array", "items": DIAGNOSTIC},
        }
    ),
}

# derived from the dataclasses `ontoc plan` builds its report from (inspect/upgrade.py)
PLAN = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "ontoc plan",
    **json_schema(UpgradePlan, True),
}

# derived from the dataclasses that ontoc compile writes and ontoc plan reads (backend/flink/manifest.py)
MANIFEST = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "ontoc manifest", **json_schema()}

SCHEMAS = {"explain": EXPLAIN, "validate": VALIDATE, "plan": PLAN, "diagnostics": DIAGNOSTICS, "manifest": MANIFEST}

if __name__ == "__main__":
    print(json.dumps(SCHEMAS[sys.argv[1]] if len(sys.argv) > 1 else SCHEMAS, indent=2))
