"""TUF over the update repository (``slm publish --tuf``, ``slm agent --tuf-root``):
the device reads the index through tuf's ngclient, and freeze, rollback, tampering and
a rotated role key behave as TUF specifies. A directory repository; no server."""

from __future__ import annotations

import json
import shutil

import pytest
from helpers.edge_bundles import agent_for, build_bundle, make_keys

from slmkit.edge import repo, tuf_client, tuf_repo
from slmkit.edge.errors import BundleError, UpdateRefused

pytest.importorskip("tuf")


@pytest.fixture
def published(tmp_path):
    priv, pub = make_keys(tmp_path)
    repo.publish(build_bundle(tmp_path, priv, "1.0.0"), tmp_path / "repo", priv)
    versions = tuf_repo.publish(tmp_path / "repo", tuf_repo.role_keys(priv))
    assert versions == {"root": 1, "targets": 1, "snapshot": 1, "timestamp": 1}
    root = tmp_path / "root.json"  # the device's trust anchor, given once
    shutil.copy(tuf_repo.trusted_root(tmp_path / "repo"), root)
    return tmp_path / "repo", priv, pub, root


def _index(tmp_path, repo_dir, root, device: str = "device") -> dict:
    data = tuf_client.fetch_index(str(repo_dir), tmp_path / device, root)
    return json.loads(data)["signed"]


def test_device_reads_the_index_through_tuf_and_follows_new_versions(tmp_path, published):
    repo_dir, priv, _, root = published
    assert _index(tmp_path, repo_dir, root)["channels"]["stable"]["version"] == "1.0.0"
    repo.publish(build_bundle(tmp_path, priv, "1.1.0"), repo_dir, priv)
    # the index changed but TUF was not re-signed: a device keeps the TUF-signed index it
    # holds, and one without it refuses the repository's (its length and digest differ)
    assert _index(tmp_path, repo_dir, root)["channels"]["stable"]["version"] == "1.0.0"
    with pytest.raises(UpdateRefused, match="TUF verification failed"):
        _index(tmp_path, repo_dir, root, device="device2")
    assert tuf_repo.publish(repo_dir, tuf_repo.role_keys(priv))["timestamp"] == 2
    assert _index(tmp_path, repo_dir, root)["channels"]["stable"]["version"] == "1.1.0"


def test_expired_timestamp_is_a_freeze_and_refused(tmp_path, published):
    repo_dir, priv, _, root = published
    tuf_repo.publish(repo_dir, tuf_repo.role_keys(priv), expires_days=-1)
    with pytest.raises(UpdateRefused, match="expired"):
        _index(tmp_path, repo_dir, root)


def test_older_metadata_after_newer_is_a_rollback_and_refused(tmp_path, published):
    repo_dir, priv, _, root = published
    meta = tuf_repo.metadata_dir(repo_dir)
    old = {n: (meta / n).read_bytes() for n in ("timestamp.json", "snapshot.json",
                                                "targets.json")}
    old_index = (repo_dir / "index.json").read_bytes()
    repo.publish(build_bundle(tmp_path, priv, "1.1.0"), repo_dir, priv)
    tuf_repo.publish(repo_dir, tuf_repo.role_keys(priv))
    _index(tmp_path, repo_dir, root)  # the device saw version 2
    for name, data in old.items():  # a mirror serves the whole older, validly signed set
        (meta / name).write_bytes(data)
    (repo_dir / "index.json").write_bytes(old_index)
    with pytest.raises(UpdateRefused, match="went back in version"):
        _index(tmp_path, repo_dir, root)


def test_metadata_signed_by_another_key_is_refused(tmp_path, published):
    repo_dir, _, _, root = published
    other, _ = make_keys(tmp_path, "other.key")
    shutil.rmtree(tuf_repo.metadata_dir(repo_dir))
    tuf_repo.publish(repo_dir, tuf_repo.role_keys(other))  # a whole new root, not trusted
    with pytest.raises(UpdateRefused, match="TUF verification failed"):
        _index(tmp_path, repo_dir, root)


def test_rotated_timestamp_key_is_followed_through_a_new_root(tmp_path, published):
    repo_dir, priv, _, root = published
    _index(tmp_path, repo_dir, root)
    ts_key, _ = make_keys(tmp_path, "timestamp.key")
    keys = tuf_repo.role_keys(priv, [f"timestamp={ts_key}"])
    assert tuf_repo.publish(repo_dir, keys)["root"] == 2
    assert _index(tmp_path, repo_dir, root)["channels"]["stable"]["version"] == "1.0.0"
    new_root, _ = make_keys(tmp_path, "root2.key")
    with pytest.raises(BundleError, match="old root key"):
        tuf_repo.publish(repo_dir, {**keys, "root": new_root})
    assert tuf_repo.publish(repo_dir, {**keys, "root": new_root},
                            old_root_key=priv)["root"] == 3
    _index(tmp_path, repo_dir, root)  # root 1 → 2 → 3, each signed by its predecessor
    with pytest.raises(ValueError, match="ROLE=KEY"):
        tuf_repo.role_keys(priv, ["mirror=x.key"])


def test_agent_with_tuf_root_refuses_an_expired_repository(tmp_path, published):
    repo_dir, priv, pub, root = published
    tuf_repo.publish(repo_dir, tuf_repo.role_keys(priv), expires_days=-1)
    outcome = agent_for(tmp_path, repo_dir, pub, tuf_root=str(root)).poll_once()
    assert outcome.action == "refused" and "expired" in outcome.reason, outcome


def test_publish_and_agent_through_the_cli(tmp_path, capsys, monkeypatch):
    from slmkit.cli.main import main

    monkeypatch.setenv("SLM_HOME", str(tmp_path / "home"))
    priv, pub = make_keys(tmp_path)
    ts_key, _ = make_keys(tmp_path, "timestamp.key")
    b = build_bundle(tmp_path, priv, "1.0.0")
    assert main(["publish", str(b), "--repo", str(tmp_path / "repo"), "--sign", str(priv),
                 "--channel", "other", "--tuf", "--tuf-key", f"timestamp={ts_key}"]) == 0
    assert "TUF metadata signed" in capsys.readouterr().out
    root = tuf_repo.trusted_root(tmp_path / "repo")
    assert main(["agent", "--repo", str(tmp_path / "repo"), "--key", str(pub), "--device-dir",
                 str(tmp_path / "device"), "--once", "--json", "--tuf-root", str(root)]) == 0
    assert json.loads(capsys.readouterr().out)["action"] == "none"  # stable: not published
    assert (tmp_path / "device/tuf/timestamp.json").exists()
