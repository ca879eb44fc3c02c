"""Bundles that carry a document collection (``slm bundle --rag``): the collection and
its embedder listed with digests, refusals (tampering, unsafe or linked members, a missing
embedder on the device), reuse by a later bundle. No server: see test_rag_probation.py."""

from __future__ import annotations

import io
import json
import tarfile

import pytest
from helpers.edge_bundles import agent_for, build_bundle, make_keys, rag_home, write_golden

from slmkit.edge import bundle, keys, repo
from slmkit.edge import manifest as mf
from slmkit.edge.errors import BundleError, UpdateRefused
from slmkit.rag.store import snapshot


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return rag_home(tmp_path_factory.mktemp("edge-rag"))


def _rag_bundle(tmp_path, home, priv, version="1.0.0", **spec):
    from slmkit.models.store import Store

    export = lambda name, dest: snapshot(name, dest, home)  # noqa: E731
    return build_bundle(tmp_path, priv, version, store=Store(home), rag=["docs"],
                        rag_export=export, **spec)


def test_collection_and_embedder_are_listed_with_digests(tmp_path, home):
    priv, pub = make_keys(tmp_path)
    out = _rag_bundle(tmp_path, home, priv)
    m = bundle.verify(out, keys.load_public(pub))
    assert m["rag"] == {"docs": {"path": "rag/docs.db", "embedder": "all-minilm-l6-v2-int8",
                                 "carried": "embedders/all-minilm-l6-v2-int8"}}
    names = set(m["files"])
    assert "rag/docs.db" in names
    assert "embedders/all-minilm-l6-v2-int8/model.onnx" in names
    bundle.unpack(out, keys.load_public(pub), tmp_path / "slot")
    from slmkit.rag.service import RagService
    from slmkit.rag.serving import rag_service

    svc: RagService = rag_service(tmp_path / "slot")  # the slot's embedder, not the store's
    hits = svc.query("docs", "Which valve must be closed before draining?", k=1)
    assert "V-220" in hits[0].text


def test_greengrass_recipe_serves_the_collections(tmp_path, home):
    from slmkit.edge import greengrass

    priv, pub = make_keys(tmp_path)
    path = greengrass.export(_rag_bundle(tmp_path, home, priv), keys.load_public(pub),
                             tmp_path / "gg")
    run = json.loads(path.read_text())["Manifests"][0]["Lifecycle"]["Run"]["Script"]
    assert "--rag-home '{work:path}/bundle' --rag docs" in run


def test_tampered_collection_is_refused(tmp_path, home):
    priv, pub = make_keys(tmp_path)
    out = _rag_bundle(tmp_path, home, priv)
    with tarfile.open(out) as tar:
        info = tar.getmember("rag/docs.db")
    data = bytearray(out.read_bytes())
    data[info.offset_data + info.size // 2] ^= 0x01
    out.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="rag/docs.db: sha256 .* altered"):
        bundle.verify(out, keys.load_public(pub))


def _resigned(tmp_path, src, priv, *, rename=None, symlink=None):
    """``src`` re-signed with a manifest listing a member under another (unsafe) name, or
    with a member replaced by a symlink: what a compromised build machine could emit."""
    out = tmp_path / "evil.slmb"
    with tarfile.open(src) as tar:
        manifest = json.loads(tar.extractfile(mf.MANIFEST).read())
        members = [(i, tar.extractfile(i).read()) for i in tar
                   if i.name not in (mf.MANIFEST, mf.SIGNATURE)]
    if rename:
        old, new = rename
        manifest["files"][new] = manifest["files"].pop(old)
        manifest["rag"]["docs"]["path"] = new
        for info, _ in members:
            info.name = new if info.name == old else info.name
    data = mf.canonical(manifest)
    sig = json.dumps(keys.sign(keys.load_private(priv), data)).encode()
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, blob in ((mf.MANIFEST, data), (mf.SIGNATURE, sig)):
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
        for info, blob in members:
            if info.name == symlink:
                link = tarfile.TarInfo(info.name)
                link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
                tar.addfile(link)
            else:
                tar.addfile(info, io.BytesIO(blob))
    return out


def test_path_traversal_and_symlinked_collection_are_refused(tmp_path, home):
    priv, pub = make_keys(tmp_path)
    out = _rag_bundle(tmp_path, home, priv)
    public = keys.load_public(pub)
    evil = _resigned(tmp_path, out, priv, rename=("rag/docs.db", "rag/../../docs.db"))
    with pytest.raises(BundleError, match="unsafe path"):
        bundle.unpack(evil, public, tmp_path / "slot")
    assert not (tmp_path / "docs.db").exists()
    evil = _resigned(tmp_path, out, priv, symlink="rag/docs.db")
    with pytest.raises(BundleError, match="not a plain file"):
        bundle.unpack(evil, public, tmp_path / "slot2")
    with pytest.raises(BundleError, match="cannot be a bundle path"):
        build_bundle(tmp_path, priv, "1.0.1", rag=["../docs"],
                     rag_export=lambda name, dest: "x")


def test_golden_prompt_must_ask_a_bundled_collection(tmp_path, home):
    priv, _ = make_keys(tmp_path)
    golden = write_golden(tmp_path / "g.jsonl",
                          [{"prompt": "Code word?", "expect": "heliotrope", "rag": "other"}])
    with pytest.raises(BundleError, match="does not carry"):
        _rag_bundle(tmp_path, home, priv, golden=str(golden))


def test_named_embedder_missing_on_the_device_is_refused_before_install(tmp_path, home,
                                                                       monkeypatch):
    priv, pub = make_keys(tmp_path)
    out = _rag_bundle(tmp_path, home, priv, carry_embedder=False)
    m = bundle.verify(out, keys.load_public(pub))
    assert m["rag"]["docs"]["carried"] is None
    assert not any(p.startswith("embedders/") for p in m["files"])
    repo.publish(out, tmp_path / "repo", priv)
    monkeypatch.setenv("SLM_HOME", str(tmp_path / "empty-home"))  # the device's store
    outcome = agent_for(tmp_path, tmp_path / "repo", pub).poll_once()
    assert outcome.action == "refused", outcome
    assert "needs the embedder all-minilm-l6-v2-int8" in outcome.reason
    monkeypatch.setenv("SLM_HOME", str(home))  # a device that has it passes the check
    from slmkit.edge import rag

    rag.check_device(m)
    with pytest.raises(UpdateRefused):
        from slmkit.models.store import Store

        rag.check_device(m, Store(tmp_path / "empty-home"))


def test_model_only_update_reuses_the_collection_by_copy(tmp_path, home):
    priv, pub = make_keys(tmp_path)
    public = keys.load_public(pub)
    full = _rag_bundle(tmp_path, home, priv)
    light = _rag_bundle(tmp_path, home, priv, "1.0.1", reuse={"rag", "embedders"})
    with tarfile.open(light) as tar:
        assert not any(n.startswith(("rag/", "embedders/")) for n in tar.getnames())
    assert light.stat().st_size < full.stat().st_size - 20 * 2**20  # no collection/embedder
    old = tmp_path / "old"
    bundle.unpack(full, public, old)
    with pytest.raises(BundleError, match="leaves out .* not on this device"):
        bundle.unpack(light, public, tmp_path / "x")
    new = tmp_path / "new"
    bundle.unpack(light, public, new, reuse=lambda name, entry: old / name)
    db_old, db_new = old / "rag/docs.db", new / "rag/docs.db"
    assert db_new.read_bytes() == db_old.read_bytes()
    assert db_new.stat().st_ino != db_old.stat().st_ino  # a copy: a server may write to it
    emb = "embedders/all-minilm-l6-v2-int8/model.onnx"
    assert (new / emb).stat().st_ino == (old / emb).stat().st_ino  # read-only: linked
    with pytest.raises(BundleError, match="cannot leave out"):
        _rag_bundle(tmp_path, home, priv, "1.0.2", reuse={"config"})


def test_cli_bundle_rag_wires_the_rag_store(tmp_path, home, monkeypatch, capsys):
    from helpers.edge_bundles import tiny_model

    from slmkit.cli.main import main

    monkeypatch.setenv("SLM_HOME", str(home))
    priv, pub = make_keys(tmp_path)
    out = tmp_path / "cli.slmb"
    assert main(["bundle", str(tiny_model(tmp_path)), "--version", "1.0.0", "--sign",
                 str(priv), "--rag", "docs", "--rag-embedder", "name", "-o", str(out)]) == 0
    m = bundle.verify(out, keys.load_public(pub))
    assert m["rag"]["docs"] == {"path": "rag/docs.db", "embedder": "all-minilm-l6-v2-int8",
                                "carried": None}
