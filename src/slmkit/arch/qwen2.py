"""Qwen2 / Qwen2.5: llama's layout with biases on q/k/v and NeoX-style rope (no q/k
permutation). llama.cpp's qwen2 graph sizes q and o by the hidden size, so a model whose
heads were pruned (n_head × head_dim ≠ hidden) would not load there."""

from slmkit.arch import base as B

SPEC = B.ArchSpec(
    name="qwen2",
    hf_model_types=("qwen2",),
    hf_architectures=("Qwen2ForCausalLM",),
    gguf_arch="qwen2",
    tensors=B.LLAMA_TENSORS,
    permute_qk=False,
    norm_offset=0.0,
    embedding_scale=False,
    hf_metadata=B.HF_METADATA,
    head_dim_keys=False,
    rope_dim_key=False,
    scale_groups=B.LLAMA_SCALE_GROUPS,
    prune_refusals={"heads": "llama.cpp's qwen2 graph assumes n_head × head_dim = hidden size, "
                             "so a head-pruned model would not load there"},
    lora_targets=B.LORA_TARGETS,
    config_from_gguf={},
    check_config=None,
    extra_metadata=None,
    after_gguf_load=None,
    decoder_layers="model.layers",
)
