"""One module per model architecture, behind a lazy name → module map.

Each module defines ``SPEC``, an :class:`~slmkit.arch.base.ArchSpec`: its Hugging Face and
GGUF names, HF ↔ GGUF tensor names, rope and norm conventions, the projection groups that
calibration and rescaling fold scales into, the structured prunes llama.cpp can still load,
and its LoRA targets. Converters, calibration, pruning and LoRA look the spec up instead of
branching on the name; :func:`supported` is the one list of what slmkit handles.

Adding a family is one new module here plus its line in :data:`ARCHITECTURES`.
Importing this package (or a spec) imports nothing heavy: specs are plain data.
"""

from __future__ import annotations

import importlib

from slmkit.arch.base import ArchSpec, Group, UnsupportedModelError

__all__ = ["ARCHITECTURES", "ArchSpec", "Group", "UnsupportedModelError", "all_specs",
           "find_hf", "for_gguf", "for_hf", "get", "hf_model_types", "supported"]

# our name → module defining SPEC
ARCHITECTURES: dict[str, str] = {
    "gemma3": "slmkit.arch.gemma3",
    "llama": "slmkit.arch.llama",
    "mistral": "slmkit.arch.mistral",
    "qwen2": "slmkit.arch.qwen2",
    "qwen3": "slmkit.arch.qwen3",
}


def get(name: str) -> ArchSpec:
    """The spec called ``name`` (a key of :data:`ARCHITECTURES`)."""
    module = ARCHITECTURES.get(name)
    if module is None:
        raise UnsupportedModelError(f"unknown architecture {name!r} (supported: "
                                    f"{', '.join(supported())})")
    return importlib.import_module(module).SPEC


def supported() -> list[str]:
    """Every architecture slmkit handles, by our name."""
    return sorted(ARCHITECTURES)


def all_specs() -> list[ArchSpec]:
    return [get(name) for name in supported()]


def hf_model_types() -> list[str]:
    """Every Hugging Face ``model_type`` some spec claims, sorted."""
    return sorted(t for spec in all_specs() for t in spec.hf_model_types)


def find_hf(model_type: str = "", architectures=()) -> ArchSpec | None:
    """The spec of a Hugging Face config's ``model_type`` (or, failing that, one of its
    ``architectures`` class names); None when no spec claims it."""
    for spec in all_specs():
        if model_type in spec.hf_model_types:
            return spec
    for spec in all_specs():
        if any(a in spec.hf_architectures for a in architectures or ()):
            return spec
    return None


def for_hf(model_type: str = "", architectures=(), *, what: str = "") -> ArchSpec:
    """Like :func:`find_hf`, but raises ``UnsupportedModelError`` naming the supported
    model types (``what``, e.g. "to GGUF", completes "cannot convert model_type X …")."""
    spec = find_hf(model_type, architectures)
    if spec is None:
        raise UnsupportedModelError(f"cannot convert model_type {model_type!r}"
                                    f"{' ' + what if what else ''} (supported: "
                                    f"{', '.join(hf_model_types())})")
    return spec


def for_gguf(gguf_arch: str) -> ArchSpec:
    """The spec of a GGUF ``general.architecture``. Several families may write the same
    one (mistral writes ``llama``); the family of that name wins."""
    specs = [s for s in all_specs() if s.gguf_arch == gguf_arch]
    if not specs:
        raise UnsupportedModelError(f"no architecture here reads GGUF {gguf_arch!r} "
                                    f"(supported: {', '.join(supported())})")
    return next((s for s in specs if s.name == gguf_arch), specs[0])
