"""The repository index and the agent's refusals (no server needed: each is refused before
installing, and the device keeps what it runs)."""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime, timedelta, timezone

import pytest
from helpers.edge_bundles import agent_for, build_bundle, make_keys

from slmkit.edge import keys, repo
from slmkit.edge.agent import rollout_bucket
from slmkit.edge.errors import BundleError, UpdateRefused
from slmkit.edge.manifest import canonical


@pytest.fixture
def published(tmp_path):
    priv, pub = make_keys(tmp_path)
    b = build_bundle(tmp_path, priv, "1.0.0")
    repo.publish(b, tmp_path / "repo", priv)
    return tmp_path / "repo", priv, pub


def _refused(agent, match: str) -> None:
    outcome = agent.poll_once()
    assert outcome.action == "refused", outcome
    assert match in outcome.reason, outcome.reason
    assert agent.device.current_slot() is None  # nothing was installed


def test_publish_signs_a_monotonic_index_and_refuses_a_downgrade(tmp_path, published):
    repo_dir, priv, pub = published
    v2 = build_bundle(tmp_path, priv, "1.1.0")
    index = repo.publish(v2, repo_dir, priv, rollout=10)
    assert index["version"] == 2 and index["channels"]["stable"]["rollout"] == 10
    again = repo.publish(v2, repo_dir, priv, rollout=50)  # same release: a wider rollout
    assert again["version"] == 3
    with pytest.raises(BundleError, match="downgrade"):
        repo.publish(build_bundle(tmp_path, priv, "1.0.5"), repo_dir, priv)
    body = repo.check_index((repo_dir / "index.json").read_bytes(), keys.load_public(pub))
    assert body["channels"]["stable"]["version"] == "1.1.0"


def test_index_signed_by_another_key_is_refused(tmp_path, published):
    repo_dir, _, _ = published
    _, other = make_keys(tmp_path, "other.key")
    _refused(agent_for(tmp_path, repo_dir, other), "not by the trusted key")


def test_expired_index_is_refused(tmp_path, published):
    repo_dir, priv, pub = published
    data = json.loads((repo_dir / "index.json").read_text())["signed"]
    data["expires"] = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
    repo.write_index(repo_dir, data, keys.load_private(priv))
    _refused(agent_for(tmp_path, repo_dir, pub), "expired")


def test_replayed_older_index_is_refused(tmp_path, published):
    repo_dir, priv, pub = published
    old = (repo_dir / "index.json").read_bytes()
    repo.publish(build_bundle(tmp_path, priv, "1.1.0"), repo_dir, priv)
    agent = agent_for(tmp_path, repo_dir, pub, ram_limit=1)  # reads the index, then refuses
    assert "RAM" in agent.poll_once().reason
    (repo_dir / "index.json").write_bytes(old)
    _refused(agent, "replayed")


def test_bundle_needing_more_ram_than_the_device_is_refused(tmp_path, published):
    repo_dir, _, pub = published
    _refused(agent_for(tmp_path, repo_dir, pub, ram_limit=1 << 20), "MiB of RAM")


def test_tampered_bundle_in_the_repository_is_refused(tmp_path, published):
    repo_dir, _, pub = published
    path = next((repo_dir / "bundles").iterdir())
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0xFF
    path.write_bytes(bytes(data))
    _refused(agent_for(tmp_path, repo_dir, pub), "sha256 differs from the signed index")


def test_a_swapped_bundle_with_a_valid_signature_is_refused(tmp_path, published):
    """Mix-and-match: a validly signed but different bundle under the indexed name."""
    repo_dir, priv, pub = published
    other = build_bundle(tmp_path, priv, "1.0.0", name="other")
    shutil.copyfile(other, next((repo_dir / "bundles").iterdir()))
    _refused(agent_for(tmp_path, repo_dir, pub), "sha256 differs")


def test_downgrade_below_the_installed_version_is_refused(tmp_path, published):
    repo_dir, _, pub = published
    agent = agent_for(tmp_path, repo_dir, pub)
    state = agent.device.state()
    state["committed"] = {"slot": "a", "version": "2.0.0"}
    agent.device.save(state)
    outcome = agent.poll_once()
    assert outcome.action == "refused" and "downgrade" in outcome.reason
    assert agent.status()["version"] == "2.0.0"


def test_staged_rollout_takes_a_stable_share_of_devices(tmp_path, published):
    repo_dir, priv, pub = published
    buckets = [rollout_bucket(f"dev-{i}", "stable") for i in range(2000)]
    assert 150 < sum(b < 10 for b in buckets) < 250  # ~10% of devices
    assert rollout_bucket("dev-7", "stable") == rollout_bucket("dev-7", "stable")
    repo.publish(build_bundle(tmp_path, priv, "1.1.0"), repo_dir, priv, rollout=0)
    outcome = agent_for(tmp_path, repo_dir, pub).poll_once()
    assert outcome.action == "waiting" and "rollout 0" in outcome.reason


def test_interrupted_download_resumes_where_it_stopped(tmp_path, published):
    repo_dir, _, _ = published
    entry = json.loads((repo_dir / "index.json").read_text())["signed"]["channels"]["stable"]
    src = (repo_dir / entry["bundle"]).read_bytes()
    part = tmp_path / "x.part"
    part.write_bytes(src[:4096])
    seen = []
    digest = repo.download(str(repo_dir), entry["bundle"], part, entry["size"],
                           on_chunk=seen.append)
    assert part.read_bytes() == src and seen[-1] == len(src)
    assert digest == entry["sha256"]


def test_recover_points_current_back_at_the_committed_slot(tmp_path, published):
    repo_dir, _, pub = published
    device = agent_for(tmp_path, repo_dir, pub).device
    for slot in ("a", "b"):
        device.slot_dir(slot).mkdir()
    state = device.state()
    state["committed"] = {"slot": "a", "version": "1.0.0"}
    state["pending"] = {"slot": "b", "version": "1.1.0"}
    device.save(state)
    device.point_current("b")
    (device.slots / ".b.tmp").mkdir()
    assert "interrupted update to 1.1.0" in device.recover()
    assert device.current_slot() == "a" and device.state()["pending"] is None
    assert not (device.slots / ".b.tmp").exists()
    assert device.state()["history"][-1]["event"] == "interrupted"


def test_check_index_refuses_garbage(tmp_path, published):
    _, _, pub = published
    with pytest.raises(BundleError, match="not a signed slmkit index"):
        repo.check_index(b"{}", keys.load_public(pub))
    body = {"kind": "slmkit-index", "version": 1, "channels": {},
            "expires": "2000-01-01T00:00:00+00:00"}
    doc = {"signed": body, "signature": keys.sign(keys.load_private(published[1]),
                                                  canonical(body))}
    with pytest.raises(UpdateRefused, match="expired"):
        repo.check_index(json.dumps(doc).encode(), keys.load_public(pub))


class _RangeHandler:
    """SimpleHTTPRequestHandler answering ``Range: bytes=N-`` with 206 (as nginx and S3 do)."""

    @staticmethod
    def make(directory: str, ranges: bool):
        import functools
        from http.server import SimpleHTTPRequestHandler

        class Handler(SimpleHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def send_head(self):
                spec = self.headers.get("Range", "")
                if not (ranges and spec.startswith("bytes=")):
                    return super().send_head()
                path = self.translate_path(self.path)
                f = open(path, "rb")
                start = int(spec[6:].rstrip("-"))
                size = os.fstat(f.fileno()).st_size
                f.seek(start)
                self.send_response(206)
                self.send_header("Content-Length", str(size - start))
                self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
                self.end_headers()
                return f

        return functools.partial(Handler, directory=directory)


@pytest.mark.parametrize("ranges", [True, False])
def test_download_over_http_resumes_with_or_without_range_support(tmp_path, published, ranges):
    import threading
    from http.server import ThreadingHTTPServer

    repo_dir, _, pub = published
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RangeHandler.make(str(repo_dir), ranges))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        index = repo.check_index(repo.fetch_bytes(url, repo.INDEX), keys.load_public(pub))
        entry = index["channels"]["stable"]
        src = (repo_dir / entry["bundle"]).read_bytes()
        part = tmp_path / "x.part"
        part.write_bytes(src[:5000])
        repo.download(url, entry["bundle"], part, entry["size"])
        assert part.read_bytes() == src
    finally:
        server.shutdown()


def test_config_only_bundle_without_the_model_on_the_device_is_rejected_once(tmp_path):
    priv, pub = make_keys(tmp_path)
    light = build_bundle(tmp_path, priv, "1.0.0", config_only=True)
    repo.publish(light, tmp_path / "repo", priv)
    agent = agent_for(tmp_path, tmp_path / "repo", pub)
    _refused(agent, "is not on this device")
    assert not list(agent.device.staging.iterdir())
    again = agent.poll_once()  # not downloaded again and again
    assert again.action == "skipped" and "not on this device" in again.reason


def test_a_repository_that_vanishes_mid_update_is_a_refusal_not_a_crash(tmp_path, published):
    repo_dir, _, pub = published
    agent = agent_for(tmp_path, repo_dir, pub)
    shutil.rmtree(repo_dir / "bundles")
    _refused(agent, "stopped")
    shutil.rmtree(repo_dir)
    _refused(agent, "cannot read the repository index")


def test_the_agent_loop_survives_a_malformed_signed_index(tmp_path, published):
    from slmkit.edge import runner

    repo_dir, priv, pub = published
    body = json.loads((repo_dir / "index.json").read_text())["signed"]
    del body["channels"]["stable"]["version"]
    repo.write_index(repo_dir, body, keys.load_private(priv))
    seen = []
    outcome = runner.run(agent_for(tmp_path, repo_dir, pub), once=True, report=seen.append)
    assert outcome.action == "error" and "KeyError" in outcome.reason and seen == [outcome]
