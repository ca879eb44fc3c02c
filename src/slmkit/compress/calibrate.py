"""Activation-aware calibration (AWQ-style scales, folded) and an importance matrix.

On calibration text the float model runs once with hooks on every ``nn.Linear``; per input
channel we keep the mean |x| and mean x², and a fixed random sample of input rows. Then,
per group of linears that share one input (q/k/v after the attention norm, gate/up after
the MLP norm, down after up), a per-channel scale ``s = a^α`` (a = mean |x|, α on a grid in
[0, 1], normalised so that √(max·min) = 1) is searched to minimise

    Σ_linears ‖ X Wᵀ − (X / s) · Q(W · s)ᵀ ‖²

with ``Q`` the target type's block quantization simulated in torch (:mod:`.blocks`). α = 0
(no scaling) is on the grid, so the chosen scale never does worse on the sample. The scale
is then folded: weight columns × s, and the preceding RMSNorm weight (or the preceding
linear's rows and bias) ÷ s — the float model computes the same function (exactly up to
float rounding), only the quantizer sees channels it can represent better. v→o is folded
only when v's outputs map one to one onto o's inputs (no grouped-query sharing).

The importance matrix (llama.cpp's: mean x² per input column of every weight, keyed by
GGUF tensor name) is computed from the same statistics, divided by s² where a scale was
folded, and handed to llama.cpp's quantizer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from slmkit.compress.blocks import fake_quant, format_for
from slmkit.core.errors import SlmError

ALPHAS = tuple(i / 10 for i in range(11))


class CalibrationError(SlmError):
    code = "calibration_error"


@dataclass
class ChannelStats:
    abs_mean: object   # torch [in]: mean |x| per input channel
    sq_mean: object    # torch [in]: mean x² per input channel
    sample: object     # torch [n_sample, in] or None
    n: int = 0


@dataclass
class Calibration:
    """What a calibration did: chosen α per group, sample error before/after, imatrix."""

    gguf_type: str
    alphas: dict[str, float] = field(default_factory=dict)
    error_plain: dict[str, float] = field(default_factory=dict)
    error_scaled: dict[str, float] = field(default_factory=dict)
    imatrix: dict[str, object] = field(default_factory=dict)  # GGUF name → np.float32 [in]

    def summary(self) -> dict:
        plain = sum(self.error_plain.values())
        scaled = sum(self.error_scaled.values())
        alphas = list(self.alphas.values())
        return {"type": self.gguf_type, "groups": len(self.alphas),
                "alpha_mean": round(sum(alphas) / len(alphas), 3) if alphas else None,
                "sample_error_plain": plain, "sample_error_scaled": scaled,
                "sample_error_ratio": scaled / plain if plain else None,
                "imatrix_tensors": len(self.imatrix)}


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def calibration_ids(tokenizer, text: str, *, n_tokens: int = 4096, seq: int = 512):
    """The first ``n_tokens`` tokens of ``text`` as [n_seq, seq] (at least one sequence)."""
    import torch

    ids = tokenizer(text[: n_tokens * 12], add_special_tokens=False)["input_ids"]
    seq = min(seq, len(ids))
    n_seq = max(1, min(len(ids), n_tokens) // seq) if seq else 0
    if n_seq == 0 or seq < 8:
        raise CalibrationError(f"calibration text has {len(ids)} tokens: too few",
                               hint="give at least a few hundred tokens of text")
    return torch.tensor(ids[: n_seq * seq], dtype=torch.long).reshape(n_seq, seq)


def collect(model, ids, *, n_sample: int = 512, seed: int = 0, progress=None
            ) -> dict[str, ChannelStats]:
    """Run ``model`` over ``ids`` [n_seq, seq]; per linear module name its input statistics
    (sampled rows only inside the decoder layers)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    n_seq, seq = ids.shape
    per_seq = max(1, n_sample // n_seq)
    picks = [torch.randperm(seq, generator=gen)[:per_seq] for _ in range(n_seq)]
    stats: dict[str, ChannelStats] = {}
    current = {"i": 0}

    def hook(name: str, keep: bool):
        def fn(module, inputs):
            x = inputs[0].detach().reshape(-1, inputs[0].shape[-1]).float()  # [seq, in]
            st = stats.get(name)
            if st is None:
                z = torch.zeros(x.shape[-1])
                st = stats[name] = ChannelStats(z.clone(), z.clone(), [] if keep else None)
            st.abs_mean += x.abs().sum(0)
            st.sq_mean += (x * x).sum(0)
            st.n += x.shape[0]
            if keep:
                st.sample.append(x[picks[current["i"]]])
        return fn

    handles = [m.register_forward_pre_hook(hook(n, ".layers." in f".{n}"))
               for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)]
    try:
        with torch.no_grad():
            for i in range(n_seq):
                current["i"] = i
                model(input_ids=ids[i:i + 1])
                if progress:
                    progress("calibration pass", i + 1, n_seq)
    finally:
        for h in handles:
            h.remove()
    for st in stats.values():
        st.abs_mean /= st.n
        st.sq_mean /= st.n
        if st.sample is not None:
            st.sample = torch.cat(st.sample)
    return stats


@dataclass
class Group:
    name: str          # e.g. "model.layers.3.attn_in"
    prev: object       # RMSNorm or Linear whose output feeds the linears
    prev_kind: str     # "norm" or "linear"
    linears: list      # [(module name, nn.Linear)]


def groups(model) -> list[Group]:
    """The scale groups of the model's decoder (its architecture's
    :attr:`~slmkit.arch.ArchSpec.scale_groups`), in folding order. A linear-fed group is
    left out where the producer's outputs do not map one to one onto the consumers' inputs
    (grouped-query v → o)."""
    spec = _spec(model)
    out = []
    for i, layer in enumerate(model.get_submodule(spec.decoder_layers)):
        p = f"{spec.decoder_layers}.{i}"
        for g in spec.scale_groups:
            prev = layer.get_submodule(g.prev)
            linears = [(f"{p}.{k}", layer.get_submodule(k)) for k in g.linears]
            if g.prev_kind == "linear" and prev.out_features != linears[0][1].in_features:
                continue
            out.append(Group(f"{p}.{g.name}", prev, g.prev_kind, linears))
    return out


def _spec(model):
    from slmkit import arch

    model_type = model.config.model_type
    spec = arch.find_hf(model_type)
    if spec is None or not spec.can_rescale:
        able = [t for s in arch.all_specs() if s.can_rescale for t in s.hf_model_types]
        raise CalibrationError(f"activation-aware calibration supports {', '.join(able)}"
                               f" models, not {model_type!r}",
                               hint="quantize without --calibrate")
    return spec


def group_error(x, weights, scale, fmt_of, exact=None) -> float:
    """Σ ‖x Wᵀ − (x/s) Q(W·s)ᵀ‖² / rows over the group's weights (s = None: no scale);
    ``exact`` holds the precomputed x Wᵀ per weight."""
    total = 0.0
    for i, w in enumerate(weights):
        ref = exact[i] if exact is not None else x @ w.T
        if scale is None:
            approx = x @ fake_quant(w, fmt_of(w)).T
        else:
            approx = (x / scale) @ fake_quant(w * scale, fmt_of(w)).T
        total += float((ref - approx).pow(2).sum() / x.shape[0])
    return total


def search_scale(st: ChannelStats, weights, gguf_type: str, alphas=ALPHAS):
    """(best α, scale or None, plain error, best error) for one group."""
    x = st.sample
    fmt_of = lambda w: format_for(gguf_type, w.shape[1])
    exact = [x @ w.T for w in weights]
    plain = group_error(x, weights, None, fmt_of, exact)
    best = (0.0, None, plain)
    a = st.abs_mean.clamp(min=1e-6)
    for alpha in alphas:
        if alpha == 0:
            continue
        s = a.pow(alpha)
        s = s / (s.max() * s.min()).sqrt()
        err = group_error(x, weights, s, fmt_of, exact)
        if err < best[2]:
            best = (alpha, s, err)
    return best[0], best[1], plain, best[2]


def fold(group: Group, scale) -> None:
    """Multiply the group's weight columns by ``scale`` and divide what feeds them."""
    import torch

    with torch.no_grad():
        for _, lin in group.linears:
            lin.weight.mul_(scale[None, :])
        if group.prev_kind == "norm":
            group.prev.weight.div_(scale)
        else:
            group.prev.weight.div_(scale[:, None])
            if group.prev.bias is not None:
                group.prev.bias.div_(scale)


def calibrate(model, stats: dict[str, ChannelStats], gguf_type: str, *, awq: bool = True,
              imatrix: bool = True, progress=None) -> Calibration:
    """Search and fold per-group scales into ``model`` (in place) when ``awq``; compute the
    importance matrix when ``imatrix``. Returns what was done."""
    import numpy as np

    result = Calibration(gguf_type.upper())
    scales: dict[str, object] = {}
    todo = groups(model) if awq else []
    for i, g in enumerate(todo):
        first = g.linears[0][0]
        if first not in stats or stats[first].sample is None:
            continue
        weights = [lin.weight.detach().float() for _, lin in g.linears]
        alpha, s, plain, best = search_scale(stats[first], weights, gguf_type)
        result.alphas[g.name], result.error_plain[g.name] = alpha, plain
        result.error_scaled[g.name] = best
        if s is not None:
            fold(g, s)
            for lname, _ in g.linears:
                scales[lname] = s
        if progress:
            progress("scale search", i + 1, len(todo))
    if imatrix:
        names = _gguf_names(model)
        for lname, st in stats.items():
            gname = names(lname)
            if gname is None:
                continue
            sq = st.sq_mean / scales[lname].pow(2) if lname in scales else st.sq_mean
            result.imatrix[gname] = np.ascontiguousarray(sq.numpy(), dtype=np.float32)
    return result


def _gguf_names(model):
    from slmkit import arch
    from slmkit.arch.base import tied_embeddings

    spec = arch.for_hf(model.config.model_type)
    tied = tied_embeddings(model.config)

    def name(module_name: str) -> str | None:
        if tied and module_name == "lm_head":
            return None
        return spec.gguf_name(module_name + ".weight")

    return name


def save_folded(model, src_dir: Path, out_dir: Path) -> Path:
    """Write ``model`` as a Hugging Face directory next to ``src_dir``'s tokenizer files
    and metadata sidecar."""
    import shutil

    out_dir.mkdir(parents=True, exist_ok=True)
    for f in Path(src_dir).iterdir():
        if f.is_file() and not f.name.endswith(".safetensors") and f.name != "config.json" \
                and not f.name.endswith(".index.json"):
            shutil.copy2(f, out_dir / f.name)
    model.save_pretrained(str(out_dir))
    return out_dir
