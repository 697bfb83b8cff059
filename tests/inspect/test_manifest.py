"""The manifest's one typed definition: what `compile` writes reads back as the same document, and fits its schema."""

from __future__ import annotations

import json

import jsonschema
import pytest

from ontoc.backend.flink.artifacts import json_text
from ontoc.backend.flink.manifest import Manifest, ManifestError, from_json, to_json
from ontoc.inspect.schemas import SCHEMAS

from .conftest import PLAN_FIXTURES, ROOT

GENERATED = sorted((ROOT / "generated").glob("*/manifest.json"))


@pytest.mark.parametrize("path", GENERATED, ids=lambda p: p.parent.name)
def test_a_written_manifest_reads_back_to_the_same_bytes(path):
    text = path.read_text(encoding="utf-8")
    manifest = from_json(Manifest, json.loads(text))
    assert manifest.views and json_text(to_json(manifest)) + "\n" == text


@pytest.mark.parametrize("path", GENERATED + sorted(PLAN_FIXTURES.rglob("manifest.json")), ids=str)
def test_every_manifest_fits_the_schema_derived_from_the_types(path):
    jsonschema.validate(json.loads(path.read_text(encoding="utf-8")), SCHEMAS["manifest"])


def test_a_view_without_its_topic_is_no_manifest():
    with pytest.raises(ManifestError, match="topic"):
        from_json(Manifest, {"format": 3, "views": [{"view": "V", "file": "v.sql"}]})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"format": 3, "views": [{"view": "V", "file": "v.sql"}]}, SCHEMAS["manifest"])
