"""Token-aware chunking with the embedder's own tokenizer.

A chunk holds at most ``min(size, max_tokens - n_special)`` tokens of the embedder, cut at
a paragraph, line or sentence end when one lies in the window's second half, and the next
chunk starts ``overlap`` tokens before the cut (moved to a word start). Every chunk is
re-counted with the embedder's tokenizer and shrunk if it would exceed the input limit,
so nothing is ever truncated silently.

The tokenizer is any object with ``token_spans(text) -> [(start, end)]`` (character
offsets, special tokens excluded), ``count_tokens(text)`` (special tokens included),
``max_tokens`` and ``n_special`` (see ``slmkit.runtime.sentence``).
"""

from __future__ import annotations

from dataclasses import dataclass

from slmkit.rag.loaders import Section

DEFAULT_SIZE = 200
DEFAULT_OVERLAP = 32
SENTENCE_ENDS = ".!?。！？:;"


@dataclass(frozen=True)
class TextChunk:
    text: str
    char_start: int
    char_end: int
    n_tokens: int
    page: int | None = None
    line_start: int | None = None
    line_end: int | None = None


def _boundary_score(text: str, prev_end: int, start: int) -> int:
    """How good a cut is before the token starting at ``start`` (0 = mid-word)."""
    gap = text[prev_end:start]
    if "\n\n" in gap:
        return 4
    if "\n" in gap:
        return 3
    if gap and text[prev_end - 1: prev_end] in SENTENCE_ENDS:
        return 2
    return 1 if gap else 0


def _cut(text: str, spans: list[tuple[int, int]], i: int, j: int) -> int:
    """The best token index in (i + half window, j] to end a chunk at (exclusive)."""
    best, best_score = j, 0
    for b in range(j - 1, i + max(1, (j - i) // 2), -1):
        score = _boundary_score(text, spans[b - 1][1], spans[b][0])
        if score > best_score:
            best, best_score = b, score
            if score == 4:
                break
    return best if best_score >= 2 else j


def _word_start(text: str, spans: list[tuple[int, int]], i: int, limit: int) -> int:
    """Move ``i`` forward (at most to ``limit``) to a token that starts a word."""
    k = i
    while k < limit and spans[k][0] > 0 and not text[spans[k][0] - 1].isspace() \
            and spans[k][0] == spans[k - 1][1]:
        k += 1
    return k if k < limit else i


def chunk_section(section: Section, tokenizer, *, size: int = DEFAULT_SIZE,
                  overlap: int = DEFAULT_OVERLAP) -> list[TextChunk]:
    text = section.text
    spans = [s for s in tokenizer.token_spans(text) if s[1] > s[0]]
    limit = max(1, min(size, tokenizer.max_tokens - tokenizer.n_special))
    overlap = max(0, min(overlap, limit // 2))
    out: list[TextChunk] = []
    i, n = 0, len(spans)
    while i < n:
        j = min(i + limit, n)
        if j < n:
            j = _cut(text, spans, i, j)
        while True:
            start, end = spans[i][0], spans[j - 1][1]
            piece = text[start:end]
            count = tokenizer.count_tokens(piece)
            if count <= tokenizer.max_tokens or j - i <= 1:
                break
            j = max(i + 1, j - (count - tokenizer.max_tokens) - 1)
        if count > tokenizer.max_tokens:
            raise ValueError(f"cannot cut a chunk under {tokenizer.max_tokens} tokens at "
                             f"character {start}")
        first = section.first_line + text.count("\n", 0, start)
        out.append(TextChunk(piece, start, end, count, section.page, first,
                             first + piece.count("\n")))
        if j >= n:
            break
        i = _word_start(text, spans, max(j - overlap, i + 1), j)
    return out


def chunk_sections(sections: list[Section], tokenizer, *, size: int = DEFAULT_SIZE,
                   overlap: int = DEFAULT_OVERLAP) -> list[TextChunk]:
    out: list[TextChunk] = []
    for s in sections:
        out.extend(chunk_section(s, tokenizer, size=size, overlap=overlap))
    return out
