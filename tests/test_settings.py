"""slmkit.settings: one precedence rule (CLI > env > config.toml > defaults), strict
config files, `slm config`, and no environment reads anywhere else in src/."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from slmkit import settings as S
from slmkit.settings import SettingsError, effective, get_settings

SRC = Path(__file__).resolve().parents[1] / "src" / "slmkit"


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A clean environment (no setting variable set) with SLM_HOME at a temp folder."""
    for name in S.ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLM_HOME", str(tmp_path))
    return tmp_path


def write_config(home: Path, text: str) -> Path:
    path = home / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def origin(name: str, cli=None) -> str:
    return next(e.origin for e in effective(cli) if e.name == name)


# ----------------------------------------------------------------------------- precedence

def test_defaults_and_derived_paths(home):
    s = S.reload_settings()
    assert s.home == home and s.config_path == home / "config.toml"
    assert s.data_home == home / "datasets" and s.cache_home == home / "cache"
    assert (s.ctx, s.threads, s.host, s.port, s.parallel, s.queue) == \
        (4096, 0, "127.0.0.1", 8000, 4, 64)
    assert s.default_model is None and s.api_key is None and s.skip_memory_check is False
    assert origin("home") == "env:SLM_HOME" and origin("ctx") == "default"


def test_cli_beats_env_beats_file_beats_default(home, monkeypatch):
    path = write_config(home, "[serve]\nport = 9001\nhost = '0.0.0.0'\n[model]\nctx = 1024\n")
    monkeypatch.setenv("SLM_PORT", "9002")
    monkeypatch.setenv("SLM_HOST", "10.0.0.1")
    s = get_settings({"host": "192.168.1.1", "ctx": None})  # None: not given on the CLI
    assert s.host == "192.168.1.1" and origin("host", {"host": "x"}) == "cli"
    assert s.port == 9002 and origin("port") == "env:SLM_PORT"
    assert s.ctx == 1024 and origin("ctx") == f"file:{path}"
    assert s.queue == 64 and origin("queue") == "default"


def test_changes_to_env_and_file_are_seen_without_reload(home, monkeypatch):
    assert get_settings().threads == 0
    monkeypatch.setenv("SLM_THREADS", "3")
    assert get_settings().threads == 3
    monkeypatch.delenv("SLM_THREADS")
    write_config(home, "[model]\nthreads = 5\n")
    assert get_settings().threads == 5
    write_config(home, "[model]\nthreads = 17\n")
    assert S.reload_settings().threads == 17


def test_first_set_variable_wins_and_empty_counts_as_unset(home, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    assert get_settings().remote_api_key == "sk-openai"
    monkeypatch.setenv("SLM_REMOTE_API_KEY", "sk-slm")
    assert get_settings().remote_api_key == "sk-slm"
    assert origin("remote_api_key") == "env:SLM_REMOTE_API_KEY"
    monkeypatch.setenv("SLM_API_KEY", "")
    assert get_settings().api_key is None
    monkeypatch.setenv("SLM_API_KEY", "  ")  # kept as given: the server decides what is blank
    assert get_settings().api_key == "  "


def test_file_paths_are_relative_to_the_file_and_empty_strings_unset(home, tmp_path):
    write_config(home, "[paths]\ndata_home = 'data'\ncache_home = '/abs/cache'\n"
                       "download_cache = ''\n[model]\ndefault = ''\n")
    s = get_settings()
    assert s.data_home == home / "data" and s.cache_home == Path("/abs/cache")
    assert s.download_cache is None and s.default_model is None


def test_modules_read_through_settings(home, monkeypatch):
    from slmkit.evaluate import datasets, kld
    from slmkit.models.store import default_root
    from slmkit.rag.store import rag_home
    from slmkit.route.ledger import default_path

    write_config(home, "[paths]\ncache_home = 'c'\n")
    monkeypatch.setenv("SLM_DATA_HOME", str(home / "d"))
    assert default_root() == home and rag_home() == home / "rag"
    assert default_path() == home / "route" / "ledger.sqlite"
    assert datasets.data_root() == home / "d" and kld.cache_dir() == home / "c" / "kld"


def test_default_model_setting_is_what_an_unnamed_model_resolves_to(home, monkeypatch):
    from slmkit.core.errors import ModelNotFoundError
    from slmkit.models.store import Store

    monkeypatch.setenv("SLM_MODEL", "no-such-model-xyz")
    with pytest.raises(ModelNotFoundError, match="no-such-model-xyz"):
        Store(home).resolve(None, pull_missing=False)


def test_remote_key_order(home, monkeypatch, tmp_path):
    pytest.importorskip("httpx")
    from slmkit.runtime.remote.engine import resolve_api_key

    keyfile = tmp_path / "key.txt"
    keyfile.write_text("from-file\n")
    write_config(home, "[remote]\napi_key = 'from-config'\n[route]\nupstream_key = 'up-config'\n")
    assert resolve_api_key() == "from-config"
    assert resolve_api_key(file=keyfile) == "from-file"  # an explicit file beats config.toml
    monkeypatch.setenv("SLM_REMOTE_API_KEY", "from-env")
    assert resolve_api_key(file=keyfile) == "from-env"
    assert resolve_api_key("given", file=keyfile) == "given"
    assert resolve_api_key(env="SLM_UPSTREAM_KEY") == "up-config"
    monkeypatch.setenv("MY_GATEWAY_KEY", "gw")
    assert resolve_api_key(env="MY_GATEWAY_KEY") == "gw"
    assert resolve_api_key(env="UNSET_GATEWAY_KEY") is None


def test_serve_api_keys_from_settings(home, monkeypatch, tmp_path):
    from slmkit.assemble import ServerConfig

    keyfile = tmp_path / "keys"
    keyfile.write_text("# comment\nk-file\n")
    write_config(home, f"[serve]\napi_key_file = '{keyfile}'\napi_key = 'k-config'\n")
    config = ServerConfig(api_key=["k-cli"])
    assert config.keys() == ["k-cli", "k-file", "k-config"]
    monkeypatch.setenv("SLM_API_KEY", "k-env")
    assert config.keys() == ["k-cli", "k-file", "k-env"]


# ----------------------------------------------------------------------------- the CLI wiring

@pytest.mark.parametrize("verb", ["serve", "run"])
def test_cli_options_take_precedence_over_env_and_file(home, monkeypatch, verb):
    from slmkit.cli.main import _build_parser

    write_config(home, "[model]\nctx = 1024\nthreads = 3\n[serve]\nport = 9001\n")
    monkeypatch.setenv("SLM_THREADS", "2")
    parser = _build_parser(verb)
    argv = [verb, "--ctx", "512"] + (["--port", "7000"] if verb == "serve" else ["hi"])
    args = parser.parse_args(argv)
    assert args.threads is None  # the parser leaves settings unset …
    S.apply_cli(args, args._settings_args)  # … and main() fills them before the verb runs
    assert (args.ctx, args.threads) == (512, 2)
    if verb == "serve":
        assert (args.port, args.host, args.queue) == (7000, "127.0.0.1", 64)
        args = parser.parse_args(["serve"])
        S.apply_cli(args, args._settings_args)
        assert (args.port, args.ctx, args.keep_alive) == (9001, 1024, 300.0)


def slm(home: Path, *argv: str, env: dict | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in S.ENV_VARS}
    clean.update(SLM_HOME=str(home), **(env or {}))
    return subprocess.run([sys.executable, "-m", "slmkit.cli.main", *argv], env=clean,
                          capture_output=True, text=True, timeout=120)


def test_slm_config_json_shows_values_and_origins(home):
    path = write_config(home, "[serve]\nport = 9001\n")
    out = slm(home, "config", "--json", env={"SLM_CTX": "123", "SLM_API_KEY": "sekrit-value"})
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["config_file"] == str(path) and report["exists"] is True
    got = report["settings"]
    assert got["ctx"] == {**got["ctx"], "value": 123, "origin": "env:SLM_CTX"}
    assert got["port"]["value"] == 9001 and got["port"]["origin"] == f"file:{path}"
    assert got["port"]["key"] == "serve.port" and got["port"]["env"] == ["SLM_PORT"]
    assert got["queue"]["origin"] == "default"
    assert got["api_key"]["value"] == "<hidden>" and "sekrit-value" not in out.stdout


def test_slm_config_table_path_and_init(home):
    out = slm(home, "config", "path")
    assert out.stdout.strip() == str(home / "config.toml")
    assert slm(home, "config", "init").returncode == 0
    text = (home / "config.toml").read_text()
    assert "[serve]" in text and "#port = 8000" in text
    assert S.read_config(home / "config.toml") == {}  # all commented out: valid and empty
    again = slm(home, "config", "init")
    assert again.returncode == 2 and "--force" in again.stderr
    table = slm(home, "config", env={"SLM_PORT": "9005"})
    assert table.returncode == 0 and "serve.port" in table.stdout and "9005" in table.stdout


def test_slm_config_reports_a_bad_file(home):
    write_config(home, "[serve]\nprot = 8000\n")
    out = slm(home, "config")
    assert out.returncode == 1
    assert "unknown setting 'serve.prot'" in out.stderr and "serve.port" in out.stderr


# ----------------------------------------------------------------------------- strictness

def test_unknown_keys_name_the_key_and_the_valid_ones(home):
    write_config(home, "[serve]\nprot = 8000\n")
    with pytest.raises(SettingsError) as err:
        get_settings()
    assert "'serve.prot'" in err.value.message and "did you mean serve.port" in err.value.message
    assert "serve.host" in err.value.hint and "model.ctx" in err.value.hint
    write_config(home, "port = 8000\n")
    with pytest.raises(SettingsError, match="did you mean serve.port"):
        get_settings()
    write_config(home, "home = '/elsewhere'\n")
    with pytest.raises(SettingsError, match="cannot be set in the config file") as err:
        get_settings()
    assert "SLM_HOME" in err.value.hint


@pytest.mark.parametrize(("text", "words"), [
    ("[serve]\nport = '80'\n", ["serve.port", "whole number", "'80'"]),
    ("[serve]\nkeep_alive = true\n", ["serve.keep_alive", "a number"]),
    ("[model]\nskip_memory_check = 1\n", ["model.skip_memory_check", "true or false"]),
    ("[paths]\ndata_home = 3\n", ["paths.data_home", "path"]),
    ("[model]\nllama_log = 'some'\n", ["model.llama_log", "'all'"]),
    ("[serve\nport = 1\n", ["not valid TOML"]),
])
def test_wrong_types_in_the_file_are_refused(home, text, words):
    write_config(home, text)
    with pytest.raises(SettingsError) as err:
        get_settings()
    for word in words:
        assert word in err.value.message


def test_bad_environment_values_name_the_variable(home, monkeypatch):
    monkeypatch.setenv("SLM_PORT", "eighty")
    with pytest.raises(SettingsError, match="SLM_PORT='eighty' is not a whole number"):
        get_settings()
    monkeypatch.delenv("SLM_PORT")
    monkeypatch.setenv("SLM_SKIP_MEMORY_CHECK", "maybe")
    with pytest.raises(SettingsError, match="SLM_SKIP_MEMORY_CHECK"):
        get_settings()
    monkeypatch.setenv("SLM_SKIP_MEMORY_CHECK", "yes")
    assert get_settings().skip_memory_check is True
    monkeypatch.setenv("HF_HUB_OFFLINE", "maybe")  # another tool's flag: read as it reads it
    assert get_settings().hf_offline is False
    monkeypatch.setenv("SLM_LLAMA_LOG", "everything")
    with pytest.raises(SettingsError, match="SLM_LLAMA_LOG"):
        get_settings()


def test_setting_env_for_libraries(monkeypatch):
    monkeypatch.delenv("SLM_TEST_LIB_VAR", raising=False)
    with S.temporary_env(SLM_TEST_LIB_VAR="1"):
        assert S.child_env(X="2")["SLM_TEST_LIB_VAR"] == "1"
    assert "SLM_TEST_LIB_VAR" not in S.child_env()
    monkeypatch.setenv("SLM_TEST_LIB_VAR", "mine")
    S.export_env("SLM_TEST_LIB_VAR", "theirs")
    assert S.child_env()["SLM_TEST_LIB_VAR"] == "mine"


# ----------------------------------------------------------------------------- one place

ENV_CALLS = {"environ", "getenv", "putenv", "unsetenv", "environb", "getenvb"}


def env_uses(path: Path) -> list[str]:
    """``os.environ`` / ``os.getenv`` / ``from os import environ`` … in a module's code
    (string literals, such as a banner that shows the user code, do not count)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and node.attr in ENV_CALLS:
            found.append(f"{path.relative_to(SRC)}:{node.lineno}")
        elif isinstance(node, ast.ImportFrom) and node.module == "os" and \
                any(a.name in ENV_CALLS for a in node.names):
            found.append(f"{path.relative_to(SRC)}:{node.lineno}")
    return found


def test_no_environment_access_outside_settings():
    offenders = [hit for path in sorted(SRC.rglob("*.py")) if path.name != "settings.py"
                 or path.parent != SRC for hit in env_uses(path)]
    assert offenders == [], ("read or set environment variables through slmkit.settings "
                             f"(get_settings, export_env, temporary_env, child_env): {offenders}")
    assert env_uses(SRC / "settings.py")  # the check itself finds what it looks for


def test_docs_list_every_setting():
    docs = (SRC.parents[1] / "docs" / "settings.md").read_text(encoding="utf-8")
    missing = [name for name in S.ENV_VARS if f"`{name}`" not in docs]
    missing += [e.file_key for e in effective() if e.file_key and f"`{e.file_key}`" not in docs]
    assert missing == [], f"add these settings to docs/settings.md: {missing}"


@pytest.mark.integration
def test_slm_serve_takes_port_model_and_keys_from_the_settings_file(default_model_path, home):
    """No flags: the port, the default model and the key file all come from config.toml,
    the slot count from the environment."""
    import socket
    import time

    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    (home / "keys.txt").write_text("k-from-file\n")
    write_config(home, f"[serve]\nport = {port}\napi_key_file = 'keys.txt'\n"
                       f"[model]\ndefault = '{default_model_path}'\nctx = 512\nthreads = 1\n")
    env = {k: v for k, v in os.environ.items() if k not in S.ENV_VARS}
    env.update(SLM_HOME=str(home), SLM_PARALLEL="1", PYTHONUNBUFFERED="1")
    log = home / "serve.err"
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "slmkit.cli.main", "serve", "--no-pull"],
                                env=env, stdout=subprocess.DEVNULL, stderr=err)
    try:
        url, deadline, ready = f"http://127.0.0.1:{port}", time.monotonic() + 180, False
        while not ready and time.monotonic() < deadline and proc.poll() is None:
            try:
                ready = httpx.get(url + "/ready", timeout=2).status_code == 200
            except httpx.HTTPError:
                time.sleep(0.3)
        assert ready, log.read_text()[-3000:]
        assert httpx.get(url + "/v1/models", timeout=10).status_code == 401
        models = httpx.get(url + "/v1/models", timeout=10,
                           headers={"Authorization": "Bearer k-from-file"})
        assert models.status_code == 200
        ids = [m["id"] for m in models.json()["data"]]
        assert Path(default_model_path).name.removesuffix(".gguf") in ids  # model.default
    finally:
        proc.terminate()
        proc.wait(timeout=30)
