"""Llama (Llama 2/3, SmolLM, TinyLlama, …): the reference layout the other families vary.

llama.cpp rotates q/k in interleaved pairs while transformers rotates halves, so the
converter permutes q/k rows; everything else maps one to one."""

from slmkit.arch import base as B

SPEC = B.ArchSpec(
    name="llama",
    hf_model_types=("llama",),
    hf_architectures=("LlamaForCausalLM",),
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
    check_config=None,
    extra_metadata=None,
    after_gguf_load=None,
    decoder_layers="model.layers",
)
