"""Which LoRA adapters a server offers: ``BASE+NAME`` model names → (base, adapter GGUF).

``slm serve BASE --adapter NAME=PATH`` (repeatable) loads each adapter GGUF into BASE's
llama.cpp engine once; a request for the model ``BASE+NAME`` runs on that same engine
with the adapter applied (``LlamaCppEngine.with_adapter``), so the base is never
reloaded. ``PATH`` is an adapter GGUF or the ``--output`` directory of `slm finetune`
(its ``adapter.gguf``). ``BASE+NAME=PATH`` names the base explicitly when several models
are served; a bare ``NAME=PATH`` belongs to the first one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from slmkit.core.errors import SlmError

SEPARATOR = "+"


@dataclass(frozen=True)
class AdapterSpec:
    base: str | None  # None: the first model served
    name: str
    path: str

    def model_name(self, base: str) -> str:
        return f"{base}{SEPARATOR}{self.name}"


def parse_adapter_arg(text: str) -> AdapterSpec:
    """``NAME=PATH`` or ``BASE+NAME=PATH`` → :class:`AdapterSpec` (the path checked)."""
    head, sep, path = text.partition("=")
    if not sep or not head or not path:
        raise ValueError(f"--adapter takes NAME=PATH or BASE+NAME=PATH, got {text!r}")
    base, _, name = head.rpartition(SEPARATOR)
    if not name or any(c in name for c in "/\\ "):
        raise ValueError(f"invalid adapter name {name!r} in --adapter {text!r}")
    return AdapterSpec(base or None, name, str(adapter_file(path)))


def adapter_file(path: str | Path) -> Path:
    """The adapter GGUF for ``path`` (a file, or a fine-tune output directory)."""
    p = Path(path).expanduser()
    if p.is_dir():
        if (p / "adapter.gguf").is_file():
            return p / "adapter.gguf"
        raise SlmError(f"{p} has no adapter.gguf",
                       hint=f"export it: slm merge BASE {p} --adapter-gguf {p}/adapter.gguf")
    if not p.is_file():
        raise SlmError(f"no such adapter file or directory: {p}")
    return p


class AdapterTable:
    """The adapters of a server, by base model and by served name."""

    def __init__(self, specs: list[AdapterSpec], default_base: str | None) -> None:
        self._by_base: dict[str, dict[str, str]] = {}
        self._views: dict[str, tuple[str, str]] = {}
        for s in specs:
            base = s.base or default_base
            if base is None:
                raise ValueError(f"adapter {s.name!r}: no base model to attach it to")
            if s.name in self._by_base.get(base, {}):
                raise ValueError(f"adapter {s.name!r} is given twice for {base}")
            self._by_base.setdefault(base, {})[s.name] = s.path
            self._views[s.model_name(base)] = (base, s.name)

    def for_base(self, base: str) -> dict[str, str]:
        """{adapter name: GGUF path} to load into ``base``'s engine."""
        return dict(self._by_base.get(base, {}))

    def view(self, model: str) -> tuple[str, str] | None:
        """(base, adapter) when ``model`` is a served ``BASE+NAME``, else None."""
        return self._views.get(model)

    def names(self) -> list[tuple[str, str]]:
        """(served name, base) of every adapter model."""
        return [(full, base) for full, (base, _) in self._views.items()]
