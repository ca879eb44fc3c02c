"""`slm export sagemaker`: the model.tar.gz layout, the exported entry point run as SageMaker
would run it (unpacked into a model directory, a real process, real HTTP: GET /ping and
POST /invocations) on the default model, and the deploy script's boto3 calls checked
against botocore's service models with Stubber (never sent)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from conftest import shared_test_home
from slmkit.cli.main import main

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def exported(default_model_ref, tmp_path_factory):
    from slmkit.export.sagemaker import export
    from slmkit.models.store import Store

    out = tmp_path_factory.mktemp("sm") / "export"
    done = export(default_model_ref.name, out, ctx=1024, parallel=1, pull=False,
                  store=Store(shared_test_home()), compresslevel=0)  # fast; still a .tar.gz
    return done


def test_the_archive_holds_the_model_and_the_entry_point(exported, default_model_ref):
    with tarfile.open(exported.archive) as tar:
        names = set(tar.getnames())
        config = json.load(tar.extractfile("code/slmkit-sagemaker.json"))
        size = tar.getmember("model.gguf").size
    assert {"model.gguf", "code", "code/serve", "code/slmkit-sagemaker.json"} <= names
    assert size == Path(default_model_ref.path).stat().st_size
    assert config["model"] == default_model_ref.name and config["model_path"] == "model.gguf"
    assert config["ctx"] == 1024
    docker = (exported.directory / "Dockerfile").read_text()
    assert "/opt/ml/model/code/serve" in docker and "slmkit[serve]" in docker
    assert exported.endpoint_name == default_model_ref.name.replace(".", "-")


def _wait(url: str, proc: subprocess.Popen, log: Path, timeout: float = 120.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            r = httpx.get(url + "/ping", timeout=2)
            if r.status_code == 200:
                return r
            assert r.status_code == 503  # loading
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("no /ping 200 in time:\n" + log.read_text()[-3000:])


def test_the_entry_point_answers_ping_and_invocations(exported, tmp_path):
    from serve.conftest import free_port
    from slmkit.export.sagemaker import unpack

    model_dir = unpack(exported.archive, tmp_path / "opt/ml/model")  # as SageMaker does
    port = free_port()
    env = dict(os.environ, SAGEMAKER_BIND_TO_PORT=str(port), SLM_HOST="127.0.0.1",
               SLM_HOME=str(tmp_path / "home"), SLM_THREADS="1", PYTHONUNBUFFERED="1")
    env.pop("SM_MODEL_DIR", None)
    log = tmp_path / "serve.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, str(model_dir / "code" / "serve")], env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        assert _wait(url, proc, log).status_code == 200
        with httpx.Client(base_url=url, timeout=120) as http:
            r = http.post("/invocations", json={
                "messages": [{"role": "user", "content": "Say hello."}],
                "max_tokens": 8, "temperature": 0})
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["object"] == "chat.completion"
            assert body["choices"][0]["message"]["content"].strip()
            assert body["usage"]["completion_tokens"] > 0
            text = http.post("/invocations", json={"prompt": "1, 2, 3,", "max_tokens": 4,
                                                    "temperature": 0}).json()
            assert text["object"] == "text_completion" and text["choices"][0]["text"]
            with http.stream("POST", "/invocations", json={
                    "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4,
                    "stream": True}) as s:
                lines = [ln for ln in s.iter_lines() if ln.startswith("data:")]
            assert lines[-1] == "data: [DONE]" and len(lines) >= 3
            bad = http.post("/invocations", content=b"not json",
                            headers={"Content-Type": "application/json"})
            assert bad.status_code == 400 and "JSON" in bad.text
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _load_deploy(path: Path):
    spec = importlib.util.spec_from_file_location("sm_deploy", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_deploy_script_makes_valid_boto3_calls(exported):
    pytest.importorskip("boto3")
    import boto3
    from botocore.stub import Stubber

    deploy = _load_deploy(exported.directory / "deploy.py")
    args = SimpleNamespace(bucket="my-bucket", prefix="slmkit", name=exported.endpoint_name,
                           role="arn:aws:iam::123456789012:role/SageMakerRole",
                           image="123456789012.dkr.ecr.eu-central-1.amazonaws.com/slm:1",
                           instance_type="ml.m5.xlarge", instances=1)
    calls = deploy.plan(args)
    assert [c[1] for c in calls] == ["upload_file", "create_model", "create_endpoint_config",
                                     "create_endpoint"]
    session = boto3.Session(aws_access_key_id="AKIAFAKE", aws_secret_access_key="fake",
                            region_name="eu-central-1")
    sm = session.client("sagemaker")
    stub = Stubber(sm)
    arn = "arn:aws:sagemaker:eu-central-1:123456789012:"
    for _, op, params in calls[1:]:  # Stubber checks each call against the service model
        out = {"create_model": {"ModelArn": arn + "model/x"},
               "create_endpoint_config": {"EndpointConfigArn": arn + "endpoint-config/x"},
               "create_endpoint": {"EndpointArn": arn + "endpoint/x"}}[op]
        stub.add_response(op, out, params)
    stub.add_response("describe_endpoint", {
        "EndpointName": exported.endpoint_name, "EndpointArn": arn + "endpoint/x",
        "EndpointStatus": "InService", "CreationTime": 0, "LastModifiedTime": 0},
        {"EndpointName": exported.endpoint_name})
    uploads = []

    class S3:
        def upload_file(self, **kw):
            uploads.append(kw)

    session_like = SimpleNamespace(client=lambda service: {"s3": S3(), "sagemaker": sm}[service])
    with stub:
        deploy.run(calls, session_like)
        stub.assert_no_pending_responses()
    assert uploads[0]["Filename"] == str(exported.archive) and uploads[0]["Bucket"] == "my-bucket"


def test_the_cli_refuses_a_non_empty_directory(tmp_path, capsys, default_model_ref):
    (tmp_path / "x").write_text("keep me")
    assert main(["export", "sagemaker", default_model_ref.name, "-o", str(tmp_path),
                 "--no-pull"]) != 0
    assert "is not empty" in capsys.readouterr().err
