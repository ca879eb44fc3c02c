"""KL-divergence of a model against a reference model, on the perplexity protocol's tokens.

For every scored position (second half of each chunk, as in :mod:`.perplexity`) we compare
the reference distribution P with the evaluated model's Q: KL(P‖Q), whether both put the
same token first (top-1 agreement), and both perplexities (ΔPPL) — llama.cpp's
``--kl-divergence`` statistics.

The reference pass runs once and is cached on disk (``<store>/cache/kld/<key>.npz``): the
token chunks, the log-probability of each actual next token (float64), and per position
either the full row of log-probabilities or only the ``top_k`` most likely tokens. Rows
are stored as llama.cpp stores them for its own KLD tool: uint16 steps between the row's
minimum and 0 (a 16-bit grid, ~5e-4 in log space — negligible against the KL of even a
Q8_0 model). Full rows cost 2 bytes × vocabulary per position, so they are kept when the
run is short (``FULL_ROWS_BUDGET``) or asked for (``top_k=0``); otherwise the top-k
(default :data:`DEFAULT_TOP_K`) with their ids, and KL is computed over those k tokens
plus one bucket holding all the rest:
``Σ_top p·(log p − log q) + p_rest·(log p_rest − log q_rest)``. That is the exact KL of the
two distributions coarsened to the reference's top-k + "other": never more than the full
KL, and close below it when the reference's tail carries little divergence (measured on
SmolLM2-135M, Q8_0 against F32, wikipedia: 0.92 of the full KL at k=512, 0.95 at 1024).
Reports say which it was (``exact``).
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from slmkit.core.errors import SlmError
from slmkit.evaluate.perplexity import DEFAULT_CHUNK, chunks, nll_stats
from slmkit.evaluate.scoring import adds_bos, log_softmax, logits
from slmkit.util.files import atomic_write

ProgressFn = Callable[[str, int, int], None]
DEFAULT_TOP_K = 512
FULL_ROWS_BUDGET = 64 << 20  # bytes of uint16 rows kept in full without being asked
CACHE_VERSION = 2
U16 = 65535.0


@dataclass
class Reference:
    """A reference model's cached log-probabilities over the evaluation chunks."""

    tokens: np.ndarray        # int32 [n_chunks, chunk]
    first: int                # first scored position in each chunk
    target_logp: np.ndarray   # float64 [N]: log p_ref(actual next token), N = n_chunks·(chunk-1-first)
    top_ids: np.ndarray       # int32 [N, k] best first (only the argmax, [N, 1], for full rows)
    top_logp: np.ndarray      # float32 [N, k] (full rows: [N, n_vocab] in vocabulary order)
    # on disk top_logp is uint16 steps between each row's minimum and 0 (see save/load)
    n_vocab: int
    meta: dict
    quantized: tuple | None = None  # (row_min, steps) as stored on disk

    @property
    def full(self) -> bool:
        return self.top_logp.shape[1] == self.n_vocab

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        row_min, steps = self.quantized or quantize_rows(self.top_logp)
        meta = np.array(json.dumps({**self.meta, "first": self.first, "n_vocab": self.n_vocab}))
        buf = io.BytesIO()
        np.savez_compressed(buf, tokens=self.tokens, target_logp=self.target_logp,
                            top_ids=self.top_ids, row_min=row_min, steps=steps, meta=meta)
        atomic_write(path, buf.getvalue())

    @classmethod
    def load(cls, path: Path) -> Reference:
        with np.load(path) as z:
            meta = json.loads(str(z["meta"]))
            quantized = (z["row_min"], z["steps"])
            return cls(z["tokens"], meta["first"], z["target_logp"], z["top_ids"],
                       dequantize_rows(*quantized, full=z["steps"].shape[1] == meta["n_vocab"]),
                       meta["n_vocab"], meta, quantized)


def quantize_rows(logp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log-prob rows [N, k] → (row minimum float32 [N], uint16 steps [N, k])."""
    row_min = np.minimum(logp.min(axis=1), -1e-6).astype(np.float32)
    steps = np.rint(logp / row_min[:, None] * U16)  # 0 at log p = 0, U16 at the minimum
    return row_min, np.clip(steps, 0, U16).astype(np.uint16)


def dequantize_rows(row_min: np.ndarray, steps: np.ndarray, *, full: bool) -> np.ndarray:
    """The inverse of :func:`quantize_rows`; full rows are renormalised (so that a model
    compared with itself gives KL ≈ 0, not the grid's noise)."""
    logp = steps.astype(np.float64) / U16 * row_min[:, None]
    if full:
        logp = log_softmax(logp)
    return logp.astype(np.float32)


@dataclass
class KLDResult:
    kld_mean: float
    kld_se: float
    kld_median: float
    kld_p99: float
    kld_max: float
    top1_agreement: float
    top1_se: float
    ppl: float
    ppl_se: float
    ppl_reference: float
    delta_ppl: float
    ln_ppl_ratio: float
    ln_ppl_ratio_se: float
    n_scored: int
    n_chunks: int
    top_k: int
    exact: bool
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


def cache_dir() -> Path:
    from slmkit.settings import get_settings

    return get_settings().cache_home / "kld"


def model_identity(path: str) -> dict:
    """What identifies a model file or directory cheaply: resolved path, size, mtime."""
    p = Path(path).resolve()
    files = [p] if p.is_file() else sorted(x for x in p.rglob("*") if x.is_file())
    return {"path": str(p), "size": sum(f.stat().st_size for f in files),
            "mtime_ns": max((f.stat().st_mtime_ns for f in files), default=0)}


def cache_key(**parts) -> str:
    blob = json.dumps({"v": CACHE_VERSION, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def build_reference(engine, text: str, *, chunk: int = DEFAULT_CHUNK,
                    max_chunks: int | None = None, top_k: int = DEFAULT_TOP_K,
                    meta: dict | None = None, progress: ProgressFn | None = None) -> Reference:
    """Run the reference model over the chunks of ``text`` and keep what KLD needs."""
    tokens = engine.tokenize(text, add_special=True)
    pieces = chunks(tokens, chunk, max_chunks, adds_bos(engine))
    if not pieces:
        raise ValueError(f"the text has {len(tokens)} tokens: fewer than one chunk of {chunk}")
    first, n_vocab = chunk // 2, int(engine.info.n_vocab)
    positions = len(pieces) * (chunk - 1 - first)
    short = positions * n_vocab * 2 <= FULL_ROWS_BUDGET
    k = n_vocab if top_k <= 0 or top_k >= n_vocab or short else top_k
    targets, ids, lps = [], [], []
    for i, piece in enumerate(pieces):
        logp = log_softmax(logits(engine, piece, first)[:-1])  # [chunk-1-first, V]
        targets.append(logp[np.arange(len(logp)), piece[first + 1:]])
        if k == n_vocab:
            ids.append(logp.argmax(axis=1)[:, None].astype(np.int32))
            lps.append(logp.astype(np.float32))
        else:
            part = np.argpartition(-logp, k - 1, axis=1)[:, :k]
            order = np.argsort(-np.take_along_axis(logp, part, 1), axis=1, kind="stable")
            top = np.take_along_axis(part, order, 1)
            ids.append(top.astype(np.int32))
            lps.append(np.take_along_axis(logp, top, 1).astype(np.float32))
        if progress:
            progress("reference", i + 1, len(pieces))
    # what the cache file will hold, so a fresh and a cached reference give the same numbers
    quantized = quantize_rows(np.concatenate(lps))
    return Reference(np.array(pieces, dtype=np.int32), first, np.concatenate(targets),
                     np.concatenate(ids), dequantize_rows(*quantized, full=k == n_vocab), n_vocab, {**(meta or {}), "chunk": chunk,
                                                    "top_k": k}, quantized)


def reference_kld(ref: Reference, logq: np.ndarray, rows: slice) -> np.ndarray:
    """KL(P‖Q) for reference rows ``rows`` against the model's log-probs ``logq`` [n, V]."""
    lp = ref.top_logp[rows].astype(np.float64)
    if ref.full:
        return np.maximum((np.exp(lp) * (lp - logq)).sum(axis=1), 0.0)
    lq = np.take_along_axis(logq, ref.top_ids[rows].astype(np.int64), 1)
    p = np.exp(lp)
    kl = (p * (lp - lq)).sum(axis=1)
    p_rest = np.clip(1.0 - p.sum(axis=1), 0.0, 1.0)  # mass outside the top-k: one bucket
    q_rest = np.clip(1.0 - np.exp(lq).sum(axis=1), 1e-30, 1.0)
    tail = p_rest * (np.log(np.maximum(p_rest, 1e-30)) - np.log(q_rest))
    return np.maximum(kl + np.where(p_rest > 0, tail, 0.0), 0.0)


def compare(engine, ref: Reference, *, progress: ProgressFn | None = None) -> KLDResult:
    """KL-divergence, top-1 agreement and ΔPPL of ``engine`` against ``ref``."""
    if int(engine.info.n_vocab) != ref.n_vocab:
        raise SlmError(f"vocabularies differ: the model has {engine.info.n_vocab} tokens, the "
                       f"reference {ref.n_vocab}", hint="KL-divergence needs the same tokenizer")
    t0 = time.perf_counter()
    first, per = ref.first, ref.tokens.shape[1] - 1 - ref.first
    kls, agree, nll = [], [], []
    for c, piece in enumerate(ref.tokens.tolist()):
        logq = log_softmax(logits(engine, piece, first)[:-1])
        rows = slice(c * per, (c + 1) * per)
        kls.append(reference_kld(ref, logq, rows))
        agree.append(logq.argmax(axis=1) == ref.top_ids[rows, 0])
        nll.append(-logq[np.arange(per), piece[first + 1:]])
        if progress:
            progress("kl-divergence", c + 1, len(ref.tokens))
    return _stats(np.concatenate(kls), np.concatenate(agree), np.concatenate(nll), ref,
                  time.perf_counter() - t0)


def _stats(kl: np.ndarray, agree: np.ndarray, nll: np.ndarray, ref: Reference,
           seconds: float) -> KLDResult:
    n = len(kl)
    ppl, ppl_se, _ = nll_stats(nll)
    ref_ppl, _, _ = nll_stats(-ref.target_logp.astype(np.float64))
    diff = nll - (-ref.target_logp.astype(np.float64))
    a = float(agree.mean())
    return KLDResult(
        kld_mean=float(kl.mean()), kld_se=float(kl.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0,
        kld_median=float(np.median(kl)), kld_p99=float(np.percentile(kl, 99)),
        kld_max=float(kl.max()), top1_agreement=a, top1_se=float(np.sqrt(a * (1 - a) / n)),
        ppl=ppl, ppl_se=ppl_se, ppl_reference=ref_ppl, delta_ppl=ppl - ref_ppl,
        ln_ppl_ratio=float(diff.mean()),
        ln_ppl_ratio_se=float(diff.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0,
        n_scored=n, n_chunks=len(ref.tokens), top_k=int(ref.top_logp.shape[1]),
        exact=ref.full, seconds=seconds)


def cached_reference(open_engine: Callable[[], object], text: str, *, identity: dict,
                     chunk: int = DEFAULT_CHUNK, max_chunks: int | None = None,
                     top_k: int = DEFAULT_TOP_K, refresh: bool = False,
                     progress: ProgressFn | None = None) -> tuple[Reference, Path, bool]:
    """The reference for ``identity`` (model + engine + data) from the cache, or computed
    with the engine ``open_engine()`` returns (opened only then, closed after) and saved.
    Returns ``(reference, cache path, was_cached)``."""
    key = cache_key(chunk=chunk, max_chunks=max_chunks, top_k=top_k, **identity)
    path = cache_dir() / f"{key}.npz"
    if path.is_file() and not refresh:
        try:
            return Reference.load(path), path, True
        except (OSError, ValueError, KeyError):
            path.unlink(missing_ok=True)  # a torn or old file: compute again
    engine = open_engine()
    try:
        ref = build_reference(engine, text, chunk=chunk, max_chunks=max_chunks, top_k=top_k,
                              meta=identity, progress=progress)
    finally:
        engine.close()
    ref.save(path)
    return ref, path, False
