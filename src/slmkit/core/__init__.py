"""Plain types and Protocols shared by every part of slmkit. Standard library only."""

from slmkit.core.engine import Capabilities, Embedder, Engine, ModelInfo
from slmkit.core.errors import (
    ChecksumError,
    ContextOverflowError,
    InvalidModelFileError,
    ModelNotFoundError,
    ModelTooLargeError,
    QueueFullError,
    SlmError,
    SourceError,
)
from slmkit.core.types import (
    ChatMessage,
    Chunk,
    GenerateRequest,
    ModelRef,
    SamplingParams,
    TokenLogprob,
    Usage,
    collect,
)

__all__ = [
    "Capabilities", "ChatMessage", "ChecksumError", "Chunk", "ContextOverflowError",
    "Embedder", "Engine", "GenerateRequest", "InvalidModelFileError", "ModelInfo",
    "ModelNotFoundError", "ModelRef", "ModelTooLargeError", "QueueFullError", "SamplingParams", "SlmError",
    "SourceError", "TokenLogprob", "Usage", "collect",
]
