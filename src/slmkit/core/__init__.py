"""Plain types and Protocols shared by every part of slmkit. Standard library only."""

from slmkit.core.engine import Capabilities, ChunkStream, Embedder, Engine, ModelInfo, require
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
    RouteDecision,
    SamplingParams,
    TokenLogprob,
    Usage,
    collect,
)
from slmkit.core.wrap import EngineWrapper

__all__ = [
    "Capabilities", "ChatMessage", "ChecksumError", "Chunk", "ChunkStream",
    "ContextOverflowError", "Embedder", "Engine", "EngineWrapper", "GenerateRequest",
    "InvalidModelFileError", "ModelInfo", "ModelNotFoundError", "ModelRef", "ModelTooLargeError",
    "QueueFullError", "RouteDecision", "SamplingParams", "SlmError", "SourceError",
    "TokenLogprob", "Usage", "collect", "require",
]
