"""API keys: a blank or short key must never leave a network bind open (issue 13, critical).

``slm serve --host 0.0.0.0 --api-key " "`` used to pass the exposure check with a key list
that was empty once stripped, so every request was served without a key.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from slmkit.serve.auth import MIN_KEY_LENGTH, ApiKeys, check_exposure

GOOD = "k" * MIN_KEY_LENGTH


@pytest.mark.parametrize("key", ["", " ", "\t", "  \n "])
def test_blank_keys_are_refused_everywhere(key):
    for host in ("0.0.0.0", "192.168.1.5", "127.0.0.1", "::1"):
        with pytest.raises(ValueError, match="blank"):
            check_exposure(host, [key])
        with pytest.raises(ValueError, match="blank"):
            check_exposure(host, [GOOD, key])
    with pytest.raises(ValueError, match="blank"):
        ApiKeys([GOOD, key])


def test_short_keys_are_refused_off_loopback_and_warned_about_on_loopback():
    short = "k" * (MIN_KEY_LENGTH - 1)
    with pytest.raises(ValueError, match=f"at least {MIN_KEY_LENGTH} characters"):
        check_exposure("0.0.0.0", [short])
    with pytest.raises(ValueError, match=f"at least {MIN_KEY_LENGTH}"):
        check_exposure("10.0.0.2", [GOOD, short])
    warnings = check_exposure("127.0.0.1", [short])
    assert len(warnings) == 1 and "shorter than" in warnings[0]
    assert check_exposure("0.0.0.0", [GOOD]) == []
    assert check_exposure("localhost", []) == []


def test_keys_with_spaces_or_control_characters_are_refused():
    with pytest.raises(ValueError, match="printable"):
        check_exposure("0.0.0.0", ["abc def ghi jkl mno"])
    with pytest.raises(ValueError, match="printable"):
        check_exposure("0.0.0.0", ["abcdefghijklmnop\x00"])


def test_no_key_off_loopback_is_still_refused():
    with pytest.raises(ValueError, match="--api-key"):
        check_exposure("0.0.0.0", [])


def test_cli_names_the_source_of_a_blank_key(monkeypatch, tmp_path):
    from slmkit.assemble import ServerConfig

    monkeypatch.delenv("SLM_API_KEY", raising=False)
    with pytest.raises(ValueError, match="--api-key"):
        ServerConfig(api_key=[" "], host="0.0.0.0").keys()
    monkeypatch.setenv("SLM_API_KEY", "   ")
    with pytest.raises(ValueError, match="SLM_API_KEY"):
        ServerConfig(host="0.0.0.0").keys()


def _serve(env_key: str | None, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("SLM_API_KEY", None)
    if env_key is not None:
        env["SLM_API_KEY"] = env_key
    cmd = [sys.executable, "-m", "slmkit.cli.main", "serve", "--host", "0.0.0.0",
           "--port", "1", "--no-pull", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("env_key", "args"), [
    (None, ("--api-key", " ")),
    (None, ("--api-key", "")),
    (" ", ()),
    (None, ("--api-key", "short-key")),
])
def test_slm_serve_refuses_to_start_with_a_blank_or_short_key(env_key, args):
    """The real command exits non-zero with a message before loading anything."""
    r = _serve(env_key, *args)
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert "API key" in out and ("blank" in out or "at least" in out), out
    assert "ready at" not in out
