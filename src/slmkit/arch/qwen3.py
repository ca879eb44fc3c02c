"""Qwen3 (dense): llama's layout with an RMSNorm on every query and key head before rope
(``q_norm``/``k_norm``), no q/k/v biases, NeoX-style rope (no q/k permutation) and a
``head_dim`` of its own. llama.cpp sizes q and o by n_head × head_dim, so head-pruned
models still load; the q/k norms act on q/k outputs, so input-channel scales fold as in
llama."""

from slmkit.arch import base as B

SPEC = B.ArchSpec(
    name="qwen3",
    hf_model_types=("qwen3",),
    hf_architectures=("Qwen3ForCausalLM",),
    gguf_arch="qwen3",
    tensors={**B.LLAMA_TENSORS, **B.QK_NORM_TENSORS},
    permute_qk=False,
    norm_offset=0.0,
    embedding_scale=False,
    hf_metadata=B.HF_METADATA,
    head_dim_keys=False,
    rope_dim_key=False,
    scale_groups=B.LLAMA_SCALE_GROUPS,
    prune_refusals={},
    lora_targets=B.LORA_TARGETS,
    config_from_gguf={},
    check_config=None,
    extra_metadata=None,
    after_gguf_load=None,
    decoder_layers="model.layers",
)
