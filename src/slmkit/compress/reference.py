"""An off-grid float reference of a model that ships quantized.

Our offline models are 4-bit GGUFs: dequantized, every weight sits on its block's 4-bit
grid, and quantizing that again finds the same grid — every method looks better than it
is. The reference made here is the dequantized model after a short continued pre-training
on packaged prose (deterministic seed, AdamW, warm-up + cosine schedule): the weights move
off the grid while the model stays as good (checked: perplexity on held-apart text).

On this machine a training step of the 135M model costs seconds, and Adam moves a weight
by about the learning rate per step, while a 4-bit grid step of SmolLM2-135M is ~0.05: no
affordable training leaves the grid by itself. So the weights are first moved off it by a
transformation that keeps the model's function exactly (``rescale``): random per-channel
factors multiply the input channels (columns) of every decoder linear layer — a
quantization block runs along those, so no grid fits a block any more — and their inverse is
folded into the preceding RMSNorm gain or the producing layer's rows. The quality is the
original's by construction (checked: perplexity before and after), unlike the older
``dither`` (uniform noise of one grid step per weight, still available), which costs as
much as a 4-bit quantization and needs far more training than we can afford to heal. The
tied token embeddings stay where they were (no exact fold exists for them); the report
says so. Every step is recorded in the lineage.

Measured and kept with it (``reference.json`` in its Hugging Face directory):

- the grid offset of every weight in 4-bit blocks (blocks of 32 whose dequantized values
  take ≤ 16 levels): distance to the nearest grid level in grid steps, 0 on the grid and
  0.25 on average for a weight uniformly off it; the share of weights more than 0.1 step
  away ("off-grid");
- perplexity on held-apart text before and after (torch, chunks of 512, second half
  scored — the perplexity protocol).

Registered as ``<model>-offgrid`` (F32 GGUF, parent: the model) and ``<model>-offgrid-hf``
(the directory, parent: the GGUF). Made once: a stored reference with the same settings
is returned as it is.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass

from slmkit.core.errors import SlmError
from slmkit.core.options import opt

REPORT = "reference.json"
GROUP = "off-grid reference (--make-reference)"


@dataclass
class ReferenceConfig:
    data: str = opt("wikipedia", "training text (its first quarter is held apart)",
                    metavar="DATA", group=GROUP)
    rescale: float = opt(0.25, "random per-channel factors in [1/(1+S), 1+S] folded so the "
                               "function is unchanged (0: none; llama/qwen/mistral)",
                         metavar="S", group=GROUP)  # see rescale()
    dither: float = opt(0.0, "also add uniform noise W grid steps wide (1.0: the whole cell; "
                             "costs perplexity; for architectures rescaling cannot fold)",
                        metavar="W", group=GROUP)  # 0: no noise
    steps: int = opt(16, group=GROUP)
    lr: float = opt(3e-5, metavar="LR", group=GROUP)
    seq: int = 128
    batch: int = 2
    seed: int = opt(0, group=GROUP)
    eval_chunks: int = 6
    threads: int = 0

    def method(self) -> str:
        amp = f"dither{self.dither:g}+" if self.dither != 1.0 else "dither+"
        scaled = f"rescale{self.rescale:g}+" if self.rescale else ""
        return (f"reference:{scaled}{amp if self.dither else ''}continued-pretraining("
                f"data={self.data},steps={self.steps},"
                f"lr={self.lr:g},seq={self.seq},batch={self.batch},seed={self.seed})")


def split_text(text: str) -> tuple[str, str]:
    """(held-apart evaluation text, training text): the first quarter is never trained on."""
    cut = len(text) // 4
    cut = text.find("\n", cut) + 1 or cut
    return text[:cut], text[cut:]


def reference_name(model: str) -> str:
    return f"{model}-offgrid"


def make_reference(model: str, *, store=None, name: str | None = None,
                   config: ReferenceConfig | None = None, force: bool = False,
                   progress=None) -> dict:
    """Make (or find) the off-grid reference of ``model``; returns its report dict
    (``name``, ``hf_name``, ``path``, off-grid and perplexity numbers, seconds)."""
    from slmkit.models.store import Store

    store = store or Store()
    config = config or ReferenceConfig()
    ref = store.resolve(model)
    name = name or reference_name(ref.name)
    hf_name = f"{name}-hf"
    if not force and store.has(name) and store.has(hf_name) \
            and store.manifest(name).get("method") == config.method():
        report = json.loads((store.blob_path(hf_name) / REPORT).read_text())
        return {**report, "cached": True}
    return _make(store, ref, name, hf_name, config, progress)


def _make(store, ref, name: str, hf_name: str, config: ReferenceConfig, progress) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from slmkit.compress.calibrate import save_folded
    from slmkit.compress.quantize import float_source
    from slmkit.convert import hf_to_gguf
    from slmkit.evaluate import datasets

    t0 = time.perf_counter()
    if config.threads:
        torch.set_num_threads(config.threads)
    src = float_source(store, ref)
    hf = src.hf()
    ds = datasets.resolve(config.data, kind="text")
    held, train = split_text(datasets.load_text(ds))
    tok = AutoTokenizer.from_pretrained(str(hf))
    model = AutoModelForCausalLM.from_pretrained(str(hf), dtype=torch.float32,
                                                 use_safetensors=True)
    original = {k: v.detach().clone() for k, v in model.named_parameters() if v.ndim == 2}
    eval_ids = _ids(tok, held, 512 * config.eval_chunks + 1)
    ppl_before = chunk_ppl(model, eval_ids, config.eval_chunks, progress)
    ppl_dithered = ppl_rescaled = None
    if config.rescale:
        rescale(model, config.seed, spread=config.rescale)
        ppl_rescaled = chunk_ppl(model, eval_ids, config.eval_chunks, progress)
    if config.dither:
        dither(model, config.seed, scale=config.dither)
        ppl_dithered = chunk_ppl(model, eval_ids, config.eval_chunks, progress)
    train_ids = _ids(tok, train, config.steps * config.batch * config.seq * 2)
    losses = train_steps(model, train_ids, config, progress)
    ppl_after = chunk_ppl(model, eval_ids, config.eval_chunks, progress)
    grid = grid_offsets(original, dict(model.named_parameters()))
    report = {"name": name, "hf_name": hf_name, "parent": ref.name, "method": config.method(),
              "config": asdict(config), "data": ds.name, "source_on_grid": src.on_grid,
              "ppl_before": ppl_before, "ppl_rescaled": ppl_rescaled,
              "ppl_dithered": ppl_dithered, "ppl_after": ppl_after,
              "ppl_change": ppl_after / ppl_before - 1, "loss_first": losses[0],
              "loss_last": sum(losses[-5:]) / len(losses[-5:]), **grid}
    with store.derive(hf_name, parent=name, method="convert:gguf-to-hf", kind="directory",
                      overwrite=True) as h:
        with store.derive(name, parent=ref.name, method=config.method(),
                          params=asdict(config), overwrite=True) as g:
            out_hf = save_folded(model, hf, h.dir / "hf")
            del model
            hf_to_gguf(out_hf, g.dir / f"{name}.gguf", out_type="f32")
            report["seconds"] = round(time.perf_counter() - t0, 1)
        report["path"] = g.ref.path
        (out_hf / REPORT).write_text(json.dumps(report, indent=2))
    report["hf_path"] = h.ref.path
    return {**report, "cached": False}


def _ids(tok, text: str, n_tokens: int):
    import torch

    ids = tok(text[: n_tokens * 8], add_special_tokens=False)["input_ids"][:n_tokens]
    return torch.tensor(ids, dtype=torch.long)


def chunk_ppl(model, ids, n_chunks: int, progress=None, chunk: int = 512) -> float:
    """Perplexity over ``n_chunks`` chunks of ``ids``, second half of each scored."""
    import torch

    nll, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for c in range(n_chunks):
            piece = ids[c * chunk:(c + 1) * chunk]
            if len(piece) < chunk:
                break
            logp = torch.log_softmax(model(input_ids=piece[None]).logits[0].float(), -1)
            first = chunk // 2
            tgt = piece[first + 1:]
            nll -= float(logp[first:-1].gather(1, tgt[:, None]).sum())
            count += len(tgt)
            if progress:
                progress("held-apart perplexity", c + 1, n_chunks)
    if not count:
        raise SlmError("held-apart text is shorter than one chunk of 512 tokens")
    return math.exp(nll / count)


def train_steps(model, ids, config: ReferenceConfig, progress=None) -> list[float]:
    """Continued pre-training: next-token loss on random windows of ``ids``."""
    import torch

    gen = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=config.lr, betas=(0.9, 0.95), weight_decay=0.0)
    warm = max(1, config.steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm) * (
        0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, s / config.steps)))))
    model.train()
    losses = []
    for step in range(config.steps):
        starts = torch.randint(0, len(ids) - config.seq - 1, (config.batch,), generator=gen)
        batch = torch.stack([ids[s:s + config.seq + 1] for s in starts.tolist()])
        out = model(input_ids=batch[:, :-1], labels=batch[:, :-1].clone())
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(float(out.loss.detach()))
        if progress:
            progress("continued pre-training", step + 1, config.steps)
    model.eval()
    return losses


def grid_steps(w0, block: int = 32):
    """Per block of ``block`` values of ``w0`` [n_blocks, block]: (low end, grid step,
    is-4-bit). A block taking ≤ 16 levels is a 4-bit grid whose step is the smallest gap
    between its levels; any other block is treated as 8-bit (Q8_0: max|x| / 127)."""
    import torch

    srt = torch.sort(w0, dim=1).values
    gaps = srt[:, 1:] - srt[:, :-1]
    levels = 1 + (gaps > 0).sum(1)
    big = torch.full_like(gaps, float("inf"))
    min_gap = torch.where(gaps > 0, gaps, big).amin(1)
    four = (levels <= 16) & torch.isfinite(min_gap)
    step = torch.where(four, min_gap, w0.abs().amax(1) / 127).clamp(min=1e-12)
    return srt[:, :1], step[:, None], four


def dither(model, seed: int = 0, block: int = 32, scale: float = 1.0) -> None:
    """Add uniform noise ``scale`` grid steps wide (1.0: ±½ step, the whole cell) to every
    2-D weight, block by block."""
    import torch

    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for _, p in sorted(model.named_parameters()):
            if p.ndim != 2 or p.shape[-1] % block:
                continue
            b = p.data.reshape(-1, block)
            _, step, _ = grid_steps(b, block)
            b += (torch.rand(b.shape, generator=gen) - 0.5) * (step * scale)


def rescale(model, seed: int = 0, spread: float = 0.25) -> int:
    """Move every decoder linear weight off its grid without changing the model's function.

    Random per-channel factors ``s`` (log-uniform in [1/(1+spread), 1+spread]) multiply
    weight *columns* — the input channels, across which a quantization block runs — so no
    single grid fits a block any more, and the inverse is folded where it cancels exactly,
    group by group of the architecture's :attr:`~slmkit.arch.ArchSpec.scale_groups`: the
    RMSNorm gains before q/k/v and gate/up (norm(x)·g/s then ·s), the rows of up_proj
    before down_proj's columns (the SwiGLU product is linear in up), the rows (and bias) of
    v_proj before o_proj's columns (attention mixes values linearly; a KV group's factor
    applies to every query head sharing it). Token embeddings (tied to the output) and the
    final norm are left as they are. Returns the number of weights moved."""
    import torch

    from slmkit import arch

    model_type = model.config.model_type
    spec = arch.find_hf(model_type)
    if spec is None or not spec.can_rescale:
        able = [t for s in arch.all_specs() if s.can_rescale for t in s.hf_model_types]
        raise SlmError(f"channel rescaling supports {', '.join(able)}, not {model_type!r}",
                       hint="use the dither (--ref-dither 1) for this architecture")
    gen = torch.Generator().manual_seed(seed + 7)
    span = math.log1p(spread)

    def factors(n: int):
        return torch.exp((torch.rand(n, generator=gen, dtype=torch.float64) * 2 - 1) * span)

    # factors are drawn norm groups first, then linear-fed groups last to first: the order
    # of the first version, so that a reference made again gets the same weights
    norm_groups = [g for g in spec.scale_groups if g.prev_kind == "norm"]
    linear_groups = [g for g in spec.scale_groups if g.prev_kind == "linear"][::-1]
    n_heads = model.config.num_attention_heads
    moved = 0
    with torch.no_grad():
        for layer in model.get_submodule(spec.decoder_layers):
            for g in norm_groups:
                linears = [layer.get_submodule(k) for k in g.linears]
                moved += _fold_norm(layer.get_submodule(g.prev), linears,
                                    factors(linears[0].in_features))
            for g in linear_groups:
                prev = layer.get_submodule(g.prev)
                (second,) = (layer.get_submodule(k) for k in g.linears)
                s = factors(prev.out_features)
                shared = second.in_features // prev.out_features  # query heads per KV head
                head_dim = second.in_features // n_heads  # s: [kv heads·head_dim] → [heads·…]
                s_second = s if shared == 1 else \
                    s.view(-1, head_dim).repeat_interleave(shared, dim=0).reshape(-1)
                moved += _fold_pair(prev, second, s, s_second)
    return moved


def _fold_norm(norm, linears, s) -> int:
    norm.weight.data = (norm.weight.double() / s).to(norm.weight.dtype)
    for lin in linears:
        lin.weight.data = (lin.weight.double() * s).to(lin.weight.dtype)
    return sum(lin.weight.numel() for lin in linears)


def _fold_pair(first, second, s, s_second=None) -> int:
    """``first``'s output channel c ÷ s[c]; ``second``'s input channel c × s[c]."""
    first.weight.data = (first.weight.double() / s[:, None]).to(first.weight.dtype)
    if first.bias is not None:
        first.bias.data = (first.bias.double() / s).to(first.bias.dtype)
    s2 = s if s_second is None else s_second
    second.weight.data = (second.weight.double() * s2).to(second.weight.dtype)
    return first.weight.numel() + second.weight.numel()


def grid_offsets(original: dict, trained: dict, block: int = 32) -> dict:
    """How far the trained weights moved off the original 4-bit grids (see module doc)."""

    dist_sum, off, counted, tensors, changed, total = 0.0, 0, 0, 0, 0, 0
    for key, w0 in original.items():
        w = trained[key].detach()
        changed += int((w != w0).sum())
        total += w0.numel()
        if w0.shape[-1] % block:
            continue
        b0, b = w0.reshape(-1, block), w.reshape(-1, block)
        lo, step, four = grid_steps(b0, block)
        if not bool(four.any()):  # not a 4-bit grid (e.g. a Q8_0 tensor)
            continue
        pos = (b[four] - lo[four]) / step[four]
        dist = (pos - pos.round()).abs()
        dist_sum += float(dist.sum())
        off += int((dist > 0.1).sum())
        counted += dist.numel()
        tensors += 1
    return {"weights_changed_share": changed / total if total else 0.0,
            "grid_tensors": tensors, "grid_weights": counted,
            "grid_offset_mean": dist_sum / counted if counted else None,
            "off_grid_share": off / counted if counted else None}
