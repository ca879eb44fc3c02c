"""A sentence embedder on ONNX Runtime: no torch, no sentence-transformers at load or query
time (the one-shot ``slm rag query`` starts in well under a second instead of ~10 s).

Reads a directory made by :func:`slmkit.convert.embedder_onnx.sentence_to_onnx`
(``model.onnx``, ``tokenizer.json``, ``slmkit-embedder.json``). Texts are tokenized with the
model's own fast tokenizer, sorted by length and run in batches (``batch_size``, default 1,
see :data:`DEFAULT_BATCH`) padded only to the longest text of the batch;
the last hidden state is mean-pooled over real tokens and L2-normalised, as the
sentence-transformers model does. Same interface as
:class:`slmkit.runtime.sentence.SentenceEmbedder` (``count_tokens``, ``token_spans``,
``n_special``, ``embed``, ``embed_array``); nothing is truncated silently.

Threads: ``threads`` workers (0: one per physical core, at most :data:`MAX_WORKERS`), each
running whole texts through the one session with a single intra-op thread, spinning off so a
busy machine's other processes are not starved by idle workers. Texts in parallel fill the
cores better than splitting each small matrix product across threads: on 2 idle cores,
~250-token texts, 64 chunks/s against 46 with 2 intra-op threads and 33 with one (four
alternating rounds); ``benchmarks/rag.py`` measures the embedders against torch. A text's
vector does not depend on the layout (one text per run, one thread per run).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

SIDECAR = "slmkit-embedder.json"
# One text per run by default. Measured on 200-token chunks (2 cores): batches of 4 or 8
# are no faster than one at a time (the intra-op threads already fill the cores), and with
# int8 weights activations are quantized per run, so a text's vector would depend on its
# batch mates (cosine 0.987-1.0 to its vector alone). One at a time, a chunk and a query
# are embedded exactly alike, whatever else is ingested with them.
DEFAULT_BATCH = 1
MAX_WORKERS = 4


def default_threads() -> int:
    """One worker per physical core, at most :data:`MAX_WORKERS`."""
    import psutil

    return max(1, min(MAX_WORKERS, psutil.cpu_count(logical=False) or 1))


class OnnxSentenceEmbedder:
    """An ONNX encoder directory; ``name`` is what collections record."""

    def __init__(self, path: str, *, name: str | None = None, threads: int = 0,
                 batch_size: int = DEFAULT_BATCH) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        root = Path(path)
        try:
            meta = json.loads((root / SIDECAR).read_text())
        except (OSError, ValueError) as err:
            raise ValueError(f"{path} is not an ONNX embedder directory ({SIDECAR}: {err}); "
                             "make one with slmkit.convert.embedder_onnx") from None
        self.path, self.name = str(root), name or root.name
        self.dimension, self.max_tokens = int(meta["dimension"]), int(meta["max_tokens"])
        self.normalize, self.precision = bool(meta.get("normalize", True)), meta.get("precision")
        self.tokenizer = Tokenizer.from_file(str(root / "tokenizer.json"))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self.n_special = len(self.tokenizer.encode("", add_special_tokens=True).ids)
        self.batch_size, self.threads = batch_size, threads or default_threads()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads, opts.inter_op_num_threads = 1, 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(str(root / "model.onnx"), opts,
                                            providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self.session.get_inputs()}

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=True).ids)

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return list(self.tokenizer.encode(text, add_special_tokens=False).offsets)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return self.embed_array(texts).tolist()

    def embed_array(self, texts: Sequence[str], *, check: bool = True):
        """float32 array ``[len(texts), dimension]``, L2-normalised. ``ValueError`` for a
        text over ``max_tokens`` (``check=False``: the caller counted; longer ones are cut
        as sentence-transformers cuts them)."""
        import numpy as np

        texts = list(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        enc = [e.ids for e in self.tokenizer.encode_batch(texts, add_special_tokens=True)]
        worst = max(len(ids) for ids in enc)
        if check and worst > self.max_tokens:
            raise ValueError(f"a text is {worst} tokens but {self.name} reads at most "
                             f"{self.max_tokens}; chunk it first")
        order = sorted(range(len(enc)), key=lambda i: len(enc[i]))
        batches = [order[s: s + self.batch_size] for s in range(0, len(order), self.batch_size)]
        for idx, vecs in zip(batches, self._map(
                lambda idx: self._run([self._cut(enc[i]) for i in idx]), batches), strict=True):
            out[idx] = vecs
        return out

    def _map(self, fn, batches: list):
        """``fn`` over ``batches`` in order, on up to ``threads`` threads (the session's
        ``run`` releases the GIL)."""
        if self.threads < 2 or len(batches) < 2:
            return map(fn, batches)
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(self.threads, len(batches))) as pool:
            return list(pool.map(fn, batches))

    def _cut(self, ids: list[int]) -> list[int]:
        if len(ids) <= self.max_tokens:
            return ids
        return ids[: self.max_tokens - 1] + ids[-1:]  # keep the closing [SEP]

    def _run(self, batch: list[list[int]]):
        import numpy as np

        width = max(len(ids) for ids in batch)
        ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, seq in enumerate(batch):
            ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self.session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0]
        m = mask[..., None].astype(np.float32)
        vec = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1.0)
        if self.normalize:
            vec /= np.maximum(np.linalg.norm(vec, axis=1, keepdims=True), 1e-12)
        return vec.astype(np.float32)

    def close(self) -> None:
        self.session = None
