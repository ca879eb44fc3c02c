"""Simulated GGUF block quantization in torch (quantize → dequantize, same shape).

The formats follow ggml's reference quantizers: ``q8_0`` and ``q4_0`` bit for bit
(``quantize_row_q8_0_ref`` / ``quantize_row_q4_0_ref``, fp16 block scales); ``q5_0`` the
same way with 32 levels. The k-quants are approximated by their building block (4- or
5-bit asymmetric min/max per 32 values for Q4_K/Q5_K, 6-bit symmetric per 16 for Q6_K):
good enough to rank per-channel scales during calibration, not a byte-exact codec.
Blocks run along the input dimension (a weight's rows), as in GGUF.
"""

from __future__ import annotations

# target --type → (format for rows whose length is a multiple of 256, fallback format):
# llama.cpp falls back when a row cannot hold whole 256-value super-blocks.
TYPE_FORMATS: dict[str, tuple[str, str]] = {
    "Q8_0": ("q8_0", "q8_0"),
    "Q6_K": ("q6_k", "q8_0"),
    "Q5_K_M": ("q5_k", "q5_1"), "Q5_K_S": ("q5_k", "q5_1"),
    "Q5_0": ("q5_0", "q5_0"), "Q5_1": ("q5_1", "q5_1"),
    "Q4_K_M": ("q4_k", "q5_0"), "Q4_K_S": ("q4_k", "q5_0"),
    "Q4_0": ("q4_0", "q4_0"), "Q4_1": ("q4_1", "q4_1"),
    "IQ4_XS": ("q4_k", "q4_0"), "IQ4_NL": ("q4_0", "q4_0"),
    "Q3_K_M": ("q3_k", "q4_0"), "Q3_K_S": ("q3_k", "q4_0"), "Q3_K_L": ("q3_k", "q4_0"),
    "Q2_K": ("q2_k", "q4_0"),
}
FORMATS = ("q8_0", "q6_k", "q5_k", "q5_1", "q5_0", "q4_k", "q4_1", "q4_0", "q3_k", "q2_k")


def format_for(gguf_type: str, n_in: int) -> str:
    """The block format llama.cpp would use for a weight with rows of ``n_in`` values."""
    main, fallback = TYPE_FORMATS.get(gguf_type.upper(), ("q4_k", "q4_0"))
    return main if n_in % 256 == 0 else fallback


def _fp16(x):
    import torch

    return x.to(torch.float16).to(torch.float32)


def _symmetric_ggml(blocks, half: int):
    """ggml's q4_0 / q5_0: d = (signed value of largest magnitude) / -half,
    q = min(2·half-1, trunc(x/d + half + 0.5)), x̂ = (q - half)·fp16(d)."""
    import torch

    idx = blocks.abs().argmax(dim=-1, keepdim=True)
    signed_max = torch.gather(blocks, -1, idx)
    d = signed_max / -half
    inv = torch.where(d != 0, 1.0 / d, torch.zeros_like(d))
    q = torch.clamp(torch.trunc(blocks * inv + (half + 0.5)), max=2 * half - 1)
    return (q - half) * _fp16(d)


def _q8_0(blocks):
    import torch

    amax = blocks.abs().amax(dim=-1, keepdim=True)
    d = amax / 127.0
    inv = torch.where(d != 0, 1.0 / d, torch.zeros_like(d))
    x = blocks * inv
    q = torch.sign(x) * torch.floor(x.abs() + 0.5)  # C roundf: half away from zero
    return q * _fp16(d)


def _asymmetric(blocks, bits: int):
    """min/max affine grid with 2^bits levels (q4_1 / q5_1, and the k-quants' sub-blocks)."""
    import torch

    lo = blocks.amin(dim=-1, keepdim=True)
    hi = blocks.amax(dim=-1, keepdim=True)
    d = (hi - lo) / (2 ** bits - 1)
    inv = torch.where(d != 0, 1.0 / d, torch.zeros_like(d))
    q = torch.clamp(torch.round((blocks - lo) * inv), 0, 2 ** bits - 1)
    return q * _fp16(d) + _fp16(lo)


def _sym_round(blocks, levels: int):
    import torch

    amax = blocks.abs().amax(dim=-1, keepdim=True)
    d = amax / levels
    inv = torch.where(d != 0, 1.0 / d, torch.zeros_like(d))
    return torch.clamp(torch.round(blocks * inv), -levels - 1, levels) * d


def fake_quant(w, fmt: str):
    """Quantize and dequantize ``w`` [out, in] (float32) in ``fmt``'s blocks; same shape.
    Rows whose length is not a multiple of the block size raise ``ValueError``."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown block format {fmt!r} (known: {', '.join(FORMATS)})")
    block = 16 if fmt in ("q6_k", "q3_k", "q2_k") else 32
    if w.shape[-1] % block:
        raise ValueError(f"rows of {w.shape[-1]} values do not split into blocks of {block}")
    blocks = w.float().reshape(-1, block)
    out = {
        "q8_0": lambda b: _q8_0(b),
        "q4_0": lambda b: _symmetric_ggml(b, 8),
        "q5_0": lambda b: _symmetric_ggml(b, 16),
        "q4_1": lambda b: _asymmetric(b, 4), "q4_k": lambda b: _asymmetric(b, 4),
        "q5_1": lambda b: _asymmetric(b, 5), "q5_k": lambda b: _asymmetric(b, 5),
        "q6_k": lambda b: _sym_round(b, 31),
        "q3_k": lambda b: _sym_round(b, 3), "q2_k": lambda b: _asymmetric(b, 2),
    }[fmt](blocks)
    return out.reshape(w.shape)
