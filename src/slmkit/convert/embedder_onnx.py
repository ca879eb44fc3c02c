"""A sentence-transformers directory (BERT-style encoder + mean pooling + normalize) → an
ONNX Runtime embedder directory, fp32 or with int8 weights.

The encoder is exported with ``torch.onnx.export`` (inputs ``input_ids``,
``attention_mask``, ``token_type_ids``, dynamic batch and length; output the last hidden
state); pooling and normalization stay in numpy (:mod:`slmkit.runtime.sentence_onnx`),
so one graph serves every batch shape. ``precision="int8"`` then quantizes every MatMul's
weights to int8 per output channel (``onnxruntime.quantization.quantize_dynamic``;
activations are quantized on the fly), a quarter of the size and about 3× the speed on
a 2-core CPU.

Whoever registers the result checks it against the source model first (the exported
graph must embed :data:`PROBES` with cosine ≥ :data:`MIN_COSINE` to sentence-transformers'
own vectors; ``slmkit.rag.embedders`` does), so a broken export never reaches a collection.

The output directory holds ``model.onnx``, ``tokenizer.json`` and :data:`SIDECAR`
(dimension, input limit, pooling, precision, the source's digest).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from slmkit.core.errors import InvalidModelFileError

PRECISIONS = ("int8", "fp32")
SIDECAR = "slmkit-embedder.json"
MIN_COSINE = {"fp32": 0.9999, "int8": 0.97}
PROBES = ("How do I reset the controller after ERR-4012?",
          "The hydraulic pump overheats after an hour of load.",
          "Paris is the capital and largest city of France.",
          "def reverse(s): return s[::-1]")


def _read_config(src: Path) -> dict:
    """Pooling and limits from the sentence-transformers files; refuses what the ONNX
    embedder cannot reproduce (pooling other than mean, no Normalize module)."""
    try:
        modules = json.loads((src / "modules.json").read_text())
        pooling = json.loads((src / "1_Pooling" / "config.json").read_text())
        st_cfg = json.loads((src / "sentence_bert_config.json").read_text())
    except (OSError, ValueError) as err:
        raise InvalidModelFileError(f"{src} is not a sentence-transformers directory: {err}",
                                    hint="pass the model directory of a sentence embedder "
                                         "(modules.json, 1_Pooling/, tokenizer.json)") from err
    kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
    if kinds[:2] != ["Transformer", "Pooling"] or not pooling.get("pooling_mode_mean_tokens"):
        raise InvalidModelFileError(f"{src}: only Transformer → mean Pooling (→ Normalize) "
                                    f"sentence models export to ONNX, found {kinds}")
    return {"dimension": int(pooling["word_embedding_dimension"]),
            "max_tokens": int(st_cfg.get("max_seq_length") or 512),
            "pooling": "mean", "normalize": "Normalize" in kinds}


def sentence_to_onnx(src: str | Path, out_dir: str | Path, *, precision: str = "int8",
                     source_digest: str | None = None) -> Path:
    """Export the sentence-transformers model ``src`` to ``out_dir`` (created; must not
    hold a model already) and return it. Needs torch and transformers (the ``eval`` extra)
    and onnxruntime (the ``rag`` extra)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    src, out = Path(src), Path(out_dir)
    cfg = _read_config(src)
    out.mkdir(parents=True, exist_ok=True)
    if (out / "model.onnx").exists():
        raise FileExistsError(f"{out} already holds model.onnx")
    fp32 = out / ("model.onnx" if precision == "fp32" else "fp32.onnx")
    _export(src, fp32)
    if precision == "int8":
        _quantize(fp32, out / "model.onnx")
        fp32.unlink()
    shutil.copy2(src / "tokenizer.json", out / "tokenizer.json")
    meta = dict(cfg, precision=precision, source=src.name, source_digest=source_digest,
                inputs=["input_ids", "attention_mask", "token_type_ids"])
    (out / SIDECAR).write_text(json.dumps(meta, indent=2) + "\n")
    return out


def _export(src: Path, path: Path) -> None:
    import warnings

    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(src), local_files_only=True).eval()

    class _Encoder(torch.nn.Module):
        def __init__(self, inner) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    ids = torch.ones(2, 16, dtype=torch.long)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(_Encoder(model), (ids, torch.ones_like(ids), torch.zeros_like(ids)),
                          str(path), input_names=names, output_names=["last_hidden_state"],
                          dynamic_axes=axes, opset_version=17, dynamo=False)


def _quantize(src: Path, dst: Path) -> None:
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # its "consider pre-processing" notice
    try:
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True)
    finally:
        root.setLevel(level)
