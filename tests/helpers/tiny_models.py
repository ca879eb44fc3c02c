"""Tiny random Hugging Face models (llama, qwen2, gemma3) with a real byte-level BPE
tokenizer, built in a second or two, for conversion and engine tests.

Weights are drawn larger than a trained model's initialisation so the next-token
distributions are peaked (greedy decoding is then stable against float rounding)."""

from __future__ import annotations

from pathlib import Path

CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Once upon a time there was a small town by a river.",
    "Paris is the capital of France, and Berlin is the capital of Germany.",
    "The river carried spring water from the mountains past the mills.",
    "1234567890 numbers, punctuation: commas; and 'quotes' too!",
    "Small language models run on laptops and edge boxes.",
] * 20
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
VOCAB = 320


def build_tokenizer(out: Path, *, pre: str = "gpt-2"):
    """A byte-level BPE tokenizer trained on :data:`CORPUS`, saved into ``out``.

    ``pre`` picks the pre-tokenizer: ``gpt-2`` (ByteLevel with its regex) or ``smollm``
    (digits split apart first)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.pre_tokenizer = (byte_level if pre == "gpt-2" else pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), byte_level]))
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|im_start|>",
                                   eos_token="<|im_end|>", unk_token="<|endoftext|>",
                                   pad_token="<|im_end|>")
    fast.chat_template = CHAT_TEMPLATE
    out.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(str(out))
    return fast


def build_spm_tokenizer(out: Path):
    """A sentencepiece-style BPE tokenizer (``▁`` for spaces, byte fallback, ``<0xAB>``
    byte tokens, ``<unk> <s> </s>`` first), like Llama 2's tokenizer.json."""
    import json

    from tokenizers import Tokenizer, decoders, models, normalizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(byte_fallback=True, unk_token="<unk>", fuse_unk=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"),
                                           normalizers.Replace(" ", "\u2581")])
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(),
                                     decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    specials = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    tok.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=400, special_tokens=specials,
                                                        show_progress=False))
    data = json.loads(tok.to_str())  # byte tokens are ordinary vocabulary entries
    data["added_tokens"] = [a for a in data["added_tokens"] if not a["content"].startswith("<0x")]
    out.mkdir(parents=True, exist_ok=True)
    (out / "tokenizer.json").write_text(json.dumps(data), encoding="utf-8")
    fast = PreTrainedTokenizerFast(tokenizer_file=str(out / "tokenizer.json"), bos_token="<s>",
                                   eos_token="</s>", unk_token="<unk>")
    fast.save_pretrained(str(out))
    return fast


def config_for(arch: str, vocab: int, *, tied: bool = True):
    from transformers import Gemma3TextConfig, LlamaConfig, Qwen2Config

    common = {"vocab_size": vocab, "hidden_size": 64, "intermediate_size": 128,
              "num_attention_heads": 4, "num_key_value_heads": 2,
              "max_position_embeddings": 256, "rms_norm_eps": 1e-5, "tie_word_embeddings": tied,
              "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 2}
    if arch == "llama":
        return LlamaConfig(num_hidden_layers=2, rope_theta=10000.0, **common)
    if arch == "qwen2":
        return Qwen2Config(num_hidden_layers=2, rope_theta=10000.0, **common)
    if arch == "gemma3":
        return Gemma3TextConfig(num_hidden_layers=6, head_dim=16, query_pre_attn_scalar=16,
                                sliding_window=8, **common)
    raise ValueError(arch)


def build_model(out: Path, arch: str = "llama", *, tied: bool = True, seed: int = 0,
                pre: str = "gpt-2") -> Path:
    """A tiny random ``arch`` model with the tokenizer above (``pre="spm"``: the
    sentencepiece-style one), saved as safetensors in ``out``. Returns ``out``."""
    import torch
    from transformers import AutoModelForCausalLM

    out = Path(out)
    tok = build_spm_tokenizer(out) if pre == "spm" else build_tokenizer(out, pre=pre)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config_for(arch, len(tok), tied=tied))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim >= 2:
                p.normal_(0.0, 1.0 if "embed" in name else 0.15)
            elif "norm" in name:
                p.uniform_(0.8, 1.2) if arch != "gemma3" else p.uniform_(-0.2, 0.2)
            else:
                p.normal_(0.0, 0.1)
    model.save_pretrained(str(out))
    return out
