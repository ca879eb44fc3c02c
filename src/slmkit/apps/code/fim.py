"""Fill-in-the-middle prompts with the model's own FIM tokens, and the stop rules around them.

The FIM tokens are looked up in the loaded model's vocabulary (the GGUF's): a family is
used when each of its marker texts tokenizes to exactly one token. Families:

- ``qwen``: ``<|fim_prefix|>…<|fim_suffix|>…<|fim_middle|>`` (Qwen2.5-Coder, CodeGemma),
  repository context as ``<|repo_name|>``/``<|file_sep|>`` blocks;
- ``starcoder``: ``<fim_prefix>…<fim_suffix>…<fim_middle>`` (StarCoder/StarCoder2,
  SantaCoder), ``<repo_name>``/``<file_sep>``;
- ``codellama``: ``<PRE> … <SUF>… <MID>`` (CodeLlama; ``<EOT>`` ends the middle);
- ``deepseek``: ``<｜fim▁begin｜>…<｜fim▁hole｜>…<｜fim▁end｜>`` (DeepSeek-Coder).

User text is tokenized so that marker-like text inside it (``<|fim_middle|>`` in a string
literal) never becomes a special token. The finisher trims what the known failures leave:
special-token text, the suffix repeated at the end, and a last statement cut in half
(``truncate.complete_prefix``).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from slmkit.apps.code.truncate import complete_prefix, language_of
from slmkit.core.engine import Engine
from slmkit.core.errors import SlmError
from slmkit.core.types import GenerateRequest, SamplingParams


class NoFimTokensError(SlmError):
    """The model has no fill-in-the-middle tokens."""

    code = "fim_unsupported"


@dataclass(frozen=True)
class FimFormat:
    """One family's marker texts (as the vocabulary spells them) and its order."""

    name: str
    prefix: str
    suffix: str
    middle: str
    file_sep: str | None = None
    repo_name: str | None = None
    ends: tuple[str, ...] = ()

    def markers(self) -> tuple[str, ...]:
        """Every special text of the family (never allowed in a completion)."""
        found = (self.prefix, self.suffix, self.middle, self.file_sep, self.repo_name)
        return tuple(m for m in found if m) + self.ends


FORMATS: tuple[FimFormat, ...] = (
    FimFormat("qwen", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>",
              "<|file_sep|>", "<|repo_name|>", ("<|endoftext|>", "<|fim_pad|>",
                                                 "<|file_separator|>", "<|im_end|>")),
    FimFormat("starcoder", "<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<file_sep>",
              "<repo_name>", ("<|endoftext|>", "<fim_pad>")),
    FimFormat("codellama", "<PRE>", "<SUF>", "<MID>", ends=("<EOT>", "</s>")),
    FimFormat("codellama", "▁<PRE>", "▁<SUF>", "▁<MID>", ends=("▁<EOT>", "</s>")),
    FimFormat("deepseek", "<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>",
              ends=("<｜end▁of▁sentence｜>", "<|EOT|>")),
)
_ANY_MARKER = re.compile("|".join(sorted({re.escape(m) for f in FORMATS for m in f.markers()},
                                         key=len, reverse=True)) + r"|<\|[A-Za-z_]+\|>")
_detected: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def detect_format(engine: Engine) -> FimFormat:
    """The FIM family of ``engine``'s vocabulary (cached per engine)."""
    try:
        cached = _detected.get(engine)
    except TypeError:
        cached = None
    if cached is not None:
        return cached
    for fmt in FORMATS:
        if all(len(engine.tokenize(t, add_special=False)) == 1
               for t in (fmt.prefix, fmt.suffix, fmt.middle)):
            try:
                _detected[engine] = fmt
            except TypeError:
                pass
            return fmt
    raise NoFimTokensError(
        f"model {engine.info.name!r} has no fill-in-the-middle tokens in its vocabulary",
        hint="use a code model with FIM tokens, e.g. qwen2.5-coder-0.5b-instruct "
             "(slm pull qwen2.5-coder-0.5b-instruct)")


def safe_tokens(engine: Engine, text: str) -> list[int]:
    """Tokens of user text in which no marker-like substring becomes a special token."""
    out: list[int] = []
    pos = 0
    for m in _ANY_MARKER.finditer(text):
        if m.start() > pos:
            out += engine.tokenize(text[pos:m.start()], add_special=False)
        out += engine.tokenize(m.group()[0], add_special=False)
        out += engine.tokenize(m.group()[1:], add_special=False)
        pos = m.end()
    if pos < len(text):
        out += engine.tokenize(text[pos:], add_special=False)
    return out


@dataclass
class Infill:
    """One fill-in-the-middle request: the text around the cursor and repository context."""

    prefix: str
    suffix: str = ""
    extra: Sequence[dict] = ()  # [{"filename": ..., "text": ...}] from other files
    middle_start: str = ""      # text already typed after the cursor's prefix (llama.cpp)
    filename: str = ""
    max_tokens: int = 128
    sampling: SamplingParams | None = None
    stop: Sequence[str] = ()
    truncate: bool = True       # cut the completion to a complete statement/block


def _budget(engine: Engine, req: Infill) -> tuple[int, int]:
    """Token budgets (prefix, suffix): llama.cpp's split, suffix at most a quarter."""
    room = max(64, engine.info.n_ctx - req.max_tokens - 16)
    return room - room // 4, room // 4


def build(engine: Engine, req: Infill) -> tuple[GenerateRequest, Callable[[str], str]]:
    """(the generation request, the finisher for its text) for one infill."""
    fmt = detect_format(engine)
    one = lambda t: engine.tokenize(t, add_special=False)  # noqa: E731 - a marker's id
    bos = engine.tokenize("", add_special=True)
    pre_budget, suf_budget = _budget(engine, req)
    prefix = safe_tokens(engine, req.prefix)
    suffix = safe_tokens(engine, req.suffix)[:suf_budget]
    ctx: list[int] = []
    if fmt.file_sep and req.extra:
        for chunk in req.extra:
            ctx += one(fmt.file_sep) + safe_tokens(
                engine, f"{chunk.get('filename', '')}\n{chunk.get('text', '')}\n")
        ctx += one(fmt.file_sep) + safe_tokens(engine, f"{req.filename or 'current'}\n")
    keep = max(0, pre_budget - len(ctx))
    if len(prefix) > keep:  # keep the end of the prefix, then the end of the context
        prefix = prefix[-keep:] if keep else []
        ctx = []
    ctx = ctx[-max(0, pre_budget - len(prefix)):] if ctx else []
    middle = safe_tokens(engine, req.middle_start) if req.middle_start else []
    # DeepSeek's begin/hole/end sit where the others' prefix/suffix/middle markers do.
    tokens = bos + ctx + one(fmt.prefix) + prefix + one(fmt.suffix) + suffix + \
        one(fmt.middle) + middle
    stops = list(req.stop) + [m for m in fmt.markers() if m not in req.stop]
    first = next((ln.strip() for ln in req.suffix.splitlines() if ln.strip()), "")
    if len(first) >= 6 and first not in stops:
        stops.append(first)  # the model starting to repeat what follows the cursor
    gen = GenerateRequest(prompt_tokens=tokens, max_tokens=req.max_tokens,
                          sampling=req.sampling or SamplingParams(temperature=0.0, seed=0),
                          stop=tuple(stops))
    return gen, lambda text: finish(text, req, fmt)


def finish(text: str, req: Infill, fmt: FimFormat | None = None) -> str:
    """The completion with leaked markers cut, no overlap with the suffix, and (with
    ``req.truncate``) ending at a complete statement or block."""
    cut = _ANY_MARKER.search(text)
    if cut:
        text = text[:cut.start()]
    text = trim_suffix_overlap(text, req.suffix)
    if req.truncate and text.strip():
        lang = language_of(req.filename, req.prefix)
        if lang == "python":
            text = cut_dedent(req.prefix + req.middle_start, text, req.suffix)
        text = complete_prefix(req.prefix + req.middle_start, text, req.suffix, lang)
    body = text.rstrip()
    return body + "\n" if "\n" in text[len(body):] else text  # one final newline at most


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def cut_dedent(before: str, middle: str, after: str) -> str:
    """Python: when the code after the cursor continues at a shallower indentation than
    the cursor's block, the completion stops before its first line at that depth (those
    lines belong after the hole: the model not stopping)."""
    cursor_line = before.rsplit("\n", 1)[-1]
    cursor = _indent(cursor_line)
    rest = after.split("\n", 1)[1] if "\n" in after else ""
    nxt = next((ln for ln in rest.splitlines() if ln.strip()), None)
    if nxt is None or _indent(nxt) >= cursor:
        return middle
    limit = _indent(nxt)
    lines = middle.split("\n")
    for i, line in enumerate(lines[1:], 1):
        if line.strip() and _indent(line) <= limit:
            return "\n".join(lines[:i]).rstrip() + "\n"
    return middle


def trim_suffix_overlap(text: str, suffix: str) -> str:
    """Remove a tail of ``text`` that repeats the start of ``suffix`` (whole lines, or the
    exact text at the cursor) — the model writing what already follows."""
    if not text or not suffix.strip():
        return text
    head = suffix.lstrip("\n")
    first = head.splitlines()[0].strip() if head.strip() else ""
    if first:
        lines = text.splitlines(keepends=True)
        for i, line in enumerate(lines):
            if line.strip() == first:
                return "".join(lines[:i])
    for k in range(min(len(text), len(head)), 0, -1):
        if text.endswith(head[:k]) and head[:k].strip() and k >= 3:
            return text[:-k]
    return text


class FimInfiller:
    """``core.apps.Infiller`` over :func:`build` (what ``slm serve`` puts on its state)."""

    FIELDS = {"prefix", "suffix", "extra", "middle_start", "filename", "max_tokens",
              "sampling", "stop", "truncate"}

    def __init__(self, default_model: str | None = None) -> None:
        self.default_model = default_model

    def build(self, engine: Engine, fields: dict) -> tuple[GenerateRequest, Callable[[str], str]]:
        """The request and finisher for one infill (see :func:`build`)."""
        unknown = set(fields) - self.FIELDS
        if unknown:
            raise ValueError(f"unknown infill fields: {', '.join(sorted(unknown))}")
        return build(engine, Infill(**{k: v for k, v in fields.items() if v is not None}))
