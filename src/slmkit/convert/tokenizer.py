"""A GGUF tokenizer (``tokenizer.*`` keys) for a Hugging Face directory.

Two ways, in order: carried over from the GGUF the directory was converted from (the
sidecar :data:`~slmkit.convert.constants.SIDECAR` — exact, whatever the tokenizer), or
built from ``tokenizer.json`` for the tokenizer kinds llama.cpp implements:

- byte-level BPE (``tokenizer.ggml.model = gpt2``) with a pre-tokenizer llama.cpp knows
  (:data:`~slmkit.convert.constants.KNOWN_PRE_TYPES`), recognised from tokenizer.json's
  pre-tokenizer structure and split regex;
- sentencepiece-style BPE with byte fallback (``llama``), scored by vocabulary order (the
  merge order of a sentencepiece BPE model).

Anything else raises :class:`UnsupportedTokenizerError` saying what was found.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from slmkit.convert import constants as C
from slmkit.core.errors import SlmError


class UnsupportedTokenizerError(SlmError):
    code = "unsupported_tokenizer"


def add_tokenizer(writer, model_dir: Path, n_vocab: int) -> str:
    """Add the ``tokenizer.*`` keys for ``model_dir`` to a ``gguf.GGUFWriter``; returns
    where they came from (``"source gguf"`` or ``"tokenizer.json (gpt2/<pre>)"`` …)."""
    sidecar = model_dir / C.SIDECAR
    if sidecar.is_file():
        return _carry_over(writer, sidecar, n_vocab)
    return _from_tokenizer_json(writer, model_dir, n_vocab)


def _carry_over(writer, sidecar: Path, n_vocab: int) -> str:
    from slmkit.convert.to_hf import read_sidecar

    for key, value, vtype, sub in read_sidecar(sidecar):
        if key.startswith(C.CARRY_PREFIXES) and key not in C.CARRY_SKIP:
            if key == "tokenizer.ggml.tokens" and len(value) != n_vocab:
                raise SlmError(f"{sidecar} lists {len(value)} tokens but the model has "
                               f"{n_vocab} embedding rows",
                               hint=f"the model was resized after conversion: delete {sidecar} "
                                    "to rebuild the tokenizer from tokenizer.json")
            writer.add_key_value(key, value, vtype, sub)
    return "source gguf"


def _from_tokenizer_json(writer, model_dir: Path, n_vocab: int) -> str:
    import gguf

    hf_tok, tj = effective_tokenizer(model_dir)
    model = tj.get("model") or {}
    kind = _tokenizer_kind(tj)
    tokens, types = _vocabulary(tj, n_vocab, kind)
    special = gguf.SpecialVocab(model_dir, load_merges=(kind == "gpt2"), n_vocab=n_vocab)
    writer.add_tokenizer_model(kind)
    if kind == "gpt2":
        pre = detect_pre_tokenizer(tj)
        writer.add_tokenizer_pre(pre)
        writer.add_token_list(tokens)
        writer.add_token_types(types)
        label = f"tokenizer.json (gpt2/{pre})"
    else:
        writer.add_tokenizer_pre("default")
        writer.add_token_list(tokens)
        writer.add_token_scores([0.0 if t != C.TOKEN_NORMAL else -float(i)
                                 for i, t in enumerate(types)])
        writer.add_token_types(types)
        writer.add_add_space_prefix(_adds_space_prefix(tj))
        label = "tokenizer.json (llama/sentencepiece-bpe)"
    if model.get("unk_token") and kind == "llama":
        special.special_token_ids.setdefault("unk", model["vocab"].get(model["unk_token"], 0))
    if hf_tok is not None:  # say it explicitly: llama.cpp's default differs per tokenizer kind
        special.add_special_token.update(_adds_specials(hf_tok))
    special.add_to_gguf(writer, quiet=True)
    return label


def effective_tokenizer(model_dir: Path):
    """(transformers tokenizer or None, tokenizer.json data of the pipeline it runs).

    The pipeline can differ from the file: for some model types (qwen2, …) transformers
    rebuilds the pre-tokenizer from its own definition, and llama.cpp must split text the
    way the torch side does."""
    if not (model_dir / "tokenizer.json").is_file():
        raise UnsupportedTokenizerError(
            f"{model_dir} has no tokenizer.json (and no {C.SIDECAR} from a GGUF source)",
            hint="save the tokenizer with save_pretrained into the model directory")
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    backend = getattr(tok, "backend_tokenizer", None)
    if backend is None:
        return None, json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8"))
    return tok, json.loads(backend.to_str())


def _adds_specials(tok) -> dict[str, bool]:
    """Whether the tokenizer puts BOS in front / EOS at the end of plain text."""
    with_special = tok("a", add_special_tokens=True).input_ids
    bare = tok("a", add_special_tokens=False).input_ids
    bos, eos = tok.bos_token_id, tok.eos_token_id
    return {"bos": bool(bos is not None and len(with_special) > len(bare)
                        and with_special[0] == bos),
            "eos": bool(eos is not None and len(with_special) > len(bare)
                        and with_special[-1] == eos)}


def _tokenizer_kind(tj: dict) -> str:
    model = tj.get("model") or {}
    decoders = json.dumps(tj.get("decoder") or {})
    if model.get("type") == "BPE" and not model.get("byte_fallback") and "ByteLevel" in decoders:
        return "gpt2"
    if model.get("type") == "BPE" and model.get("byte_fallback"):
        return "llama"
    raise UnsupportedTokenizerError(
        f"tokenizer.json holds a {model.get('type')!r} model"
        f"{' with byte fallback' if model.get('byte_fallback') else ''} that llama.cpp has no "
        "tokenizer for here (supported: byte-level BPE, sentencepiece-style BPE)",
        hint="convert from the model's original GGUF, or use the torch engine on the directory")


def _vocabulary(tj: dict, n_vocab: int, kind: str) -> tuple[list[str], list[int]]:
    vocab: dict[str, int] = tj["model"]["vocab"]
    tokens: list[str | None] = [None] * n_vocab
    types = [C.TOKEN_NORMAL] * n_vocab
    for text, i in vocab.items():
        if i < n_vocab:
            tokens[i] = text
            if kind == "llama" and re.fullmatch(r"<0x[0-9A-Fa-f]{2}>", text):
                types[i] = C.TOKEN_BYTE
    for added in tj.get("added_tokens") or []:
        i = added["id"]
        if i < n_vocab:
            tokens[i] = added["content"]
            types[i] = C.TOKEN_CONTROL if added.get("special") else C.TOKEN_USER_DEFINED
    unk = tj["model"].get("unk_token")
    if unk in vocab and vocab[unk] < n_vocab:
        types[vocab[unk]] = C.TOKEN_UNKNOWN
    for i, t in enumerate(tokens):
        if t is None:
            tokens[i], types[i] = f"[PAD{i}]", C.TOKEN_UNUSED
    return tokens, types  # type: ignore[return-value]


def detect_pre_tokenizer(tj: dict) -> str:
    """llama.cpp's ``tokenizer.ggml.pre`` name for a byte-level tokenizer.json, from the
    structure of its pre-tokenizer; ``UnsupportedTokenizerError`` when it is none we know."""
    pre = tj.get("pre_tokenizer") or {}
    items = pre.get("pretokenizers", []) if pre.get("type") == "Sequence" else [pre]
    kinds = [p.get("type") for p in items]
    if kinds == ["ByteLevel"] and items[0].get("use_regex", True):
        return "gpt-2"
    if (kinds == ["Digits", "ByteLevel"] and items[0].get("individual_digits")
            and items[1].get("use_regex", True)):
        return "smollm"
    if kinds == ["Split", "ByteLevel"] and not items[1].get("use_regex", True):
        regex = (items[0].get("pattern") or {}).get("Regex")
        if regex in C.SPLIT_PRE_TYPES:
            return C.SPLIT_PRE_TYPES[regex]
    raise UnsupportedTokenizerError(
        f"unrecognised byte-level pre-tokenizer {kinds} in tokenizer.json; llama.cpp would "
        f"split text differently from the model's own tokenizer (known here: "
        f"{', '.join(C.KNOWN_PRE_TYPES)})",
        hint="convert from the model's original GGUF, or use the torch engine on the directory")


def _adds_space_prefix(tj: dict) -> bool:
    blob = json.dumps([tj.get("normalizer"), tj.get("pre_tokenizer")])
    return '"Prepend"' in blob or '"prepend_scheme": "always"' in blob \
        or '"prepend_scheme": "first"' in blob or '"add_prefix_space": true' in blob
