"""What a compress run did, in a few lines people read (`slm quantize`, `slm prune` and
`slm distill` print these; any front end may show them). Each takes the run's result."""

from __future__ import annotations

from pathlib import Path


def _where(registered: bool, name, path) -> str:
    return f"stored as {name}" if registered else f"written to {path}"


def quantized(r) -> str:
    """A :class:`~slmkit.compress.quantize.QuantizeResult`: size, bits/weight, calibration."""
    lines = [f"{r.parent} → {r.method}: {_where(r.registered, r.name, r.path)} "
             f"({r.size_bytes / 2**20:.1f} MiB, {r.bits_per_weight:.2f} bits/weight, "
             f"{r.seconds:.1f} s)"]
    if c := r.calibration:
        ratio = c.get("sample_error_ratio")
        head = (f"calibration: {c['groups']} scale groups (mean α {c['alpha_mean']}), sampled "
                f"output error ×{ratio:.3f} of plain" if ratio is not None else
                "calibration: importance matrix only")
        lines.append(f"{head}; imatrix for {c['imatrix_tensors']} tensors")
    return "\n".join(lines)


def on_grid_note(model: str) -> str:
    """Why re-quantizing a quantized source flatters the result, and what to do instead."""
    return ("note: the source was quantized; its dequantized weights sit on the old grid, "
            "which flatters re-quantization. Measure against an off-grid reference: "
            f"`slm quantize {model} --make-reference`")


def reference(r: dict) -> str:
    """A :func:`~slmkit.compress.reference.make_reference` report."""
    cached = " (already made)" if r.get("cached") else ""
    dith = (f", rescaled {r['ppl_rescaled']:.3f}" if r.get("ppl_rescaled") else "")
    dith += (f", dithered {r['ppl_dithered']:.3f}" if r.get("ppl_dithered") else "")
    return (f"{r['parent']} → {r['name']} (F32 GGUF) and {r['hf_name']}{cached}\n"
            f"  off the 4-bit grid: {r['off_grid_share']:.1%} of weights more than 0.1 "
            f"step away, mean offset {r['grid_offset_mean']:.3f} step (uniform: 0.25)\n"
            f"  held-apart perplexity: {r['ppl_before']:.3f} before{dith}, "
            f"{r['ppl_after']:.3f} after ({r['ppl_change']:+.2%})")


def torch_quantized(r) -> str:
    """A :class:`~slmkit.compress.torch_quant.TorchQuantResult`."""
    disk = ("float weights + recipe, quantized at load" if r.storage == "float"
            else "torchao safetensors")
    lines = [f"{r.parent} → {r.method}: {_where(r.registered, r.name, r.path)} "
             f"({r.disk_bytes / 2**20:.1f} MiB on disk, {disk}; weights in memory "
             f"{r.weight_bytes_float / 2**20:.1f} → {r.weight_bytes_quantized / 2**20:.1f} "
             f"MiB, {r.seconds:.1f} s)"]
    if kept := r.kept_float:
        more = f" and {len(kept) - 3} more" if len(kept) > 3 else ""
        lines.append(f"kept float: {', '.join(f'{k} ({v})' for k, v in list(kept.items())[:3])}"
                     f"{more}")
    lines.append(f"run it: slm run {r.name or r.path} PROMPT  (torch engine)")
    return "\n".join(lines)


def pruned(r: dict) -> str:
    """A :func:`~slmkit.compress.prune.prune_to_store` report (structured or not)."""
    where = f"stored as {r['name']} (+ {r['hf_name']})" if r["registered"] else r["gguf"]
    if "mode" not in r:
        return (f"{r['source']} → {r['method_tag']}: {r['achieved_sparsity']:.1%} of "
                f"{r['pruned_weights'] / 1e6:.1f}M decoder weights zeroed; {where}")
    if r["mode"] == "depth":
        shape = f"{r['layers_before']} → {r['layers_after']} layers (dropped {r['dropped_layers']})"
    elif r["mode"] == "heads":
        shape = (f"attention {r['heads_before']}/{r['kv_heads_before']} → "
                 f"{r['heads_after']}/{r['kv_heads_after']} query/KV heads")
    else:
        shape = f"MLP {r['intermediate_before']} → {r['intermediate_after']} channels"
    return (f"{r['source']} → {r['method_tag']}: {shape}; parameters "
            f"{r['parameters_before'] / 1e6:.1f}M → {r['parameters_after'] / 1e6:.1f}M; {where}")


def distilled(r: dict) -> str:
    """A :func:`~slmkit.compress.distill.distill_to_store` report."""
    b, a = r["before"], r["after"]
    kl = f"KL(teacher‖student) {b['kl']:.4f} → {a['kl']:.4f}; " if "kl" in b else ""
    stored = f"; stored as {r['name']} (+ {r['hf_name']})" if "name" in r else ""
    return (f"{r['student']} ← {r['teacher']} ({r['method_tag']}, {r['steps']} steps, "
            f"{r['tokens_per_second']:.0f} tok/s): held-apart {kl}PPL {b['ppl']:.2f} → "
            f"{a['ppl']:.2f}\nsaved to {Path(r['output']) / 'final'}{stored}")
