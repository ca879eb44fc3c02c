"""Build tiny but valid GGUF files with the `gguf` package's writer."""

from __future__ import annotations

from pathlib import Path

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tiny_gguf(path: str | Path, *, name: str = "tiny", n_vocab: int = 32,
                    n_embd: int = 8, n_layer: int = 2, file_type: int | None = 0,
                    extra_tokens: int = 0, seed: int = 0) -> Path:
    """Write a small llama-architecture GGUF (F32 tensors, a vocabulary, a chat template).

    ``extra_tokens`` pads the vocabulary so the token array exceeds the reader's decode
    limit. Returns the path.
    """
    import gguf
    import numpy as np

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name(name)
    writer.add_context_length(256)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(n_layer)
    writer.add_head_count(2)
    writer.add_head_count_kv(1)
    writer.add_feed_forward_length(16)
    writer.add_layer_norm_rms_eps(1e-5)
    if file_type is not None:
        writer.add_file_type(file_type)
    writer.add_license("apache-2.0")
    vocab = n_vocab + extra_tokens
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list([f"tok{i}" for i in range(vocab)])
    writer.add_token_types([1] * vocab)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_chat_template(CHAT_TEMPLATE)
    writer.add_tensor("token_embd.weight", rng.standard_normal((vocab, n_embd), np.float32))
    for i in range(n_layer):
        writer.add_tensor(f"blk.{i}.attn_q.weight",
                          rng.standard_normal((n_embd, n_embd), np.float32))
    writer.add_tensor("output_norm.weight", np.ones(n_embd, np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def expected_params(*, n_vocab: int = 32, n_embd: int = 8, n_layer: int = 2,
                    extra_tokens: int = 0) -> int:
    """The parameter count build_tiny_gguf's file declares."""
    return (n_vocab + extra_tokens) * n_embd + n_layer * n_embd * n_embd + n_embd
