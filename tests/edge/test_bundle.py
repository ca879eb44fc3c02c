"""Bundles: signed manifest, per-file digests, refusals with a reason."""

from __future__ import annotations

import json
import tarfile

import pytest
from helpers.edge_bundles import build_bundle, make_keys, tiny_model, write_golden

from slmkit.edge import bundle, keys
from slmkit.edge.errors import BundleError


def test_keys_generate_refuses_overwrite_and_private_is_owner_only(tmp_path):
    priv, pub = make_keys(tmp_path)
    assert priv.stat().st_mode & 0o777 == 0o600
    assert keys.key_id(keys.load_public(pub)) == keys.key_id(keys.load_private(priv).public_key())
    with pytest.raises(FileExistsError, match="--force"):
        keys.generate(priv)


def test_bundle_round_trip_lists_every_file_with_digest(tmp_path):
    priv, pub = make_keys(tmp_path)
    golden = write_golden(tmp_path / "golden.jsonl", [{"prompt": "hi", "expect": "x"}])
    config = tmp_path / "serve.toml"
    config.write_text("[serve]\nctx = 512\nparallel = 1\n")
    adapter = tmp_path / "ad"
    adapter.mkdir()
    (adapter / "adapter.gguf").write_bytes(b"not really an adapter")
    out = build_bundle(tmp_path, priv, "1.2.0", golden=str(golden), config=str(config),
                       adapters={"support": str(adapter)}, acceptance={"min_tok_s": 3})
    m = bundle.verify(out, keys.load_public(pub))
    assert m["version"] == "1.2.0" and m["serve"] == {"ctx": 512, "parallel": 1}
    assert set(m["files"]) == {"model/tiny.gguf", "adapters/support/ad/adapter.gguf",
                               "config/serve.toml", "golden.jsonl"}
    assert m["acceptance"]["min_tok_s"] == 3 and m["acceptance"]["min_pass_rate"] == 1.0
    assert m["hardware"]["ram_bytes"] > tiny_model(tmp_path).stat().st_size
    assert m["hardware"]["n_ctx"] <= 512
    assert m["adapters"] == {"support": "adapters/support/ad"}
    dest = tmp_path / "unpacked"
    bundle.unpack(out, keys.load_public(pub), dest)
    assert (dest / "model/tiny.gguf").read_bytes() == tiny_model(tmp_path).read_bytes()


def test_lineage_comes_from_the_store(tmp_path):
    from slmkit.models.store import Store

    store = Store(tmp_path / "home")
    store.add(tiny_model(tmp_path), "tiny-base")
    priv, pub = make_keys(tmp_path)
    out = build_bundle(tmp_path, priv, "1.0.0", model="tiny-base", store=store)
    lineage = bundle.verify(out, keys.load_public(pub))["model"]["lineage"]
    assert lineage[0]["name"] == "tiny-base" and lineage[0]["sha256"]


def test_flipped_byte_is_refused_naming_the_file(tmp_path):
    priv, pub = make_keys(tmp_path)
    out = build_bundle(tmp_path, priv, "1.0.0")
    with tarfile.open(out) as tar:
        at = tar.getmember("model/tiny.gguf").offset_data + 100
    data = bytearray(out.read_bytes())
    data[at] ^= 0x01
    out.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="model/tiny.gguf: sha256 .* altered"):
        bundle.verify(out, keys.load_public(pub))


def test_wrong_key_is_refused_naming_both_keys(tmp_path):
    priv, _ = make_keys(tmp_path)
    _, other_pub = make_keys(tmp_path, "other.key")
    out = build_bundle(tmp_path, priv, "1.0.0")
    with pytest.raises(BundleError, match="not by the trusted key"):
        bundle.verify(out, keys.load_public(other_pub))


def test_a_re_signed_manifest_with_a_forged_key_id_fails_the_signature(tmp_path):
    priv, pub = make_keys(tmp_path)
    out = build_bundle(tmp_path, priv, "1.0.0")
    forged = tmp_path / "forged.slmb"
    with tarfile.open(out) as src, tarfile.open(forged, "w") as dst:
        for info in src:
            f = src.extractfile(info)
            if info.name == "manifest.json":
                m = json.loads(f.read())
                m["version"] = "9.9.9"
                data = json.dumps(m).encode()
                info.size = len(data)
                import io
                f = io.BytesIO(data)
            dst.addfile(info, f)
    with pytest.raises(BundleError, match="signature does not match"):
        bundle.verify(forged, keys.load_public(pub))


def test_extra_member_is_refused(tmp_path):
    priv, pub = make_keys(tmp_path)
    out = build_bundle(tmp_path, priv, "1.0.0")
    extra = tmp_path / "evil.sh"
    extra.write_text("rm -rf /\n")
    with tarfile.open(out, "a") as tar:
        tar.add(extra, arcname="model/evil.sh")
    with pytest.raises(BundleError, match="does not list"):
        bundle.verify(out, keys.load_public(pub))


def test_config_only_bundle_leaves_the_model_out_and_needs_it_on_the_device(tmp_path):
    priv, pub = make_keys(tmp_path)
    full = build_bundle(tmp_path, priv, "1.0.0")
    light = build_bundle(tmp_path, priv, "1.0.1", config_only=True)
    with tarfile.open(full) as a, tarfile.open(light) as b:
        assert "model/tiny.gguf" in a.getnames() and "model/tiny.gguf" not in b.getnames()
    public = keys.load_public(pub)
    with pytest.raises(BundleError, match="not on this device"):
        bundle.unpack(light, public, tmp_path / "x")
    have = tiny_model(tmp_path)
    bundle.unpack(light, public, tmp_path / "y", reuse=lambda name, entry: have)
    assert (tmp_path / "y/model/tiny.gguf").read_bytes() == have.read_bytes()


def test_bad_golden_file_and_version_are_refused_at_build(tmp_path):
    priv, _ = make_keys(tmp_path)
    bad = write_golden(tmp_path / "g.jsonl", [{"prompt": "hi"}])
    with pytest.raises(BundleError, match="exactly one of"):
        build_bundle(tmp_path, priv, "1.0.0", golden=str(bad))
    with pytest.raises(BundleError, match="MAJOR.MINOR.PATCH"):
        build_bundle(tmp_path, priv, "v1")
