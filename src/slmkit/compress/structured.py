"""Structured (Minitron-style) pruning: a genuinely smaller model, ranked on user text.

- ``depth``: drop whole decoder layers. A layer's importance is its Block Influence
  (ShortGPT; Minitron's depth criterion): ``1 - cos(x_in, x_out)`` of the residual stream
  around the block, averaged over the calibration tokens. Layers that barely change the
  stream go first.
- ``width``: drop MLP intermediate channels. A channel's importance is the mean absolute
  activation entering ``down_proj`` (``act(gate·x) * up·x``) over the calibration tokens
  (Minitron's activation-based width criterion). The same number of channels is kept in
  every layer (llama.cpp's config has one ``feed_forward_length``), rounded to a multiple of
  ``multiple_of`` so quantized row blocks still fit.

- ``heads``: drop whole KV groups (a key/value head with the query heads that share it), so
  grouped-query attention keeps its ratio. A group's importance is the summed mean L2 norm of
  its query heads' attention outputs (the input of ``o_proj``). The same number of groups is
  dropped in every layer (llama.cpp has one head count); ``head_dim`` is kept and written
  explicitly to the config. Not for every architecture: llama.cpp's qwen2 graph sizes the
  query projection by the hidden size.

Which modes a family allows is its :attr:`~slmkit.arch.ArchSpec.prune_refusals`: the
prunes after which llama.cpp could no longer load the model.

The result has an updated config and smaller tensors, and converts to GGUF like any other
model.
"""

from __future__ import annotations

from slmkit.compress.train_io import run_with_hooks

MODES = ("depth", "width", "heads")


def _layers(model):
    return model.model.layers


def _hidden(value):
    return value[0] if isinstance(value, tuple) else value


def layer_importance(model, batches, *, batch_size: int = 4) -> list[float]:
    """Block Influence per decoder layer: mean over tokens of 1 - cos(input, output)."""
    import torch

    layers = _layers(model)
    sums = [0.0] * len(layers)
    count = [0]

    def hook(i):
        def record(_module, args, kwargs, output):
            x = kwargs.get("hidden_states", args[0] if args else None)
            y = _hidden(output)
            cos = torch.nn.functional.cosine_similarity(x.double(), y.double(), dim=-1)
            sums[i] += float((1.0 - cos).sum())
            if i == 0:
                count[0] += cos.numel()
        return record

    run_with_hooks(model, [(layer, hook(i)) for i, layer in enumerate(layers)], batches,
                   batch_size=batch_size, with_kwargs=True)
    return [s / max(count[0], 1) for s in sums]


def channel_importance(model, batches, *, batch_size: int = 4) -> list:
    """Per layer, mean |activation| [intermediate] entering ``mlp.down_proj``."""
    import torch

    layers = _layers(model)
    sums = [torch.zeros(layer.mlp.down_proj.in_features, dtype=torch.float64)
            for layer in layers]
    count = [0]

    def hook(i):
        def record(_module, inputs, _output):
            h = inputs[0].detach().reshape(-1, inputs[0].shape[-1]).double()
            sums[i] += h.abs().sum(0)
            if i == 0:
                count[0] += h.shape[0]
        return record

    run_with_hooks(model, [(layer.mlp.down_proj, hook(i)) for i, layer in enumerate(layers)],
                   batches, batch_size=batch_size)
    return [s / max(count[0], 1) for s in sums]


def _attn_shape(model) -> tuple[int, int, int]:
    """(query heads, KV heads, head_dim) of the model's attention."""
    cfg = model.config
    from slmkit.arch.base import head_dim, kv_heads

    return int(cfg.num_attention_heads), kv_heads(cfg), head_dim(cfg)


def group_importance(model, batches, *, batch_size: int = 4) -> list:
    """Per layer, [n_kv] importance of each KV group: the sum over its query heads of the
    mean L2 norm of the head's attention output (the input of ``o_proj``)."""
    import torch

    n_head, n_kv, head_dim = _attn_shape(model)
    layers = _layers(model)
    sums = [torch.zeros(n_head, dtype=torch.float64) for _ in layers]
    count = [0]

    def hook(i):
        def record(_module, inputs, _output):
            h = inputs[0].detach().reshape(-1, n_head, head_dim).double()  # [tokens, heads, d]
            sums[i] += h.norm(dim=-1).sum(0)
            if i == 0:
                count[0] += h.shape[0]
        return record

    run_with_hooks(model, [(layer.self_attn.o_proj, hook(i)) for i, layer in enumerate(layers)],
                   batches, batch_size=batch_size)
    per_head = [s / max(count[0], 1) for s in sums]
    return [h.reshape(n_kv, n_head // n_kv).sum(-1) for h in per_head]


def shrink_heads(model, keep: list) -> None:
    """Keep KV groups ``keep[i]`` (sorted LongTensor, same length in every layer) in layer i:
    q/k/v rows and o columns sliced; the config's head counts updated, head_dim kept."""
    import torch

    n_head, n_kv, head_dim = _attn_shape(model)
    rep = n_head // n_kv
    sizes = {len(k) for k in keep}
    if len(sizes) != 1:
        raise ValueError("every layer must keep the same number of KV groups")
    for layer, groups in zip(_layers(model), keep):
        attn = layer.self_attn
        kv_rows = torch.cat([torch.arange(g * head_dim, (g + 1) * head_dim) for g in groups])
        q_heads = [g * rep + r for g in groups.tolist() for r in range(rep)]
        q_rows = torch.cat([torch.arange(h * head_dim, (h + 1) * head_dim) for h in q_heads])
        attn.q_proj = _sliced(attn.q_proj, rows=q_rows)
        attn.k_proj = _sliced(attn.k_proj, rows=kv_rows)
        attn.v_proj = _sliced(attn.v_proj, rows=kv_rows)
        attn.o_proj = _sliced(attn.o_proj, cols=q_rows)
    kept = sizes.pop()
    model.config.head_dim = head_dim
    model.config.num_key_value_heads = kept
    model.config.num_attention_heads = kept * rep


def drop_layers(model, drop: list[int]) -> None:
    """Remove decoder layers ``drop`` in place and renumber the rest (cache indices,
    config.num_hidden_layers, config.layer_types)."""
    import torch

    from slmkit.compress.train_io import CompressError

    layers = _layers(model)
    keep = [i for i in range(len(layers)) if i not in set(drop)]
    if not keep:
        raise CompressError("depth pruning would drop every layer", hint="use a smaller --ratio")
    model.model.layers = torch.nn.ModuleList([layers[i] for i in keep])
    for new, layer in enumerate(model.model.layers):
        for module in layer.modules():
            if hasattr(module, "layer_idx"):
                module.layer_idx = new
    cfg = model.config
    if getattr(cfg, "layer_types", None):
        cfg.layer_types = [cfg.layer_types[i] for i in keep]
    cfg.num_hidden_layers = len(keep)


def _sliced(linear, rows=None, cols=None):
    import torch

    w = linear.weight.detach()
    if rows is not None:
        w = w[rows]
    if cols is not None:
        w = w[:, cols]
    bias = linear.bias is not None
    new = torch.nn.Linear(w.shape[1], w.shape[0], bias=bias, dtype=w.dtype)
    with torch.no_grad():
        new.weight.copy_(w)
        if bias:
            new.bias.copy_(linear.bias.detach()[rows] if rows is not None else linear.bias)
    return new


def shrink_mlp(model, keep: list) -> None:
    """Keep MLP channels ``keep[i]`` (sorted LongTensor, same length for every layer) in
    layer i: gate/up rows and down columns are sliced; config.intermediate_size updated."""
    sizes = {len(k) for k in keep}
    if len(sizes) != 1:
        raise ValueError("every layer must keep the same number of MLP channels")
    for layer, idx in zip(_layers(model), keep):
        mlp = layer.mlp
        mlp.gate_proj = _sliced(mlp.gate_proj, rows=idx)
        mlp.up_proj = _sliced(mlp.up_proj, rows=idx)
        mlp.down_proj = _sliced(mlp.down_proj, cols=idx)
        if hasattr(mlp, "intermediate_size"):
            mlp.intermediate_size = len(idx)
    model.config.intermediate_size = sizes.pop()


def kept_channels(total: int, ratio: float, multiple_of: int) -> int:
    keep = round(total * (1.0 - ratio) / multiple_of) * multiple_of
    return max(multiple_of, min(total, keep))


def prune_structured(model, mode: str, ratio: float, batches, *, multiple_of: int = 32) -> dict:
    """Prune ``model`` in place (``mode`` depth or width, ``ratio`` the share removed).
    Returns what was dropped and the importance scores."""
    import torch

    from slmkit.compress.train_io import CompressError

    if mode not in MODES:
        raise ValueError(f"--structured must be one of {', '.join(MODES)}, got {mode!r}")
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"--ratio must be between 0 and 1, got {ratio}")
    _check_loadable(model, mode)
    if mode == "depth":
        scores = layer_importance(model, batches)
        n = len(scores)
        k = round(n * ratio)
        if k < 1:
            raise CompressError(f"--ratio {ratio} drops no layer of {n}",
                                hint=f"use at least {1 / n:.3f}")
        drop = sorted(sorted(range(n), key=lambda i: scores[i])[:k])
        drop_layers(model, drop)
        return {"mode": mode, "ratio": ratio, "layers_before": n, "layers_after": n - k,
                "dropped_layers": drop, "importance": [round(s, 6) for s in scores]}
    if mode == "heads":
        n_head, n_kv, _ = _attn_shape(model)
        k = round(n_kv * ratio)
        if k < 1 or k >= n_kv:
            raise CompressError(f"--ratio {ratio} of {n_kv} KV groups drops {k}",
                                hint=f"drop between 1 and {n_kv - 1} groups "
                                     f"(ratio {1 / n_kv:.3f} … {(n_kv - 1) / n_kv:.3f})")
        scores = group_importance(model, batches)
        keep = [torch.sort(torch.topk(s, n_kv - k).indices).values for s in scores]
        shrink_heads(model, keep)
        return {"mode": mode, "ratio": ratio, "heads_before": n_head, "kv_heads_before": n_kv,
                "heads_after": model.config.num_attention_heads,
                "kv_heads_after": model.config.num_key_value_heads}
    scores = channel_importance(model, batches)
    total = len(scores[0])
    k = kept_channels(total, ratio, multiple_of)
    keep = [torch.sort(torch.topk(s, k).indices).values for s in scores]
    shrink_mlp(model, keep)
    return {"mode": mode, "ratio": ratio, "intermediate_before": total,
            "intermediate_after": k, "multiple_of": multiple_of}


def _check_loadable(model, mode: str) -> None:
    """Refuse a ``mode`` prune llama.cpp could not load for the model's architecture."""
    from slmkit import arch
    from slmkit.compress.train_io import CompressError

    model_type = model.config.model_type
    spec = arch.find_hf(model_type)
    if spec is None:
        if mode != "heads":  # depth and width keep every family's graph intact
            return
        reason = (f"slmkit does not know whether llama.cpp's {model_type!r} graph takes a "
                  "pruned head count")
    else:
        reason = spec.prune_refusal(mode)
    if reason:
        others = [m for m in MODES if m != mode and (spec is None or not spec.prune_refusal(m))]
        raise CompressError(f"{mode} pruning is refused for {model_type}: {reason}",
                            hint=f"use --structured {' or '.join(others)} for this model")


def prune(src: str, out_dir: str, *, mode: str, ratio: float, data: str,
          n_samples: int = 32, seq_len: int = 256, multiple_of: int = 32,
          gguf_type: str = "f16", extra: dict | None = None) -> dict:
    """Structured-prune the model at ``src`` and write ``out_dir/hf`` + GGUF. Returns the
    report (paths, shapes, parameters before/after)."""
    from slmkit.compress import train_io

    fm = train_io.load_float(src, scratch_root=out_dir)
    try:
        text, digest = train_io.read_text(data)
        batches = train_io.token_batches(fm.tokenizer, text, seq_len=seq_len,
                                         n_samples=n_samples)
        before = train_io.count_parameters(fm.model)
        report = prune_structured(fm.model, mode, ratio, batches, multiple_of=multiple_of)
        report.update({"parameters_before": before,
                       "parameters_after": train_io.count_parameters(fm.model),
                       "calibration": {"data": data, "sha256": digest, "seq_len": seq_len,
                                       "samples": len(batches)}})
        tag = f"prune:{mode}-{ratio:g}"
        lineage = {"method": tag, "source": str(src), "data_sha256": digest, **(extra or {})}
        hf, gguf_path = train_io.export(fm.model, fm.source_dir, out_dir,
                                        gguf_type=gguf_type, extra=lineage)
    finally:
        fm.close()
    report.update({"hf_dir": str(hf), "gguf": str(gguf_path), "gguf_type": gguf_type,
                   "method_tag": tag})
    return report
