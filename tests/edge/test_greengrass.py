"""Greengrass v2 export: the recipe validates against the recipe format's required
structure (written here as a JSON Schema from the AWS component recipe reference), and the
artifacts' digests match the files written."""

from __future__ import annotations

import base64
import hashlib
import json

import jsonschema
import pytest
from helpers.edge_bundles import build_bundle, make_keys

from slmkit.edge import greengrass, keys
from slmkit.edge.errors import BundleError

ARTIFACT = {
    "type": "object", "required": ["Uri"], "additionalProperties": False,
    "properties": {
        "Uri": {"type": "string", "pattern": "^(s3|greengrass|docker)://"},
        "Digest": {"type": "string"}, "Algorithm": {"enum": ["SHA-256", "SHA-384", "SHA-512"]},
        "Unarchive": {"enum": ["NONE", "ZIP"]},
        "Permission": {"type": "object", "properties": {
            "Read": {"enum": ["NONE", "OWNER", "ALL"]},
            "Execute": {"enum": ["NONE", "OWNER", "ALL"]}}},
    },
}
STEP = {"oneOf": [{"type": "string"}, {"type": "object", "required": ["Script"], "properties": {
    "Script": {"type": "string"}, "Timeout": {"type": "integer", "minimum": 1},
    "RequiresPrivilege": {"type": "boolean"}, "Setenv": {"type": "object"},
    "Skipif": {"type": "string"}}}]}
RECIPE_SCHEMA = {
    "type": "object",
    "required": ["RecipeFormatVersion", "ComponentName", "ComponentVersion", "Manifests"],
    "additionalProperties": False,
    "properties": {
        "RecipeFormatVersion": {"enum": ["2020-01-25"]},
        "ComponentName": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,128}$"},
        "ComponentVersion": {"type": "string", "pattern": r"^\d+\.\d+\.\d+$"},
        "ComponentDescription": {"type": "string"}, "ComponentPublisher": {"type": "string"},
        "ComponentConfiguration": {"type": "object", "properties": {
            "DefaultConfiguration": {"type": "object"}}},
        "ComponentDependencies": {"type": "object"},
        "Manifests": {"type": "array", "minItems": 1, "items": {
            "type": "object", "additionalProperties": False, "properties": {
                "Platform": {"type": "object", "properties": {
                    "os": {"type": "string"}, "architecture": {"type": "string"}}},
                "Lifecycle": {"type": "object", "properties": {
                    k: STEP for k in ("Setenv", "Bootstrap", "Install", "Run", "Startup",
                                      "Shutdown", "Recover")}},
                "Selections": {"type": "array"},
                "Artifacts": {"type": "array", "items": ARTIFACT}}}},
        "Lifecycle": {"type": "object"},
    },
}


def test_recipe_validates_and_digests_match_the_artifacts(tmp_path):
    priv, pub = make_keys(tmp_path)
    config = tmp_path / "serve.toml"
    config.write_text("[serve]\nctx = 1024\nthreads = 2\n")
    b = build_bundle(tmp_path, priv, "1.4", name="plant model", config=str(config))
    path = greengrass.export(b, keys.load_public(pub), tmp_path / "gg",
                             artifact_uri="s3://my-bucket/slm")
    recipe = json.loads(path.read_text())
    jsonschema.validate(recipe, RECIPE_SCHEMA)
    assert recipe["ComponentName"] == "com.slmkit.plant-model"
    assert recipe["ComponentVersion"] == "1.4.0"
    assert recipe["ComponentConfiguration"]["DefaultConfiguration"]["Ctx"] == 1024
    manifest = recipe["Manifests"][0]
    assert "slm bundle verify" in manifest["Lifecycle"]["Install"]["Script"]
    assert "{configuration:/Port}" in manifest["Lifecycle"]["Run"]["Script"]
    art_dir = tmp_path / "gg/artifacts/com.slmkit.plant-model/1.4.0"
    for art in manifest["Artifacts"]:
        assert art["Uri"].startswith("s3://my-bucket/slm/com.slmkit.plant-model/1.4.0/")
        local = art_dir / art["Uri"].rsplit("/", 1)[1]
        digest = base64.b64encode(hashlib.sha256(local.read_bytes()).digest()).decode()
        assert art["Digest"] == digest


def test_a_schema_violation_would_be_caught():
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"RecipeFormatVersion": "2020-01-25", "ComponentName": "x",
                             "ComponentVersion": "1.0", "Manifests": []}, RECIPE_SCHEMA)


def test_export_refuses_a_bundle_that_does_not_verify(tmp_path):
    priv, _ = make_keys(tmp_path)
    _, other = make_keys(tmp_path, "other.key")
    b = build_bundle(tmp_path, priv, "1.0.0")
    with pytest.raises(BundleError):
        greengrass.export(b, keys.load_public(other), tmp_path / "gg")
    assert not (tmp_path / "gg").exists()
