"""What slmkit knows about one model architecture: :class:`ArchSpec`, and the pieces the
llama-like families share.

A spec is plain data (plus a few small functions on a transformers config object), so it
imports nothing heavy: the converters, calibration, rescaling, pruning and LoRA read it
instead of branching on the architecture's name.

Module paths (``input_layernorm``, ``self_attn.q_proj``) are relative to one decoder layer;
tensor names map Hugging Face module paths to GGUF base names, ``{i}`` standing for the
layer index (``model.layers.{i}.self_attn.q_proj`` → ``blk.{i}.attn_q``); the ``.weight``
or ``.bias`` suffix carries over unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from slmkit.core.errors import SlmError

LAYER_PREFIX = "model.layers.{i}."
SUFFIXES = (".weight", ".bias")
PRUNE_MODES = ("depth", "width", "heads")


class UnsupportedModelError(SlmError):
    code = "unsupported_model"


@dataclass(frozen=True)
class Group:
    """Linear layers of one decoder layer that read the same input, and what produces it.

    Folding a per-channel scale ``s`` into the group multiplies the linears' weight columns
    by ``s`` and divides ``prev`` (an RMSNorm gain, or a linear's rows and bias) by ``s``:
    the float model computes the same function (AWQ calibration, channel rescaling)."""

    name: str                 # e.g. "attn_in"
    prev: str                 # module path of the producer, e.g. "input_layernorm"
    prev_kind: str            # "norm" or "linear"
    linears: tuple[str, ...]  # module paths of the consumers, e.g. ("mlp.down_proj",)


@dataclass(frozen=True, eq=False)
class ArchSpec:
    """One architecture family: names, conventions and what llama.cpp can still load.

    Every field is required so that a new family states each fact instead of inheriting a
    wrong default; the llama-like building blocks below keep the modules short."""

    name: str                             # our name, the key in slmkit.arch.ARCHITECTURES
    hf_model_types: tuple[str, ...]       # config.json "model_type" values
    hf_architectures: tuple[str, ...]     # config.json "architectures" values
    gguf_arch: str                        # GGUF general.architecture (llama.cpp's name)
    tensors: Mapping[str, str]            # HF module path → GGUF base name (see module doc)
    permute_qk: bool                      # llama.cpp stores q/k rows interleaved (rope)
    norm_offset: float                    # HF RMSNorm scales by (offset + w); GGUF stores it added
    embedding_scale: bool                 # embeddings × √hidden (runtimes do it; not stored)
    hf_metadata: tuple[tuple[str, str, type], ...]  # (GGUF key suffix, HF config key, type)
    head_dim_keys: bool                   # always write attention.key/value_length
    rope_dim_key: bool                    # write rope.dimension_count (= head_dim)
    scale_groups: tuple[Group, ...]       # AWQ / rescale groups in folding order; () = none
    prune_refusals: Mapping[str, str]     # structured prune mode → why llama.cpp can't load it
    lora_targets: tuple[str, ...]         # default LoRA target module names
    config_from_gguf: Mapping[str, str]   # HF config key GGUF lacks → config key llama.cpp uses
    check_config: Callable | None         # (HF config) → None; raises UnsupportedModelError
    extra_metadata: Callable | None       # (HF config) → {GGUF key suffix: int | float}
    after_gguf_load: Callable | None      # (torch model read from GGUF by transformers) → None
    decoder_layers: str                   # module path of the decoder layer list

    def __post_init__(self) -> None:
        for name in ("tensors", "prune_refusals", "config_from_gguf"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    # ---- tensor names -----------------------------------------------------------------------

    def gguf_name(self, hf_name: str) -> str | None:
        """The GGUF tensor name of the HF tensor ``hf_name`` (``model.layers.3.mlp.up_proj
        .weight`` → ``blk.3.ffn_up.weight``), None when the architecture has no such tensor."""
        module, suffix = _split_suffix(hf_name)
        m = re.fullmatch(r"model\.layers\.(\d+)\.(.+)", module)
        key = LAYER_PREFIX + m.group(2) if m else module
        base = self.tensors.get(key)
        if base is None:
            return None
        return base.replace("{i}", m.group(1)) + suffix if m else base + suffix

    def hf_name(self, gguf_name: str) -> str | None:
        """The inverse of :meth:`gguf_name`."""
        module, suffix = _split_suffix(gguf_name)
        m = re.fullmatch(r"blk\.(\d+)\.(.+)", module)
        key = "blk.{i}." + m.group(2) if m else module
        base = {v: k for k, v in self.tensors.items()}.get(key)
        if base is None:
            return None
        return base.replace("{i}", m.group(1)) + suffix if m else base + suffix

    # ---- metadata -----------------------------------------------------------------------------

    def metadata(self, cfg) -> dict[str, int | float]:
        """GGUF key suffix → value of the architecture's hyper-parameters read from the HF
        config ``cfg`` (rope and file type are written by the converter itself)."""
        out: dict[str, int | float] = {}
        for key, hf_key, kind in self.hf_metadata:
            value = getattr(cfg, hf_key, None)
            if value is None and hf_key == "num_key_value_heads":
                value = cfg.num_attention_heads  # no grouped-query attention
            out[key] = kind(value)
        hd = head_dim(cfg)
        if self.head_dim_keys or hd * int(cfg.num_attention_heads) != int(cfg.hidden_size):
            out["attention.key_length"] = out["attention.value_length"] = hd
        if self.rope_dim_key:
            out["rope.dimension_count"] = hd
        if self.extra_metadata is not None:
            out.update(self.extra_metadata(cfg))
        return out

    # ---- capabilities ------------------------------------------------------------------------

    def prune_refusal(self, mode: str) -> str | None:
        """Why llama.cpp could not load a ``mode``-pruned model of this family (None: it can)."""
        return self.prune_refusals.get(mode)

    @property
    def can_rescale(self) -> bool:
        """Whether per-channel scales fold exactly (AWQ calibration, channel rescaling)."""
        return bool(self.scale_groups)


def _split_suffix(name: str) -> tuple[str, str]:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)], suffix
    return name, ""


def head_dim(cfg) -> int:
    """Attention head size: the config's ``head_dim`` or hidden size / heads."""
    return int(getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads)


def kv_heads(cfg) -> int:
    """Key/value heads: the config's ``num_key_value_heads``, else one per query head."""
    return int(getattr(cfg, "num_key_value_heads", None) or cfg.num_attention_heads)


def tied_embeddings(cfg) -> bool:
    """Whether the output projection is the token embedding (a config without the key:
    untied)."""
    return bool(getattr(cfg, "tie_word_embeddings", False))


def rope_params(cfg, layer_type: str = "full_attention") -> dict:
    """The rope parameters of ``layer_type`` layers (transformers 5 keeps them per layer type
    in ``rope_parameters``; older configs have ``rope_theta``)."""
    params = dict(getattr(cfg, "rope_parameters", None) or {})
    if layer_type in params and isinstance(params[layer_type], dict):
        params = dict(params[layer_type])
    params.setdefault("rope_theta", getattr(cfg, "rope_theta", 10000.0))
    return params


# ---- the llama-like building blocks -----------------------------------------------------------

# HF config key → GGUF key suffix (``{gguf_arch}.`` is prefixed), the same in every family here.
HF_METADATA: tuple[tuple[str, str, type], ...] = (
    ("context_length", "max_position_embeddings", int),
    ("embedding_length", "hidden_size", int),
    ("block_count", "num_hidden_layers", int),
    ("feed_forward_length", "intermediate_size", int),
    ("attention.head_count", "num_attention_heads", int),
    ("attention.head_count_kv", "num_key_value_heads", int),
    ("attention.layer_norm_rms_epsilon", "rms_norm_eps", float),
    ("vocab_size", "vocab_size", int),
)

GLOBAL_TENSORS = {
    "model.embed_tokens": "token_embd",
    "model.norm": "output_norm",
    "lm_head": "output",
}
ATTENTION_TENSORS = {
    LAYER_PREFIX + "input_layernorm": "blk.{i}.attn_norm",
    LAYER_PREFIX + "self_attn.q_proj": "blk.{i}.attn_q",
    LAYER_PREFIX + "self_attn.k_proj": "blk.{i}.attn_k",
    LAYER_PREFIX + "self_attn.v_proj": "blk.{i}.attn_v",
    LAYER_PREFIX + "self_attn.o_proj": "blk.{i}.attn_output",
}
QK_NORM_TENSORS = {
    LAYER_PREFIX + "self_attn.q_norm": "blk.{i}.attn_q_norm",
    LAYER_PREFIX + "self_attn.k_norm": "blk.{i}.attn_k_norm",
}
MLP_TENSORS = {
    LAYER_PREFIX + "mlp.gate_proj": "blk.{i}.ffn_gate",
    LAYER_PREFIX + "mlp.up_proj": "blk.{i}.ffn_up",
    LAYER_PREFIX + "mlp.down_proj": "blk.{i}.ffn_down",
}
# llama-like: one norm before attention, one before the MLP
LLAMA_TENSORS = {**GLOBAL_TENSORS, **ATTENTION_TENSORS, **MLP_TENSORS,
                 LAYER_PREFIX + "post_attention_layernorm": "blk.{i}.ffn_norm"}

# Pre-norm attention + SwiGLU MLP: q/k/v read the attention norm, gate/up the MLP norm,
# o reads v's output (through the attention mix), down reads up's (through the product).
LLAMA_SCALE_GROUPS = (
    Group("attn_in", "input_layernorm", "norm",
          ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj")),
    Group("o_in", "self_attn.v_proj", "linear", ("self_attn.o_proj",)),
    Group("mlp_in", "post_attention_layernorm", "norm", ("mlp.gate_proj", "mlp.up_proj")),
    Group("down_in", "mlp.up_proj", "linear", ("mlp.down_proj",)),
)

LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
