"""Mistral (7B v0.2/v0.3 and later): llama's graph, written as a ``llama`` GGUF the way
llama.cpp's own converter does. llama.cpp's llama graph has no sliding-window attention,
so a checkpoint with a window shorter than its context (v0.1) is refused."""

from slmkit.arch import base as B


def check_config(cfg) -> None:
    window = getattr(cfg, "sliding_window", None)
    if window and int(window) < int(cfg.max_position_embeddings):
        raise B.UnsupportedModelError(
            f"mistral sliding_window {window} < context {cfg.max_position_embeddings}: "
            "llama.cpp's llama graph attends over the whole context",
            hint="set sliding_window to null in config.json only if the model was trained "
                 "without it (Mistral v0.2 and later)")


SPEC = B.ArchSpec(
    name="mistral",
    hf_model_types=("mistral",),
    hf_architectures=("MistralForCausalLM",),
    gguf_arch="llama",
    tensors=B.LLAMA_TENSORS,
    permute_qk=True,
    norm_offset=0.0,
    embedding_scale=False,
    hf_metadata=B.HF_METADATA,
    head_dim_keys=False,
    rope_dim_key=True,
    scale_groups=B.LLAMA_SCALE_GROUPS,
    prune_refusals={},
    lora_targets=B.LORA_TARGETS,
    config_from_gguf={},
    check_config=check_config,
    extra_metadata=None,
    after_gguf_load=None,
    decoder_layers="model.layers",
)
