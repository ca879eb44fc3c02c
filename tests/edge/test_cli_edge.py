"""The edge verbs map their arguments to the library and report refusals with a reason."""

from __future__ import annotations

import json

from helpers.edge_bundles import tiny_model

from slmkit.cli.main import main


def test_keys_bundle_verify_publish_export(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SLM_HOME", str(tmp_path / "home"))
    key = tmp_path / "k/signing.key"
    assert main(["keys", "generate", str(key)]) == 0
    assert main(["keys", "show", str(key), "--json"]) == 0
    key_id = json.loads(capsys.readouterr().out.split("\n", 3)[-1])["key_id"]
    assert len(key_id) == 16
    out = tmp_path / "b.slmb"
    assert main(["bundle", str(tiny_model(tmp_path)), "--version", "1.0.0", "--sign", str(key),
                 "-o", str(out)]) == 0
    assert main(["bundle", "verify", str(out), "--key", f"{key}.pub"]) == 0
    assert "signature and 1 file digests check out" in capsys.readouterr().out
    assert main(["publish", str(out), "--repo", str(tmp_path / "repo"), "--sign", str(key),
                 "--rollout", "10%"]) == 0
    assert "at 10% (index version 1" in capsys.readouterr().out
    assert main(["bundle", "export-greengrass", str(out), "--key", f"{key}.pub", "-o",
                 str(tmp_path / "gg")]) == 0
    assert list((tmp_path / "gg/recipes").glob("com.slmkit.*.json"))


def test_verify_of_a_damaged_bundle_fails_with_the_reason(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SLM_HOME", str(tmp_path / "home"))
    key = tmp_path / "signing.key"
    main(["keys", "generate", str(key)])
    out = tmp_path / "b.slmb"
    main(["bundle", str(tiny_model(tmp_path)), "--version", "1.0.0", "--sign", str(key),
          "-o", str(out)])
    out.write_bytes(out.read_bytes()[:-12000])  # truncated
    assert main(["bundle", "verify", str(out), "--key", f"{key}.pub"]) == 1
    assert "error:" in capsys.readouterr().err
    assert main(["bundle", str(tiny_model(tmp_path)), "--sign", str(key)]) == 2


def test_fleet_token_and_status(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SLM_HOME", str(tmp_path / "home"))
    db = str(tmp_path / "fleet.db")
    assert main(["fleet", "token", "gw-01", "--db", db, "-o", str(tmp_path / "t")]) == 0
    token = capsys.readouterr().out.strip()
    assert (tmp_path / "t").read_text().strip() == token
    assert (tmp_path / "t").stat().st_mode & 0o777 == 0o600
    assert main(["fleet", "status", "--db", db, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["device_id"] == "gw-01" and rows[0]["silent"]
    assert main(["fleet", "status", "--db", db]) == 0
    assert "gw-01" in capsys.readouterr().out
