"""Files that hold raw values or private text are created owner-only (0600, their
directories 0700) whatever the umask: vault files, the guard audit log, the route ledger
and RAG collections (issue 13). Vault temp files are never followed through a symlink."""

from __future__ import annotations

import os
import stat

import pytest

from slmkit.guard import AuditLog, Guard, Vault
from slmkit.route.ledger import Entry, Ledger


@pytest.fixture(autouse=True)
def loose_umask():
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_vault_file_and_its_directory_are_private(tmp_path):
    v = Vault()
    v.placeholder("EMAIL", "ann@corp.example")
    v.save(tmp_path / "vaults" / "c1.json")
    assert mode(tmp_path / "vaults" / "c1.json") == 0o600
    assert mode(tmp_path / "vaults") == 0o700
    assert Vault.load(tmp_path / "vaults" / "c1.json").value("<EMAIL_1>") == "ann@corp.example"


def test_vault_save_does_not_follow_a_planted_temp_symlink(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    for name in ("c1.json.tmp",):
        (tmp_path / name).symlink_to(victim)
    v = Vault()
    v.placeholder("EMAIL", "ann@corp.example")
    v.save(tmp_path / "c1.json")
    assert victim.read_text() == "keep me"
    assert not (tmp_path / "c1.json").is_symlink() and mode(tmp_path / "c1.json") == 0o600


def test_audit_log_is_private(tmp_path):
    log = AuditLog(tmp_path / "audit" / "guard.jsonl")
    Guard(audit=log).protect("mail ann@corp.example", Vault())
    assert mode(tmp_path / "audit" / "guard.jsonl") == 0o600
    assert mode(tmp_path / "audit") == 0o700


def test_route_ledger_is_private(tmp_path):
    ledger = Ledger(tmp_path / "route" / "ledger.sqlite")
    ledger.record(Entry(route="local", reason="test", outcome="ok", request_id="r1"))
    files = [p for p in (tmp_path / "route").iterdir()]
    assert files and all(mode(p) == 0o600 for p in files), {p.name: oct(mode(p)) for p in files}
    assert mode(tmp_path / "route") == 0o700


def test_rag_collection_is_private(tmp_path):
    pytest.importorskip("apsw")
    from slmkit.rag.store import Collection

    c = Collection("notes", tmp_path / "rag", create=True)
    c.conn.close() if hasattr(c.conn, "close") else None
    files = [p for p in c.path.parent.iterdir()]
    assert files and all(mode(p) == 0o600 for p in files), {p.name: oct(mode(p)) for p in files}
    assert mode(c.path.parent) == 0o700
