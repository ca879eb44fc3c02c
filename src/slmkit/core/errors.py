"""Errors that say what went wrong and what to do about it.

Every error carries a ``hint`` (the next step for the user) so the CLI and the server can
show it without knowing the error type. ``code`` is a stable machine-readable name.
"""

from __future__ import annotations


class SlmError(Exception):
    """Base class of every error slmkit raises on purpose."""

    code = "slm_error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message

    def to_dict(self) -> dict[str, str | None]:
        return {"error": self.code, "message": self.message, "hint": self.hint}


class ModelNotFoundError(SlmError):
    """A model name that is neither in the store, nor the catalog, nor a file."""

    code = "model_not_found"

    def __init__(self, name: str, *, suggestions: list[str] | None = None,
                 hint: str | None = None) -> None:
        self.name = name
        self.suggestions = list(suggestions or [])
        message = f"model {name!r} not found"
        if self.suggestions:
            message += f"; did you mean: {', '.join(self.suggestions)}?"
        super().__init__(message, hint=hint or f"run `slm pull {name}` or see `slm catalog`")


class ChecksumError(SlmError):
    """A file whose sha256 does not match the pinned or recorded digest."""

    code = "checksum_mismatch"

    def __init__(self, path: str, expected: str, actual: str, *, hint: str | None = None) -> None:
        self.path, self.expected, self.actual = path, expected, actual
        super().__init__(
            f"checksum mismatch for {path}: expected sha256 {expected}, got {actual}",
            hint=hint,
        )


class InvalidModelFileError(SlmError):
    """A file that is not a readable model (bad magic, truncated, unsupported version)."""

    code = "invalid_model_file"


class SourceError(SlmError):
    """A model source that could not be parsed or fetched (bad spec, no network, pip error)."""

    code = "source_error"


class ContextOverflowError(SlmError):
    """A prompt that does not fit the model's context window."""

    code = "context_overflow"

    def __init__(self, n_prompt: int, n_ctx: int, *, max_tokens: int = 0) -> None:
        self.n_prompt, self.n_ctx, self.max_tokens = n_prompt, n_ctx, max_tokens
        super().__init__(
            f"prompt is {n_prompt} tokens but the context window is {n_ctx} tokens",
            hint="shorten the prompt, load the model with a larger --ctx, "
                 "or pass --truncate to keep the end of the prompt",
        )


class ModelTooLargeError(SlmError):
    """A model whose estimated memory exceeds what this machine has available."""

    code = "model_too_large"


class EngineClosedError(SlmError):
    """A call on an engine after close()."""

    code = "engine_closed"


class QueueFullError(SlmError):
    """The engine's waiting queue is full; retry after ``retry_after`` seconds (HTTP 429)."""

    code = "queue_full"

    def __init__(self, depth: int, *, retry_after: float = 1.0) -> None:
        self.depth, self.retry_after = depth, retry_after
        super().__init__(f"the request queue is full ({depth} waiting)",
                         hint=f"retry after {retry_after:g} s, or start the server with more "
                              "--parallel slots / a longer --queue")


class UnsupportedOperationError(SlmError, NotImplementedError):
    """An operation this engine or model cannot do (e.g. embeddings from a remote chat
    model). Also a ``NotImplementedError``, as the Engine contract states."""

    code = "unsupported"
