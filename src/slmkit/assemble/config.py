"""``ServerConfig``: everything `slm serve` takes, typed. Field names are the command line's
option names (``--cors-origin`` → ``cors_origin``), so the CLI builds one from its parsed
arguments and a Python user from keywords."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

# fields whose None means "the setting" (command line > environment > config.toml > default)
SETTINGS_FIELDS = ("host", "port", "ctx", "threads", "parallel", "queue", "keep_alive",
                   "request_timeout")
AUTO = "auto"  # the routed model's name


@dataclass
class ServerConfig:
    """What to serve and how; see `slm serve --help` for each field's meaning."""

    models: list[str] = field(default_factory=list)  # loaded at start (default: the default)
    # network and security
    host: str | None = None
    port: int | None = None
    api_key: list[str] = field(default_factory=list)
    api_key_file: str | None = None
    cors_origin: list[str] = field(default_factory=list)
    allowed_host: list[str] = field(default_factory=list)
    max_body_bytes: int = 4 * 1024 * 1024
    # models and scheduling
    ctx: int | None = None
    threads: int | None = None
    parallel: int | None = None
    queue: int | None = None
    keep_alive: float | None = None  # seconds; -1: never unload
    memory_budget: float | None = None  # GB (<= 0: no limit; None: what is available)
    request_timeout: float | None = None
    no_pull: bool = False
    adapter: list[str] = field(default_factory=list)  # NAME=PATH or BASE+NAME=PATH
    rag: list[str] = field(default_factory=list)  # collections checked at start
    rag_model: str | None = None
    # Ray Serve
    ray: bool = False
    replicas: int = 1
    autoscale: str | None = None  # MIN:MAX
    address: str | None = None
    # routing (the model "auto") and the guard
    route: str | None = None  # the local model
    upstream: str | None = None
    upstream_model: str | None = None
    region: str | None = None
    upstream_key_env: str = "SLM_UPSTREAM_KEY"
    upstream_key_file: str | None = None
    upstream_ctx: int = 0
    upstream_timeout: float = 60.0
    min_mean_logprob: float | None = None
    judge_tokens: int | None = None
    difficulty: str | None = None
    max_difficulty: float | None = None
    on_upstream_error: str = "local"
    allow_remote_tag: bool = False
    budget: str = ""
    prices: str | None = None
    ledger: str | None = None
    guard_policy: str = ""
    # the rest
    sagemaker: bool = False
    log_level: str = "info"
    verbose: bool = False

    def __post_init__(self) -> None:
        from slmkit.settings import apply_cli

        apply_cli(self, SETTINGS_FIELDS)

    @classmethod
    def from_namespace(cls, ns: Any) -> ServerConfig:
        """From `slm serve`'s parsed arguments (an ``argparse.Namespace``)."""
        return cls(**{f.name: getattr(ns, f.name) for f in dataclasses.fields(cls)})

    def keys(self) -> list[str]:
        """The API keys accepted (``slmkit.serve.auth.collect_keys``)."""
        from slmkit.serve.auth import collect_keys

        return collect_keys(self.api_key, self.api_key_file)

    def check(self) -> None:
        """Fail (``ValueError``) before binding when the options do not fit together."""
        from slmkit.models.upstream import names_its_model

        if self.parallel < 1 or self.queue < 0:
            raise ValueError("--parallel must be >= 1 and --queue >= 0")
        if self.route is None and any((self.upstream, self.upstream_model, self.difficulty)):
            raise ValueError("--upstream/--upstream-model/--difficulty need --route LOCAL")
        if self.route is not None and not (self.upstream and (
                self.upstream_model or names_its_model(self.upstream))):
            raise ValueError("--route needs --upstream URL and --upstream-model NAME "
                             "(or --upstream bedrock:MODEL_ID)")
        if self.route == AUTO:
            raise ValueError("--route names the local model; 'auto' is the routed model itself")

    def memory_bytes(self) -> int | None:
        """The memory budget in bytes (None: no limit), else what is available now."""
        if self.memory_budget is not None:
            return int(self.memory_budget * 1024**3) if self.memory_budget > 0 else None
        from slmkit.models.hardware import probe

        return probe().available_ram
