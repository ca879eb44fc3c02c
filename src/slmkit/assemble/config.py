"""``ServerConfig``: everything `slm serve` takes, typed. Field names are the command line's
option names (``--cors-origin`` → ``cors_origin``) and each field carries its option's help
(``core.options.opt``), so the CLI declares its options from this class."""

from __future__ import annotations

from dataclasses import dataclass, field

from slmkit.core.options import opt
from slmkit.models.upstream import Upstream

# fields whose None means "the setting" (command line > environment > config.toml > default)
SETTINGS_FIELDS = ("host", "port", "ctx", "threads", "gpu_layers", "parallel", "queue",
                   "keep_alive", "request_timeout")
AUTO = "auto"  # the routed model's name
NET, MODELS = "network and security", "models and scheduling"
RAY, ROUTING = "Ray Serve (docs/scale.md)", "routing (model 'auto') and the privacy guard"


@dataclass
class ServerConfig:
    """What to serve and how. Each field's help is `slm serve --help`'s for its option."""

    models: list[str] = field(default_factory=list)  # loaded at start (default: the default)
    host: str | None = opt(None, "address to bind (default 127.0.0.1; any other needs an API "
                                 "key)", group=NET)
    port: int | None = opt(None, "default 8000", type=int, group=NET)
    api_key: list[str] | None = opt(None, "accept this key (repeatable; or set SLM_API_KEY)",
                                    metavar="KEY", action="append", group=NET)
    api_key_file: str | None = opt(None, "accept the keys in FILE, one a line", metavar="FILE",
                                   group=NET)
    cors_origin: list[str] | None = opt(None, "allow browser requests from ORIGIN (repeatable; "
                                              "'*' for any)", metavar="ORIGIN",
                                        action="append", group=NET)
    allowed_host: list[str] | None = opt(
        None, "also answer requests addressed to NAME (the Host header; repeatable; '*' for "
              "any). On loopback only localhost and loopback addresses are answered by "
              "default, against DNS rebinding", metavar="NAME", action="append", group=NET)
    max_body_bytes: int = opt(4 * 1024 * 1024, "largest request body accepted (default 4 MiB)",
                              group=NET)
    ctx: int | None = opt(None, "context window in tokens (default 4096)", type=int,
                          group=MODELS)
    threads: int | None = opt(None, "CPU threads (default: the physical cores other processes "
                                    "leave free, re-chosen while serving; see docs/threads.md)",
                              type=int, group=MODELS)
    parallel: int | None = opt(None, "sequences decoded together per llama.cpp model, each "
                                     "with its own --ctx (default 4); torch and onnx models "
                                     "answer one at a time", type=int, group=MODELS)
    gpu_layers: int | None = opt(None, "layers of each llama.cpp model offloaded to the GPU "
                                       "(-1: all; default 0, the CPU; SLM_GPU_LAYERS); needs a "
                                       "GPU build of llama-cpp-python (docs/scale.md)", type=int,
                                 group=MODELS)
    draft: str | None = opt(None, "speculative decoding with this draft model (a store name "
                                  "or GGUF with the same tokenizer as each llama.cpp model; "
                                  "docs/performance.md)", metavar="MODEL", group=MODELS)
    queue: int | None = opt(None, "requests that may wait for a slot; beyond that: 429 "
                                  "(default 64)", type=int, group=MODELS)
    keep_alive: float | None = opt(None, "unload a model loaded on demand after this long "
                                         "idle (default 300; -1 = never)", metavar="SECONDS",
                                   type=float, group=MODELS)
    memory_budget: float | None = opt(None, "memory for loaded models (default: what is "
                                            "available at start)", metavar="GB", type=float,
                                      group=MODELS)
    request_timeout: float | None = opt(None, "end a generation after this long (default "
                                              "600)", metavar="SECONDS", type=float,
                                        group=MODELS)
    no_pull: bool = opt(False, "fail instead of pulling a catalog model named here",
                        group=MODELS)
    adapter: list[str] | None = opt(
        None, "serve a LoRA adapter (GGUF, or a `slm finetune` output dir) as the model "
              "BASE+NAME on the first model's engine, switched per request without reloading "
              "the base; BASE+NAME=PATH picks the base (repeatable)", metavar="NAME=PATH",
        action="append", group=MODELS)
    rag: list[str] | None = opt(None, "check this document collection at start; chat with it "
                                      "as the model rag:COLLECTION (any collection works on "
                                      "demand; repeatable)", metavar="COLLECTION",
                                action="append", group=MODELS)
    rag_model: str | None = opt(None, "the model that answers for rag:COLLECTION (default: "
                                      "the first MODEL)", metavar="MODEL", group=MODELS)
    rag_home: str | None = opt(None, "collections from DIR/rag and embedders from "
                                     "DIR/embedders (an installed bundle slot) instead of "
                                     "$SLM_HOME", metavar="DIR", group=MODELS)
    ray: bool = opt(False, "serve through Ray Serve: each model a deployment of replicas",
                    group=RAY)
    replicas: int = opt(1, "replicas per model with --ray", type=int, group=RAY)
    autoscale: str | None = opt(None, "with --ray: scale each model between MIN and MAX "
                                      "replicas on queue depth", metavar="MIN:MAX", group=RAY)
    address: str | None = opt(None, "with --ray: an existing Ray cluster (auto, "
                                    "ray://HOST:10001); default: a local head on 127.0.0.1",
                              metavar="ADDRESS", group=RAY)
    route: str | None = opt(None, "serve model 'auto': LOCAL answers first, hard requests go "
                                  "to --upstream", metavar="LOCAL", group=ROUTING)
    upstream: Upstream | None = None  # the big model (models.upstream.Upstream)
    min_mean_logprob: float | None = opt(None, "escalate when the local answer's mean token "
                                               "logprob is below X (default -1.2)",
                                         metavar="X", type=float, group=ROUTING)
    judge_tokens: int | None = opt(None, "judge the local answer on its first N tokens "
                                         "(default 32)", type=int, group=ROUTING)
    difficulty: str | None = opt(None, "a prompt router from `slm route train`: escalate "
                                       "prompts it rates hard before the local model runs",
                                 metavar="FILE", group=ROUTING)
    max_difficulty: float | None = opt(None, "escalate when its score >= P (default: the "
                                             "router's calibrated threshold, else 0.5)",
                                       metavar="P", type=float, group=ROUTING)
    on_upstream_error: str = opt("local", "when the upstream fails: answer locally or return "
                                          "the error", choices=("local", "error"),
                                 group=ROUTING)
    allow_remote_tag: bool = opt(False, "let clients force an escalation with '#route:remote' "
                                        "in a prompt (off: any client could spend the "
                                        "upstream budget)", group=ROUTING)
    budget: str = opt("", "escalation limits, e.g. 'requests=500,tokens=200000,cost=5,"
                          "period=day'", metavar="SPEC", group=ROUTING)
    prices: str | None = opt(None, "price table {model: [in, out] USD per 1M}", metavar="JSON",
                             group=ROUTING)
    ledger: str | None = opt(None, "cost ledger (default: $SLM_HOME/route/ledger.sqlite)",
                             metavar="FILE", group=ROUTING)
    guard_policy: str = opt("", "guard actions per type, e.g. KR_RRN=block,PERSON=keep_local "
                                "(for escalations and /v1/guard/*)", metavar="SPEC",
                            group=ROUTING)
    sagemaker: bool = opt(False, "also answer SageMaker's GET /ping and POST /invocations (a "
                                 "chat completion with the first MODEL; see docs/aws.md)")
    log_level: str = opt("info", "info logs one JSON line per request",
                         choices=("debug", "info", "warning", "error"))
    verbose: bool = opt(False, "also show llama.cpp's log")

    def __post_init__(self) -> None:
        from slmkit.settings import apply_cli

        apply_cli(self, SETTINGS_FIELDS)
        for name in ("api_key", "cors_origin", "allowed_host", "adapter", "rag"):
            setattr(self, name, list(getattr(self, name) or ()))
        self.upstream = self.upstream or Upstream()

    def keys(self) -> list[str]:
        """The API keys accepted (``slmkit.serve.auth.collect_keys``)."""
        from slmkit.serve.auth import collect_keys

        return collect_keys(self.api_key, self.api_key_file)

    def check(self) -> None:
        """Fail (``ValueError``) before binding when the options do not fit together."""
        from slmkit.models.upstream import names_its_model

        if self.parallel < 1 or self.queue < 0:
            raise ValueError("--parallel must be >= 1 and --queue >= 0")
        up = self.upstream
        if self.route is None and any((up.url, up.model, self.difficulty)):
            raise ValueError("--upstream/--upstream-model/--difficulty need --route LOCAL")
        if self.route is not None and not (up.url and (up.model or names_its_model(up.url))):
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
