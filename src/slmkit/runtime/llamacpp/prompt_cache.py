"""The KV cache of a chat prompt's head, kept on disk for the next process (cold start).

A fresh ``slm run`` or ``slm serve`` spends a large part of its first answer evaluating the
start of the prompt that every start sends again: the chat template's system prompt
(about 20 tokens for Qwen, a quarter of a second of prefill on two cores). The llama.cpp
engine therefore writes the KV cells of the *head* of the first chat prompt it evaluates —
everything before the first user message's text: the template's opening, the system
message(s) and tool definitions — to one file per model (``CACHE_HOME/prompt-cache/``,
llama.cpp's sequence state format, readable by the owner only), and the next engine on the
same model file loads them into its first slot before any request. The scheduler's prefix
reuse (see :mod:`.scheduler`) then evaluates only the tokens after the head, exactly as for
a second request in the same process. No user message is ever written: the scheduler
evaluates the first prompt's head as its own step, saves it, then goes on with the rest.

Safe by construction: the file is keyed by the model file (real path, size, modification
time, inode), the llama.cpp library and the context's KV layout; llama.cpp itself checks
the layout and the token count when loading, and a file it refuses is ignored and replaced.
A head is written only when it is new (a start that reused the whole file writes nothing),
only once per engine, only without a LoRA adapter, and only up to :data:`MAX_TOKENS`
tokens and :data:`MAX_BYTES` bytes; the folder keeps the :data:`MAX_FILES` most recent
files. ``SLM_PROMPT_CACHE=0`` turns it off.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

MAX_TOKENS = 512  # a system prompt and tool definitions; longer heads are not written
MAX_BYTES = 16 << 20  # KV bytes written at most (a 7B model's 128 tokens)
MAX_FILES = 8  # files kept in the folder, the most recently written


class PromptCache:
    """Loads and saves one model's first-prompt KV file (see the module docstring)."""

    def __init__(self, model, path: Path) -> None:
        self.model, self.path = model, path
        self.loaded: list[int] = []  # the tokens the file put into the cache

    @classmethod
    def for_model(cls, model) -> PromptCache | None:
        """The cache of a :class:`~.model.LlamaModel`, or None when it is turned off
        (``prompt_cache`` setting) or the model cannot drop a loaded suffix (recurrent)."""
        from slmkit.settings import get_settings

        settings = get_settings()
        if not settings.prompt_cache or not model.can_rollback:
            return None
        try:
            key = _key(model.path, model.options.flash_attn)
        except OSError:
            return None
        return cls(model, Path(settings.cache_home) / "prompt-cache" / f"{key}.kv")

    def load(self, seq_id: int) -> list[int]:
        """Put the file's cells into the empty sequence ``seq_id``; the tokens they hold
        ([] when there is no usable file)."""
        try:
            if not self.path.is_file():
                return []
        except OSError:  # an unreadable cache folder: start without it
            return []
        self.loaded = self.model.load_sequence(seq_id, str(self.path), MAX_TOKENS) or []
        return list(self.loaded)

    def offer(self, seq_id: int, head: list[int]) -> bool:
        """After ``head`` was evaluated into ``seq_id`` (and nothing more): write it when
        it is new and small enough. True when a file was written."""
        if len(head) > MAX_TOKENS or self.loaded[:len(head)] == head:
            return False
        if self.model.sequence_bytes(seq_id) > MAX_BYTES:
            return False
        tmp = self.path.with_name(f"{self.path.stem}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not self.model.save_sequence(seq_id, str(tmp), head):
                return False
            os.chmod(tmp, 0o600)  # the system prompt may be private too: owner only
            os.replace(tmp, self.path)  # readers see the old file or the whole new one
        except OSError:
            return False
        finally:
            tmp.unlink(missing_ok=True)
        _prune(self.path.parent)
        return True


def head_length(prompt: list[int], messages, tokens_of) -> int:
    """How many leading tokens of a chat ``prompt`` come before its first user message's
    text (0 when there is none): the common start of the chat cut before that message,
    tokenized (``tokens_of(messages)``) with two different user texts in its place."""
    from slmkit.core.types import ChatMessage

    first = next((i for i, m in enumerate(messages) if m.role == "user"), None)
    if first is None:
        return 0
    a, b = (tokens_of([*messages[:first], ChatMessage("user", text)])
            for text in ("Alpha", "Omega"))
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n if prompt[:n] == a[:n] else 0


def _key(model_path: str, flash_attn: bool) -> str:
    """What a saved KV state depends on: the model file, the llama.cpp build, the layout."""
    from slmkit.runtime.llamacpp.bindings import bindings

    st = os.stat(model_path)
    lib = getattr(getattr(bindings(), "_lib", None), "_name", "") or ""
    lib_st = os.stat(lib) if lib and os.path.exists(lib) else None
    parts = [os.path.realpath(model_path), st.st_size, st.st_mtime_ns, st.st_ino,
             lib, lib_st and lib_st.st_size, lib_st and lib_st.st_mtime_ns, flash_attn]
    return hashlib.sha256("\0".join(map(str, parts)).encode()).hexdigest()[:32]


def _prune(folder: Path) -> None:
    """Keep the :data:`MAX_FILES` most recently written files."""
    try:
        files = sorted(folder.glob("*.kv"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
        for old in files[MAX_FILES:]:
            old.unlink(missing_ok=True)
    except OSError:
        pass
