"""A thin, owned wrapper over llama.cpp's C API (through llama-cpp-python's ctypes bindings).

It owns the model, one context and a reusable batch, and exposes exactly what the engine
needs: tokenize, token pieces, decode a batch of (token, pos, seq, want_logits) rows,
read logits, and edit the KV memory. Everything stays in C except the loop that fills
the batch, so the Python tax per decode step is a few microseconds.
"""

from __future__ import annotations

import collections
import ctypes
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from slmkit.core.errors import InvalidModelFileError, SlmError
from slmkit.util.threads import default_threads, sample

if TYPE_CHECKING:  # numpy is imported by the calls that return arrays, not at start-up
    import numpy as np


def _lib():
    from slmkit.runtime.llamacpp.bindings import bindings

    return bindings()


_backend_ready = False
_log_state = {"verbose": False, "level": 0, "all": False}
_recent_log: collections.deque[str] = collections.deque(maxlen=40)
_left_to_exit: list[tuple] = []  # handles of models left for the process exit to free
GGML_WARN, GGML_ERROR, GGML_CONT = 3, 4, 5  # ggml_log_level (ggml.h)


def _on_log(level: int, text: bytes, _user_data) -> None:
    """llama.cpp's log: kept for error messages; warnings and errors printed with
    --verbose, everything with SLM_LLAMA_LOG=all."""
    if level != GGML_CONT:
        _log_state["level"] = level
    line = text.decode("utf-8", errors="replace")
    _recent_log.append(line)
    if _log_state["all"] or (_log_state["verbose"] and _log_state["level"] in (GGML_WARN, GGML_ERROR)):
        sys.stderr.write(line)


def _init_backend(verbose: bool) -> None:
    global _backend_ready, _log_callback
    from slmkit.settings import get_settings

    _log_state["verbose"] = verbose
    # SLM_LLAMA_LOG=all prints llama.cpp's whole (very long) log; --verbose prints warnings+.
    _log_state["all"] = get_settings().llama_log == "all"
    lib = _lib()
    if not _backend_ready:
        _log_callback = lib.llama_log_callback(_on_log)  # keep a reference: C holds it
        lib.llama_backend_init()
        _backend_ready = True
    # Set it on every load: importing llama_cpp's high-level API installs its own logger.
    lib.llama_log_set(_log_callback, ctypes.c_void_p(0))


def _recent_errors() -> str:
    lines = [ln.strip() for ln in _recent_log if "error" in ln.lower() or "fail" in ln.lower()]
    return "; ".join(lines[-3:])


def _gpu_layers(lib, n_gpu_layers: int) -> int:
    """``n_gpu_layers`` for llama.cpp (-1: every layer), refused on a build that cannot
    offload: llama.cpp would quietly run on the CPU, many times slower than asked for."""
    if n_gpu_layers == 0:
        return 0
    if not lib.llama_supports_gpu_offload():
        from slmkit.core.errors import UnsupportedOperationError

        raise UnsupportedOperationError(
            f"GPU offload asked for ({n_gpu_layers} layers) but this llama.cpp build has no "
            "GPU backend", hint="install llama-cpp-python built for the GPU (e.g. "
            "CMAKE_ARGS=-DGGML_CUDA=on pip install --force-reinstall --no-binary "
            f"llama-cpp-python llama-cpp-python=={_version()}), or set --gpu-layers "
            "(SLM_GPU_LAYERS) to 0 to run on the CPU")
    return 2**31 - 1 if n_gpu_layers < 0 else n_gpu_layers


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("llama-cpp-python")
    except PackageNotFoundError:
        return "VERSION"


@dataclass(frozen=True)
class ContextOptions:
    n_ctx: int = 4096
    n_batch: int = 512
    n_seq_max: int = 1  # parallel sequences; they share one unified KV cache of n_ctx cells
    n_threads: int = 0  # 0 = the free physical cores, revisited while decoding
    embeddings: bool = False
    flash_attn: bool = False


class LlamaModel:
    """One llama.cpp model plus one context. Not thread-safe: the engine serialises calls."""

    def __init__(self, path: str, options: ContextOptions = ContextOptions(), *,
                 n_gpu_layers: int = 0, use_mmap: bool = True, verbose: bool = False) -> None:
        self.path = path
        self._model = self._ctx = None
        self._batch = None
        self._adapters: dict[str, tuple[object, float]] = {}  # name -> (handle, scale)
        lib = _lib()
        _init_backend(verbose)
        mparams = lib.llama_model_default_params()
        mparams.n_gpu_layers = _gpu_layers(lib, n_gpu_layers)
        mparams.use_mmap = use_mmap
        if not os.path.isfile(path):
            raise InvalidModelFileError(f"no such model file: {path}")
        _recent_log.clear()
        self._load_started = None if options.n_threads else sample()  # see default_threads
        self._model = lib.llama_model_load_from_file(os.fsencode(path), mparams)
        if not self._model:
            reason = _recent_errors()
            raise InvalidModelFileError(
                f"llama.cpp could not load {path}" + (f": {reason}" if reason else ""),
                hint="check the file is a complete GGUF model (`slm verify NAME`, or pull it "
                     "again); --verbose shows llama.cpp's whole log")
        self.vocab = lib.llama_model_get_vocab(self._model)
        self.n_vocab = lib.llama_vocab_n_tokens(self.vocab)
        self.n_ctx_train = lib.llama_model_n_ctx_train(self._model)
        self._open_context(options)
        self._active_adapter: str | None = None
        self._pieces: dict[int, bytes] = {}

    # ---- lifecycle -------------------------------------------------------------------
    def _open_context(self, options: ContextOptions) -> None:
        lib = _lib()
        per_seq = options.n_ctx // options.n_seq_max if options.n_ctx > 0 else self.n_ctx_train
        n_ctx = min(per_seq, self.n_ctx_train) * options.n_seq_max  # never past the trained length
        threads = options.n_threads or default_threads(since=self._load_started)
        self._load_started = None  # a later context (an embedder) measures anew
        cparams = lib.llama_context_default_params()
        cparams.n_ctx = n_ctx
        cparams.n_batch = min(options.n_batch, n_ctx)
        cparams.n_ubatch = min(options.n_batch, n_ctx)
        cparams.n_seq_max = options.n_seq_max
        cparams.n_threads = threads
        cparams.n_threads_batch = threads
        cparams.embeddings = options.embeddings
        if hasattr(cparams, "kv_unified"):
            cparams.kv_unified = True  # any sequence may use any cell; prefixes can be shared
        cparams.no_perf = True
        if options.embeddings:
            cparams.pooling_type = lib.LLAMA_POOLING_TYPE_MEAN
        if hasattr(cparams, "flash_attn_type"):
            cparams.flash_attn_type = 1 if options.flash_attn else 0
        self._ctx = lib.llama_init_from_model(self._model, cparams)
        if not self._ctx:
            raise SlmError(f"llama.cpp could not create a context of {n_ctx} tokens for "
                           f"{self.path}", hint="try a smaller --ctx")
        self.options = options
        self.n_ctx = lib.llama_n_ctx(self._ctx)
        self.n_batch = cparams.n_batch
        self.n_threads = threads
        self.auto_threads = not options.n_threads
        self._mem = lib.llama_get_memory(self._ctx)
        self._batch = lib.llama_batch_init(self.n_batch, 0, options.n_seq_max)

    def close(self) -> None:
        lib = _lib()
        for handle, _ in self._adapters.values():
            lib.llama_adapter_lora_free(handle)
        self._adapters = {}
        if self._batch is not None:
            lib.llama_batch_free(self._batch)
            self._batch = None
        if self._ctx:
            lib.llama_free(self._ctx)
            self._ctx = None
        if self._model:
            lib.llama_model_free(self._model)
            self._model = None

    def leave_to_exit(self) -> None:
        """Drop the model and context without freeing them, for a process that exits
        next: the exit returns their memory at once, while freeing a 0.5B model's weights
        one buffer at a time costs about 50 ms (``slm run``'s cold start). Never call it in
        a process that goes on: the memory stays taken until it ends."""
        _left_to_exit.append((self._model, self._ctx, self._batch))
        self._model = self._ctx = self._batch = None
        self._adapters = {}

    def __del__(self) -> None:  # best effort; close() is the contract
        try:
            self.close()
        except Exception:
            pass

    # ---- metadata --------------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        buf = ctypes.create_string_buffer(16384)
        n = _lib().llama_model_meta_val_str(self._model, key.encode(), buf, len(buf))
        if n < 0:
            return None
        if n >= len(buf):
            buf = ctypes.create_string_buffer(n + 1)
            _lib().llama_model_meta_val_str(self._model, key.encode(), buf, len(buf))
        return buf.value.decode("utf-8", errors="replace")

    def chat_template(self) -> str | None:
        raw = _lib().llama_model_chat_template(self._model, None)
        return raw.decode("utf-8", errors="replace") if raw else None

    def describe(self) -> dict:
        lib = _lib()
        return {
            "architecture": self.meta("general.architecture") or "",
            "n_params": int(lib.llama_model_n_params(self._model)),
            "size_bytes": int(lib.llama_model_size(self._model)),
            "n_embd": int(lib.llama_model_n_embd(self._model)),
            "quantization": self._ftype_name(),
        }

    def _ftype_name(self) -> str:
        buf = ctypes.create_string_buffer(256)
        _lib().llama_model_desc(self._model, buf, len(buf))
        return ftype_name(buf.value.decode(errors="replace"))

    # ---- vocabulary ------------------------------------------------------------------
    @property
    def bos(self) -> int:
        return _lib().llama_vocab_bos(self.vocab)

    @property
    def eos(self) -> int:
        return _lib().llama_vocab_eos(self.vocab)

    @property
    def adds_bos(self) -> bool:
        return bool(_lib().llama_vocab_get_add_bos(self.vocab))

    def is_eog(self, token: int) -> bool:
        return bool(_lib().llama_vocab_is_eog(self.vocab, token))

    def tokenize(self, text: str, *, add_special: bool, parse_special: bool = True) -> list[int]:
        """Token ids of ``text``. Safe from any thread: callers' threads tokenize prompts
        while the scheduler's thread decodes, so the buffer is per call, never shared."""
        lib = _lib()
        data = text.encode("utf-8")
        cap = len(data) + 8
        buf = (lib.llama_token * cap)()
        n = lib.llama_tokenize(self.vocab, data, len(data), buf, cap, add_special, parse_special)
        if n < 0:  # buffer too small (cannot happen with cap >= bytes + specials)
            buf = (lib.llama_token * -n)()
            n = lib.llama_tokenize(self.vocab, data, len(data), buf, -n,
                                   add_special, parse_special)
        return list(buf[:n])

    def piece(self, token: int) -> bytes:
        """The bytes a token renders to (special tokens render as nothing)."""
        cached = self._pieces.get(token)
        if cached is not None:
            return cached
        buf = ctypes.create_string_buffer(64)
        n = _lib().llama_token_to_piece(self.vocab, token, buf, len(buf), 0, False)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = _lib().llama_token_to_piece(self.vocab, token, buf, len(buf), 0, False)
        out = buf.raw[:n]
        self._pieces[token] = out
        return out

    def token_text(self, token: int) -> str:
        """Text of one token with special tokens shown (for logprob listings)."""
        buf = ctypes.create_string_buffer(256)
        n = _lib().llama_token_to_piece(self.vocab, token, buf, len(buf), 0, True)
        return buf.raw[: max(n, 0)].decode("utf-8", errors="replace")

    # ---- decoding --------------------------------------------------------------------
    def set_threads(self, n: int) -> None:
        """Decode (and prefill) with ``n`` threads from the next decode on."""
        _lib().llama_set_n_threads(self._ctx, n, n)
        self.n_threads = n

    def decode(self, rows: list[tuple[int, int, int, bool]]) -> None:
        """Run one llama_decode over rows of (token, pos, seq_id, want_logits).

        ``len(rows)`` must be at most ``n_batch``. Logits of a row that asked for them are
        read afterwards with :meth:`logits` (or sampled) by that row's index in ``rows``.
        """
        batch = self._batch
        tok, pos, nseq, seq, want = batch.token, batch.pos, batch.n_seq_id, batch.seq_id, batch.logits
        for i, (t, p, s, w) in enumerate(rows):
            tok[i] = t
            pos[i] = p
            nseq[i] = 1
            seq[i][0] = s
            want[i] = w
        batch.n_tokens = len(rows)
        rc = _lib().llama_decode(self._ctx, batch)
        if rc != 0:
            raise SlmError(f"llama_decode failed (code {rc})",
                           hint="the context may be full; use a larger --ctx or fewer "
                                "parallel sequences" if rc == 1 else None)

    def logits(self, index: int) -> np.ndarray:
        """Logits of batch row ``index`` of the last decode (negative counts from the end),
        as a float32 view that the next decode overwrites (copy it to keep)."""
        import numpy as np

        ptr = _lib().llama_get_logits_ith(self._ctx, index)
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,))

    def embedding(self, seq_id: int) -> np.ndarray:
        import numpy as np

        ptr = _lib().llama_get_embeddings_seq(self._ctx, seq_id)
        n = _lib().llama_model_n_embd(self._model)
        return np.ctypeslib.as_array(ptr, shape=(n,)).copy()

    @property
    def ctx(self):
        return self._ctx

    # ---- LoRA adapters ---------------------------------------------------------------
    def load_adapter(self, name: str, path: str, scale: float = 1.0) -> None:
        """Load a llama.cpp LoRA adapter GGUF once, under ``name`` (not applied yet)."""
        lib = _lib()
        if name in self._adapters:
            raise ValueError(f"an adapter named {name!r} is already loaded")
        if not os.path.isfile(path):
            raise InvalidModelFileError(f"no such adapter file: {path}")
        _recent_log.clear()
        handle = lib.llama_adapter_lora_init(self._model, os.fsencode(path))
        if not handle:
            reason = _recent_errors()
            raise InvalidModelFileError(
                f"llama.cpp could not load the LoRA adapter {path}"
                + (f": {reason}" if reason else ""),
                hint="the adapter must be a LoRA GGUF made for this base model "
                     "(`slm merge BASE ADAPTER_DIR --adapter-gguf`)")
        self._adapters[name] = (handle, float(scale))

    @property
    def adapters(self) -> list[str]:
        return list(self._adapters)

    def use_adapter(self, name: str | None) -> None:
        """Make the next decodes run with adapter ``name`` (None: the base alone)."""
        if name == self._active_adapter:
            return
        lib = _lib()
        if name is None:
            rc = lib.llama_set_adapters_lora(self._ctx, None, 0, None)
        else:
            handle, scale = self._adapters[name]
            handles = (lib.llama_adapter_lora_p_ctypes * 1)(handle)
            scales = (ctypes.c_float * 1)(scale)
            rc = lib.llama_set_adapters_lora(self._ctx, handles, 1, scales)
        if rc != 0:
            raise SlmError(f"llama.cpp could not switch to adapter {name!r} (code {rc})")
        self._active_adapter = name

    # ---- KV memory -------------------------------------------------------------------
    def forget(self, seq_id: int, start: int = 0) -> bool:
        """Drop positions >= ``start`` of a sequence; False if the cache cannot do it partially."""
        return bool(_lib().llama_memory_seq_rm(self._mem, seq_id, start, -1))

    def share(self, src: int, dst: int, n_tokens: int) -> None:
        """Make positions [0, n_tokens) of ``src`` part of ``dst`` too (no copy in a unified cache)."""
        _lib().llama_memory_seq_cp(self._mem, src, dst, 0, n_tokens)

    def cached(self, seq_id: int) -> int:
        """How many positions of sequence ``seq_id`` the cache holds (0: none)."""
        return int(_lib().llama_memory_seq_pos_max(self._mem, seq_id)) + 1

    def clear(self) -> None:
        _lib().llama_memory_clear(self._mem, True)

    def save_sequence(self, seq_id: int, path: str, tokens: list[int]) -> int:
        """Write the KV cells of ``seq_id`` and the ``tokens`` they hold to ``path``
        (llama.cpp's sequence state file); the bytes written, 0 on failure."""
        ids = (ctypes.c_int32 * len(tokens))(*tokens)
        return int(_lib().llama_state_seq_save_file(self._ctx, os.fsencode(path), seq_id,
                                                    ids, len(tokens)))

    def load_sequence(self, seq_id: int, path: str, max_tokens: int) -> list[int] | None:
        """Load a file :meth:`save_sequence` wrote into ``seq_id`` (which must be empty);
        the tokens its cells hold, or None when llama.cpp refused it (another model or
        layout, more than ``max_tokens``, a damaged file): nothing is loaded then."""
        ids, count = (ctypes.c_int32 * max_tokens)(), ctypes.c_size_t(0)
        n = _lib().llama_state_seq_load_file(self._ctx, os.fsencode(path), seq_id, ids,
                                             max_tokens, ctypes.byref(count))
        if not n or not count.value or self.cached(seq_id) != count.value:
            self.forget(seq_id, 0)
            return None
        return list(ids[:count.value])

    def sequence_bytes(self, seq_id: int) -> int:
        """The size of the state :meth:`save_sequence` would write for ``seq_id``."""
        return int(_lib().llama_state_seq_get_size(self._ctx, seq_id))

    @property
    def can_rollback(self) -> bool:
        """Whether the last positions of a sequence can be dropped from the cache (not in
        recurrent or hybrid models, whose state has no per-position cells)."""
        lib = _lib()
        return not (lib.llama_model_is_recurrent(self._model)
                    or lib.llama_model_is_hybrid(self._model))


_SIZES = {"Small": "_S", "Medium": "_M", "Large": "_L"}


def ftype_name(desc: str) -> str:
    """The quantization name (``Q4_K_M``, as in GGUF file names and ``/api/tags``) from
    llama.cpp's model description ``"qwen2 1B Q4_K - Medium"``."""
    parts = desc.split(" ", 2)
    text = (parts[2] if len(parts) == 3 else parts[-1]).replace(" (guessed)", "")
    base, _, size = text.partition(" - ")
    return base.strip().replace(" ", "_").upper() + _SIZES.get(size.strip(), "")
