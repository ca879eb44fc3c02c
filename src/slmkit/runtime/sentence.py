"""Embedders implementing ``core.Embedder``: sentence-transformers over a local model
directory (the offline default, all-MiniLM-L6-v2), and any GGUF model through llama.cpp.

Besides ``dimension``, ``max_tokens`` and ``embed``, both expose the embedder's own
tokenizer so a chunker can cut text that never exceeds the input limit:

- ``count_tokens(text)`` counts the tokens the model sees, special tokens included;
- ``token_spans(text)`` gives ``(start, end)`` character offsets of the text's tokens
  (special tokens excluded); ``n_special`` is how many special tokens a text gets.

Nothing is truncated silently: ``embed`` raises ``ValueError`` for a text over the limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class SentenceEmbedder:
    """A sentence-transformers model directory (``modules.json`` + weights), CPU by default."""

    def __init__(self, path: str, *, name: str | None = None, device: str = "cpu",
                 threads: int = 0, batch_size: int = 64) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        if threads:
            torch.set_num_threads(threads)
        if not (Path(path) / "modules.json").is_file() and not (Path(path) / "config.json").is_file():
            raise ValueError(f"{path} is not a sentence-transformers model directory")
        from slmkit.settings import export_env

        export_env("HF_HUB_OFFLINE", "1")
        self.path, self.name = str(path), name or Path(path).name
        self.model = SentenceTransformer(str(path), device=device, local_files_only=True)
        self.max_tokens = int(self.model.max_seq_length)
        self.tokenizer = _plain_tokenizer(self.model.tokenizer)
        self.dimension = int(self.model.get_embedding_dimension()
                             if hasattr(self.model, "get_embedding_dimension")
                             else self.model.get_sentence_embedding_dimension())
        self.n_special = len(self.tokenizer.encode("", add_special_tokens=True).ids)
        self.batch_size = batch_size

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=True).ids)

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return list(self.tokenizer.encode(text, add_special_tokens=False).offsets)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return self.embed_array(texts).tolist()

    def embed_array(self, texts: Sequence[str], *, check: bool = True):
        """float32 array ``[len(texts), dimension]``, L2-normalised."""
        import numpy as np

        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if check:
            worst = max(len(e.ids) for e in self.tokenizer.encode_batch(texts))
            if worst > self.max_tokens:
                raise ValueError(f"a text is {worst} tokens but {self.name} reads at most "
                                 f"{self.max_tokens}; chunk it first")
        out = self.model.encode(texts, batch_size=self.batch_size, convert_to_numpy=True,
                                normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(out, dtype=np.float32)

    def close(self) -> None:
        self.model = None


def _plain_tokenizer(hf_tokenizer):
    """The fast tokenizer's Rust core without truncation or padding: counts and offsets of
    the whole text, no warnings about lengths."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_str(hf_tokenizer.backend_tokenizer.to_str())
    tok.no_truncation()
    tok.no_padding()
    return tok


class EngineEmbedder:
    """A GGUF embedding model through a loaded llama.cpp engine's ``embed``."""

    def __init__(self, engine, *, name: str | None = None) -> None:
        self.engine, self.name = engine, name or engine.info.name
        self.max_tokens = min(int(engine.info.n_ctx or 512), 2048)
        self.dimension = len(engine.embed(["dimension probe"])[0])
        self.n_special = len(engine.tokenize("", add_special=True))

    def count_tokens(self, text: str) -> int:
        return len(self.engine.tokenize(text, add_special=True))

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans by detokenizing prefixes of the token list (exact, slower)."""
        toks = self.engine.tokenize(text, add_special=False)
        spans, pos = [], 0
        for i in range(len(toks)):
            end = len(self.engine.detokenize(toks[: i + 1]))
            end = min(max(end, pos), len(text))
            spans.append((pos, end))
            pos = end
        return spans

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        for t in texts:
            n = self.count_tokens(t)
            if n > self.max_tokens:
                raise ValueError(f"a text is {n} tokens but {self.name} reads at most "
                                 f"{self.max_tokens}; chunk it first")
        return self.engine.embed(list(texts))

    def embed_array(self, texts: Sequence[str], *, check: bool = True):
        import numpy as np

        return np.asarray(self.embed(texts), dtype=np.float32).reshape(-1, self.dimension)

    def close(self) -> None:
        self.engine.close()


def load_embedder(path: str, *, name: str | None = None, threads: int = 0):
    """An ONNX embedder directory (``slmkit-embedder.json``) →
    :class:`~slmkit.runtime.sentence_onnx.OnnxSentenceEmbedder`; USE resources
    (``weights.npz`` + ``sp.model``) → :class:`~slmkit.runtime.sentence_use.UseEmbedder`;
    another directory →
    :class:`SentenceEmbedder`; a ``.gguf`` file → :class:`EngineEmbedder`."""
    from slmkit.runtime.sentence_onnx import SIDECAR, OnnxSentenceEmbedder  # no heavy import

    from slmkit.runtime.sentence_use import UseEmbedder, is_use_dir

    if (Path(path) / SIDECAR).is_file():
        return OnnxSentenceEmbedder(path, name=name, threads=threads)
    if is_use_dir(path):
        return UseEmbedder(path, name=name, threads=threads)
    if Path(path).is_dir():
        return SentenceEmbedder(path, name=name, threads=threads)
    from slmkit.runtime import load_engine

    engine = load_engine(path, name=name or Path(path).stem, n_ctx=512, n_threads=threads)
    return EngineEmbedder(engine, name=name)
