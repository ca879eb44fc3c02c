"""The real default model converted once per machine (GGUF → HF → GGUF F32 → Q8_0), kept in
the shared test home next to the pulled model, keyed by the source's digest."""

from __future__ import annotations

import os
from pathlib import Path


def shared_test_home() -> Path:
    return Path(os.environ.get("SLM_TEST_HOME", Path.home() / ".cache/slmkit/test-home"))


def converted(default_model_path: str, sha256: str | None) -> dict[str, Path]:
    """{"hf": dir, "f32": gguf, "q8_0": gguf} for the default model (made on first use)."""
    from filelock import FileLock

    from slmkit.convert import gguf_to_hf, hf_to_gguf
    from slmkit.convert.to_gguf import quantize

    key = (sha256 or Path(default_model_path).name)[:16]
    root = shared_test_home() / "converted" / key
    root.mkdir(parents=True, exist_ok=True)
    out = {"hf": root / "hf", "f32": root / "f32.gguf", "q8_0": root / "q8_0.gguf"}
    with FileLock(str(root / ".lock")):
        if not (out["hf"] / "model.safetensors").is_file():
            gguf_to_hf(default_model_path, out["hf"], overwrite=True)
        if not out["f32"].is_file():
            hf_to_gguf(out["hf"], out["f32"].with_suffix(".tmp"), overwrite=True).rename(
                out["f32"])
        if not out["q8_0"].is_file():
            quantize(out["f32"], out["q8_0"].with_suffix(".tmp"), 7).rename(out["q8_0"])
    return out
