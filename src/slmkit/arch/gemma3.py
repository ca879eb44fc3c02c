"""Gemma 3 (text): RMSNorm scaled by (1 + w), norms after attention and after the MLP as
well as before them, q/k norms, embeddings × √hidden, sliding-window attention on five
layers of every six.

llama.cpp hard-codes the layer pattern (every 6th layer global) and the local rope base,
so configs that differ are refused, and so is depth pruning (it would shift the pattern).
The (1 + w) gains and the post-norms leave no exact place to fold channel scales."""

from slmkit.arch import base as B

SWA_PERIOD = 6             # llama.cpp: every 6th layer attends globally
LOCAL_ROPE_BASE = 10000.0  # llama.cpp's fixed rope base of the sliding-window layers


def check_config(cfg) -> None:
    """Refuse Gemma 3 settings llama.cpp would compute differently."""
    if cfg.model_type == "gemma3" and hasattr(cfg, "text_config"):
        raise B.UnsupportedModelError("multimodal Gemma 3 checkpoints are not supported",
                                      hint="convert the text-only Gemma3ForCausalLM model")
    hd = B.head_dim(cfg)
    scalar = getattr(cfg, "query_pre_attn_scalar", hd)
    if scalar != hd:
        raise B.UnsupportedModelError(f"gemma3 query_pre_attn_scalar {scalar} != head_dim "
                                      f"{hd}: llama.cpp would scale attention differently")
    local = B.rope_params(cfg, "sliding_attention").get("rope_theta", LOCAL_ROPE_BASE)
    if float(getattr(cfg, "rope_local_base_freq", local)) != LOCAL_ROPE_BASE:
        raise B.UnsupportedModelError("gemma3 local rope base other than 10000 is not supported")
    layer_types = getattr(cfg, "layer_types", None)
    if layer_types:
        expected = ["full_attention" if (i + 1) % SWA_PERIOD == 0 else "sliding_attention"
                    for i in range(len(layer_types))]
        if list(layer_types) != expected:
            raise B.UnsupportedModelError("gemma3 layer pattern differs from llama.cpp's fixed "
                                          f"one (every {SWA_PERIOD}th layer global)")


def extra_metadata(cfg) -> dict:
    out = {"attention.sliding_window": int(cfg.sliding_window)}
    if getattr(cfg, "final_logit_softcapping", None):
        out["final_logit_softcapping"] = float(cfg.final_logit_softcapping)
    return out


def after_gguf_load(model) -> None:
    """A GGUF has no ``query_pre_attn_scalar``; llama.cpp scales attention by ``head_dim``
    and transformers' default (256) is only right when head_dim is 256."""
    cfg = model.config
    hd = getattr(cfg, "head_dim", None)
    if hd and cfg.query_pre_attn_scalar != hd:
        cfg.query_pre_attn_scalar = hd
        for module in model.modules():
            if hasattr(module, "scaling") and hasattr(module, "q_proj"):
                module.scaling = hd ** -0.5


SPEC = B.ArchSpec(
    name="gemma3",
    hf_model_types=("gemma3_text", "gemma3"),
    hf_architectures=("Gemma3ForCausalLM", "Gemma3ForConditionalGeneration"),
    gguf_arch="gemma3",
    tensors={**B.GLOBAL_TENSORS, **B.ATTENTION_TENSORS, **B.QK_NORM_TENSORS, **B.MLP_TENSORS,
             B.LAYER_PREFIX + "post_attention_layernorm": "blk.{i}.post_attention_norm",
             B.LAYER_PREFIX + "pre_feedforward_layernorm": "blk.{i}.ffn_norm",
             B.LAYER_PREFIX + "post_feedforward_layernorm": "blk.{i}.post_ffw_norm"},
    permute_qk=False,
    norm_offset=1.0,
    embedding_scale=True,
    hf_metadata=B.HF_METADATA,
    head_dim_keys=True,
    rope_dim_key=False,
    scale_groups=(),
    prune_refusals={"depth": "it would break llama.cpp's fixed layer pattern (every "
                             f"{SWA_PERIOD}th layer global)"},
    lora_targets=B.LORA_TARGETS,
    config_from_gguf={"query_pre_attn_scalar": "head_dim"},
    check_config=check_config,
    extra_metadata=extra_metadata,
    after_gguf_load=after_gguf_load,
    decoder_layers="model.layers",
)
