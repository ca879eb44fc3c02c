"""Ray Serve pieces that run without a Ray cluster: error transport between processes,
--autoscale parsing, and the KubeRay manifest (it parses and names a real entry point)."""

from __future__ import annotations

import importlib
import pickle
from pathlib import Path

import pytest

from slmkit.core.errors import ContextOverflowError, QueueFullError
from slmkit.scale.ray_engine import RemoteError
from slmkit.scale.ray_serve import deployment_name, parse_autoscale

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "deploy" / "kuberay" / "rayservice.yaml"


def test_errors_cross_processes_with_their_type_and_details():
    for err in (ContextOverflowError(3001, 1024), QueueFullError(7, retry_after=2.0),
                ValueError("temperature must be >= 0")):
        back = pickle.loads(pickle.dumps(RemoteError.pack(err))).restore()
        assert type(back) is type(err) and str(back) == str(err)
        assert back.__dict__ == err.__dict__


def test_an_error_of_an_unknown_type_arrives_as_text():
    packed = RemoteError("no.such.module", "Boom", ("it broke",), {})
    back = packed.restore()
    assert isinstance(back, RuntimeError) and "it broke" in str(back)


def test_autoscale_takes_min_colon_max():
    assert parse_autoscale("1:4") == (1, 4) and parse_autoscale(" 0 : 2 ") == (0, 2)
    for bad in ("4:1", "3", "a:b", "0:0", ""):
        with pytest.raises(ValueError, match="MIN:MAX"):
            parse_autoscale(bad)


def test_deployment_names_are_safe():
    name = deployment_name("qwen2.5-0.5b-instruct@llamacpp")
    assert name == "model-qwen2.5-0.5b-instruct-llamacpp"


def _serve_config() -> dict:
    yaml = pytest.importorskip("yaml")
    manifest = yaml.safe_load(MANIFEST.read_text())
    assert manifest["kind"] == "RayService" and manifest["apiVersion"] == "ray.io/v1"
    return manifest, yaml.safe_load(manifest["spec"]["serveConfigV2"])


def test_kuberay_manifest_parses_and_names_our_entry_point():
    manifest, config = _serve_config()
    (app,) = config["applications"]
    module, _, attr = app["import_path"].partition(":")
    entry = getattr(importlib.import_module(module), attr)
    assert callable(entry)
    pins = (ROOT / "constraints.txt").read_text()
    assert f"ray=={manifest['spec']['rayClusterConfig']['rayVersion']}" in pins


def test_kuberay_argv_parses_as_slm_serve_arguments():
    import argparse

    from slmkit.cli import serve

    _, config = _serve_config()
    p = argparse.ArgumentParser()
    serve.configure(p)
    args = p.parse_args([*config["applications"][0]["args"]["argv"], "--ray"])
    assert args.ray and parse_autoscale(args.autoscale) == (1, 4)


@pytest.mark.ray
def test_the_entry_point_builds_a_serve_application(default_model_path):
    pytest.importorskip("ray.serve", reason="ray[serve] is not installed (pip install "
                                             "'slmkit[ray]')")
    from ray.serve import Application

    from slmkit.cli.serve import ray_app

    app = ray_app({"argv": [default_model_path, "--no-pull", "--replicas", "2"]})
    assert isinstance(app, Application)
