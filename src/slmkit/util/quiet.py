"""Known third-party noise, silenced narrowly: named messages of named loggers, one named
warning. Every verb that loads torch printed them (issue 14):

- bitsandbytes, on import, on CPUs with AVX-512 BF16: "Failed to load CPU gemm_4bit_forward
  from kernels-community: ... trust_remote_code ..." (an optional kernel download we never
  want; the plain CPU kernel is used);
- transformers, when peft asks a model ``is_gradient_checkpointing``: a FutureWarning
  about its rename.

Anything else those libraries log still shows.
"""

from __future__ import annotations

import logging
import warnings

LOG_NOISE: dict[str, tuple[str, ...]] = {
    "bitsandbytes.backends.cpu.ops": ("Failed to load CPU gemm_4bit_forward",),
}
WARNING_NOISE: tuple[tuple[type[Warning], str], ...] = (
    (FutureWarning, r"`is_gradient_checkpointing` is deprecated"),
)


class _DropMessages(logging.Filter):
    def __init__(self, prefixes: tuple[str, ...]) -> None:
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefixes)


_installed = False


def quiet_known_noise() -> None:
    """Install the filters (idempotent; imports nothing heavy)."""
    global _installed
    if _installed:
        return
    _installed = True
    for name, prefixes in LOG_NOISE.items():
        logging.getLogger(name).addFilter(_DropMessages(prefixes))
    for category, message in WARNING_NOISE:
        warnings.filterwarnings("ignore", message=message, category=category)
