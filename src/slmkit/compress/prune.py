"""Unstructured and N:M pruning of a float model's linear layers, calibrated on user text.

- ``magnitude``: score = |W|; unstructured sparsity is reached per layer (the globally
  smallest weights of each matrix), N:M per group of M consecutive inputs.
- ``wanda`` (Sun et al., 2023): score = |W_ij| · ||X_j||₂, where ||X_j||₂ is the L2 norm of
  input channel j over the calibration tokens (forward hooks on every linear layer); the
  lowest-scoring weights of each output row are zeroed (the paper's per-output comparison
  group). One-shot: the norms come from one pass of the dense model.

Only the decoder's linear layers (attention q/k/v/o, MLP gate/up/down) are pruned; the
embedding, the output head and the norms are kept dense, as in the Wanda paper.

What it buys (measured, see docs/prune-distill.md): zeros are stored like any other value
in a GGUF, and llama.cpp's CPU kernels multiply them all, so unstructured / 2:4 sparsity
gives **no speed-up and no size reduction** in llama.cpp. It pays only with sparse kernels
(e.g. 2:4 sparse tensor cores on GPUs) or as a step before compression; for a faster CPU
model use structured pruning (:mod:`slmkit.compress.structured`).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path

from slmkit.compress.train_io import derive_pair, run_with_hooks
from slmkit.core.options import opt

METHODS = ("wanda", "magnitude")
UNSTRUCTURED, STRUCTURED = "unstructured / N:M", "structured (a smaller model)"
LINEAR_RE = re.compile(r"\.layers\.\d+\.(self_attn|mlp)\.(q|k|v|o|gate|up|down)_proj$")


@dataclass(frozen=True)
class Sparsity:
    """Either a fraction of weights zeroed (``ratio``) or an N:M pattern (N zeros in every
    M consecutive input weights)."""

    ratio: float
    n: int = 0
    m: int = 0

    @property
    def structured(self) -> bool:
        return self.m > 0

    def __str__(self) -> str:
        return f"{self.n}:{self.m}" if self.m else f"{self.ratio:g}"


def parse_sparsity(text: str) -> Sparsity:
    """``0.5`` → 50% unstructured; ``2:4`` → 2 zeros in every 4 (50%)."""
    text = str(text).strip()
    if ":" in text:
        n_s, m_s = text.split(":", 1)
        n, m = int(n_s), int(m_s)
        if not 0 < n < m:
            raise ValueError(f"--sparsity {text}: N:M needs 0 < N < M (e.g. 2:4)")
        return Sparsity(n / m, n, m)
    ratio = float(text)
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"--sparsity {text}: give a fraction between 0 and 1, or N:M")
    return Sparsity(ratio)


def prunable_linears(model) -> dict:
    """name → nn.Linear for the decoder's attention and MLP projections."""
    import torch

    return {name: mod for name, mod in model.named_modules()
            if isinstance(mod, torch.nn.Linear) and LINEAR_RE.search(name)}


def input_norms(model, batches, *, batch_size: int = 4, progress=None) -> dict:
    """name → ||X_j||₂ per input channel [in_features] of every prunable linear, over all
    tokens of ``batches`` (LongTensor [n, seq])."""
    import torch

    linears = prunable_linears(model)
    sums = {name: torch.zeros(m.in_features, dtype=torch.float64) for name, m in linears.items()}

    def hook(name):
        def record(_module, inputs, _output):
            x = inputs[0].detach().reshape(-1, inputs[0].shape[-1]).double()  # [tokens, in]
            sums[name] += (x * x).sum(0)
        return record

    run_with_hooks(model, [(m, hook(n)) for n, m in linears.items()], batches,
                   batch_size=batch_size, progress=progress)
    return {name: s.sqrt().float() for name, s in sums.items()}


def prune_mask(score, sparsity: Sparsity, *, per_row: bool):
    """Boolean mask [out, in] of the weights to zero: the lowest ``score`` entries — per
    group of M inputs (N:M), per output row (``per_row``) or over the whole matrix."""
    import torch

    out_f, in_f = score.shape
    if sparsity.structured:
        if in_f % sparsity.m:
            raise ValueError(f"{sparsity} pattern needs in_features divisible by {sparsity.m}, "
                             f"got {in_f}")
        groups = score.reshape(out_f, in_f // sparsity.m, sparsity.m)
        idx = groups.argsort(dim=-1)[..., :sparsity.n]  # N lowest of each group
        mask = torch.zeros_like(groups, dtype=torch.bool).scatter_(-1, idx, True)
        return mask.reshape(out_f, in_f)
    if per_row:
        k = round(in_f * sparsity.ratio)
        idx = score.argsort(dim=1)[:, :k]
        return torch.zeros_like(score, dtype=torch.bool).scatter_(1, idx, True)
    k = round(score.numel() * sparsity.ratio)
    idx = score.flatten().argsort()[:k]
    return torch.zeros(score.numel(), dtype=torch.bool).scatter_(0, idx, True).reshape(
        score.shape)


def prune_model(model, sparsity: Sparsity, *, method: str = "wanda", batches=None,
                progress=None) -> dict:
    """Zero weights of ``model`` in place. ``batches`` (token ids [n, seq]) are required for
    wanda. Returns a report: per-layer and overall sparsity of the pruned matrices."""
    import torch

    if method not in METHODS:
        raise ValueError(f"--method must be one of {', '.join(METHODS)}, got {method!r}")
    norms = None
    if method == "wanda":
        if batches is None or len(batches) == 0:
            raise ValueError("wanda needs calibration data (--data)")
        norms = input_norms(model, batches, progress=progress)
    zeros = total = 0
    layers = {}
    with torch.no_grad():
        for name, lin in prunable_linears(model).items():
            w = lin.weight
            score = w.abs() if norms is None else w.abs() * norms[name].unsqueeze(0)
            mask = prune_mask(score, sparsity, per_row=method == "wanda")
            w[mask] = 0.0
            nz = int((w == 0).sum())
            layers[name] = round(nz / w.numel(), 6)
            zeros, total = zeros + nz, total + w.numel()
    return {"method": method, "sparsity": str(sparsity), "pruned_matrices": len(layers),
            "pruned_weights": total, "achieved_sparsity": round(zeros / max(total, 1), 6),
            "layers": layers}


def check_pattern(weight, n: int, m: int) -> bool:
    """True when every group of ``m`` consecutive inputs of every row has ≥ ``n`` zeros."""
    groups = weight.reshape(weight.shape[0], -1, m)
    return bool(((groups == 0).sum(-1) >= n).all())


def prune(src: str, out_dir: str, *, method: str = "wanda", sparsity: str = "0.5",
          data: str | None = None, n_samples: int = 32, seq_len: int = 256,
          gguf_type: str = "f16", progress=None, extra: dict | None = None) -> dict:
    """Prune the model at ``src`` (GGUF file or HF directory) and write ``out_dir/hf`` and
    ``out_dir/model-<type>.gguf``. Returns the report (paths, sparsity, parameters)."""
    from slmkit.compress import train_io

    sp = parse_sparsity(sparsity)
    if method == "wanda" and not data:
        raise ValueError("--method wanda needs --data FILE (calibration text)")
    fm = train_io.load_float(src, scratch_root=out_dir)
    try:
        batches, digest = None, None
        if data:
            text, digest = train_io.read_text(data)
            batches = train_io.token_batches(fm.tokenizer, text, seq_len=seq_len,
                                             n_samples=n_samples)
        report = prune_model(fm.model, sp, method=method, batches=batches, progress=progress)
        report["calibration"] = {"data": data, "sha256": digest, "seq_len": seq_len,
                                 "samples": 0 if batches is None else len(batches)}
        lineage = {"method": f"prune:{method}-{sp}", "source": str(src),
                   "data_sha256": digest, **(extra or {})}
        hf, gguf_path = train_io.export(fm.model, fm.source_dir, out_dir,
                                        gguf_type=gguf_type, extra=lineage)
    finally:
        fm.close()
    report.update({"hf_dir": str(hf), "gguf": str(gguf_path), "gguf_type": gguf_type,
                   "method_tag": lineage["method"]})
    return report


# ---- the whole verb: a stored model in, a pruned model registered (or written) out ----------

CPU_NOTE = ("note: unstructured/N:M zeros are stored and multiplied like any other weight in "
            "GGUF, so llama.cpp on CPU runs this model at the same speed and size as the "
            "dense one; use --structured depth|width for a faster model")


@dataclass(frozen=True)
class PruneSpec:
    """What to prune: ``structured`` (depth | width | heads) with ``ratio``, or
    unstructured / N:M ``method`` (wanda | magnitude) with ``sparsity`` ("0.5", "2:4")."""

    method: str | None = opt(None, "wanda: |W|·||X|| from calibration activations (default); "
                                   "magnitude: |W| only", choices=METHODS,
                             group=UNSTRUCTURED)
    sparsity: str | None = opt(None, "fraction zeroed, e.g. 0.5, or an N:M pattern such as 2:4",
                               metavar="S", group=UNSTRUCTURED)
    structured: str | None = opt(None, "depth: drop whole decoder layers; width: drop MLP "
                                       "channels; heads: drop attention KV groups (a KV head "
                                       "and its query heads)",
                                 choices=("depth", "width", "heads"), group=STRUCTURED)
    ratio: float | None = opt(None, "share removed: of the layers (depth), MLP channels "
                                    "(width) or KV groups (heads)", metavar="R", type=float,
                              group=STRUCTURED)
    multiple_of: int = opt(32, "width: keep a multiple of N channels (32: a quant block)",
                           group=STRUCTURED)

    def checked(self, data: str | None) -> PruneSpec:
        """This spec with defaults filled in; ``ValueError`` saying what is missing."""
        if self.structured:
            if self.ratio is None:
                raise ValueError("--structured needs --ratio R (e.g. 0.25)")
            if self.method or self.sparsity:
                raise ValueError("give either --structured/--ratio or --method/--sparsity, "
                                 "not both")
            if not data:
                raise ValueError("--structured needs --data FILE (calibration text)")
            return self
        if self.sparsity is None:
            raise ValueError("give --sparsity S (e.g. 0.5 or 2:4), or --structured "
                             "depth|width --ratio R")
        return PruneSpec(self.method or "wanda", self.sparsity)

    def method_tag(self) -> str:
        if self.structured:
            return f"prune:{self.structured}-{self.ratio:g}"
        return f"prune:{self.method}-{parse_sparsity(self.sparsity)}"

    def default_name(self, source: str) -> str:
        base = re.sub(r"[^a-z0-9._:+-]+", "-", source.lower()).strip("-") or "model"
        if self.structured:
            return f"{base}-{self.structured}{round(self.ratio * 100)}"
        sp = (self.sparsity.replace(":", "of") if ":" in self.sparsity
              else str(round(float(self.sparsity) * 100)))
        return f"{base}-{self.method}{sp}"


def prune_to_store(store, model: str, spec: PruneSpec, *, name: str | None = None,
                   data: str | None = None, n_samples: int = 32, seq_len: int = 256,
                   gguf_type: str = "f16", output: str | Path | None = None,
                   overwrite: bool = False, pull_missing: bool = True) -> dict:
    """Prune ``model`` (stored name, .gguf or HF directory) as ``spec`` says, calibrated on
    ``data``. Registers the GGUF as ``name`` (default from the spec) and the HF directory as
    ``name-hf`` with their lineage (:meth:`Store.derive`), or writes ``hf/`` and the GGUF
    into ``output`` instead. Returns the report (shapes or sparsity, paths, ``registered``).
    """
    from slmkit.compress import structured as st

    spec = spec.checked(data)
    ref = store.resolve(model, pull_missing=pull_missing)
    name = name or spec.default_name(Path(ref.name).name)
    kw = {"data": data, "n_samples": n_samples, "seq_len": seq_len, "gguf_type": gguf_type,
          "extra": {"parent": ref.name}}

    def run(out: Path) -> dict:
        if spec.structured:
            return st.prune(ref.path, str(out), mode=spec.structured, ratio=spec.ratio,
                            multiple_of=spec.multiple_of, **kw)
        report = prune(ref.path, str(out), method=spec.method, sparsity=spec.sparsity, **kw)
        report.pop("layers", None)
        return {**report, "cpu_speed_note": CPU_NOTE}

    if output is not None:
        out = Path(output).expanduser()
        if out.exists() and any(out.iterdir()) and not overwrite:
            raise FileExistsError(f"{out} exists and is not empty (pass --force)")
        return {**run(out), "source": ref.name, "registered": False}
    params = {**asdict(spec), "data": data, "n_samples": n_samples, "seq_len": seq_len,
              "gguf_type": gguf_type}
    with derive_pair(store, name, parent=ref.name, method=spec.method_tag(), params=params,
                     overwrite=overwrite) as pair:
        report = run(pair.dir)
        pair.method = report["method_tag"]
    return {**report, "name": name, "hf_name": f"{name}-hf", "gguf": pair.gguf.path,
            "hf_dir": pair.hf.path, "source": ref.name, "registered": True}
