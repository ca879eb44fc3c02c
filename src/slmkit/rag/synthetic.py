"""An offline corpus and QA set for tests and the benchmark.

Two kinds of documents, written to a folder together with ``qa.jsonl``:

- **prose**: passages of packaged Wikipedia text (the caller passes them in, e.g. from
  ``slmkit.evaluate.datasets``), a few per file, as .md, .txt and .html. Each question names
  the content words of one sentence ("What does the text say about …?"); the relevant chunk
  is the one holding a span of that sentence.
- **identifier**: runbooks, a ticket log (.jsonl) and a parts list (.csv) whose entries are
  near-identical except for their identifiers (error codes ``ERR-4012``, tickets
  ``OPS-7781``, parts ``PN-48213-B``), so a question is answerable only by the identifier.

Held-out passages (not written) give ``unanswerable`` questions, used to measure the
"I don't know" threshold. Everything is deterministic for a given seed.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

COMPONENTS = ["hydraulic pump", "coolant valve", "conveyor motor", "pressure sensor",
              "spindle drive", "vacuum gripper", "servo controller", "air compressor"]
SYMPTOMS = ["stops during start-up", "overheats after an hour of load",
            "reports readings outside the calibrated range", "vibrates at full speed",
            "loses its network connection", "trips the safety relay",
            "makes a grinding noise", "reports a timeout to the line controller"]
ACTIONS = ["replace the seal kit", "recalibrate the sensor", "update the firmware",
           "tighten the mounting bolts", "clean the intake filter", "swap the power supply",
           "reset the controller and re-run the homing cycle", "replace the bearing"]
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]+")
_SENT = re.compile(r"(?<=[.!?])\s+")
_COMMON = frozenset(["the", "a", "an", "and", "of", "in", "on", "to", "for", "with", "was", "were", "is", "are", "by", "as", "at", "from", "his", "her", "their", "its", "this", "that", "which", "who", "he", "she", "it", "they", "be", "been", "has", "had", "have", "not", "but", "or", "also", "into", "after", "before", "during", "about", "than", "then", "there", "when", "where", "while", "other", "first", "new", "one", "two", "would", "could", "should", "may", "might", "more", "most", "such", "some", "only", "over", "under", "between"])


@dataclass
class Corpus:
    folder: Path
    qa_path: Path
    n_documents: int
    n_questions: int


def _ids(rng: random.Random, n: int) -> list[tuple[str, str, str]]:
    errs, tickets, parts = set(), set(), set()
    while len(errs) < n:
        errs.add(f"ERR-{rng.randint(1000, 9999)}")
    while len(tickets) < n:
        tickets.add(f"OPS-{rng.randint(1000, 9999)}")
    while len(parts) < n:
        parts.add(f"PN-{rng.randint(10000, 99999)}-{rng.choice('ABCDEFGH')}")
    # sort first: a set's order depends on the interpreter's string hash seed
    errs_l, parts_l = sorted(errs), sorted(parts)
    rng.shuffle(errs_l)
    rng.shuffle(parts_l)
    return list(zip(errs_l, sorted(tickets), parts_l, strict=True))


def identifier_documents(rng: random.Random, n_entries: int = 96, per_file: int = 12
                         ) -> tuple[dict[str, str], list[dict]]:
    """(file name → text, questions) for the identifier-heavy part."""
    files: dict[str, str] = {}
    qa: list[dict] = []
    entries = []
    for err, ticket, part in _ids(rng, n_entries):
        c, s, a = rng.choice(COMPONENTS), rng.choice(SYMPTOMS), rng.choice(ACTIONS)
        entries.append((err, ticket, part, c, s, a))
    for f in range(0, n_entries, per_file):
        blocks = [f"# Maintenance runbook {f // per_file + 1}\n"]
        for err, ticket, part, c, s, a in entries[f: f + per_file]:
            blocks.append(f"## {err}\n\nThe {c} {s}. Resolution: {a}. Spare part {part}. "
                          f"Tracked in ticket {ticket}.\n")
        files[f"runbook-{f // per_file + 1:02d}.md"] = "\n".join(blocks)
    tickets = [json.dumps({"ticket": t, "error": e, "status": rng.choice(["open", "closed"]),
                           "summary": f"{c} {s}"}) for e, t, _, c, s, _ in entries]
    files["tickets.jsonl"] = "\n".join(tickets) + "\n"
    rows = ["part,component,used_for"] + [f"{p},{c},{e}" for e, _, p, c, _, _ in entries]
    files["parts.csv"] = "\n".join(rows) + "\n"
    for i, (err, ticket, part, c, s, a) in enumerate(entries):
        book = f"runbook-{i // per_file + 1:02d}.md"
        qa.append({"question": f"What is the resolution for error {err}?", "answer": a,
                   "evidence": err, "source": book, "kind": "identifier"})
        if i % 2 == 0:
            qa.append({"question": f"Which spare part is listed for {err}?", "answer": part,
                       "evidence": part, "source": book, "kind": "identifier"})
        if i % 3 == 0:
            qa.append({"question": f"Which error code is ticket {ticket} about?", "answer": err,
                       "evidence": ticket, "source": None, "kind": "identifier"})
    return files, qa


def _keywords(sentence: str, n: int = 6) -> list[str]:
    words = [w for w in _WORD.findall(sentence) if w.lower() not in _COMMON and len(w) > 3]
    ranked = sorted(words, key=lambda w: (not w[0].isupper(), -len(w)))[:n]
    return [w for w in words if w in ranked][:n]


def _question(text: str, rng: random.Random) -> tuple[str, str] | None:
    """(question, evidence span) from one sentence of ``text``."""
    sentences = [s.strip() for s in _SENT.split(text) if 10 <= len(s.split()) <= 40]
    if not sentences:
        return None
    s = rng.choice(sentences)
    words = s.split()
    mid = max(0, len(words) // 2 - 3)
    kw = _keywords(s)
    if len(kw) < 3:
        return None
    return f"What does the text say about {' '.join(kw)}?", " ".join(words[mid: mid + 6])


def prose_documents(passages: list[str], rng: random.Random, *, n_files: int = 40,
                    per_file: int = 4, holdout: int = 30) -> tuple[dict[str, str], list[dict]]:
    """(file name → text, questions); ``holdout`` passages only give unanswerable ones."""
    pool = [p.strip() for p in passages if len(p.split()) > 40]
    # the packaged set repeats each passage with shuffled sentences: keep distinct ones
    seen, distinct = set(), []
    for p in pool:
        key = " ".join(sorted(_SENT.split(p)))
        if key not in seen:
            seen.add(key)
            distinct.append(p)
    rng.shuffle(distinct)
    used = distinct[: n_files * per_file]
    held = distinct[n_files * per_file: n_files * per_file + holdout]
    files, qa = {}, []
    exts = [".md", ".txt", ".html"]
    for f in range(0, len(used), per_file):
        group = used[f: f + per_file]
        ext = exts[(f // per_file) % 3]
        name = f"article-{f // per_file + 1:03d}{ext}"
        if ext == ".html":
            body = "".join(f"<p>{p}</p>\n" for p in group)
            files[name] = f"<html><head><title>{name}</title></head><body>\n{body}</body></html>\n"
        else:
            files[name] = "\n\n".join(group) + "\n"
        for p in group:
            q = _question(p, rng)
            if q:
                qa.append({"question": q[0], "evidence": q[1], "source": name, "kind": "prose"})
    for p in held:
        q = _question(p, rng)
        if q:
            qa.append({"question": q[0], "evidence": q[1], "source": None,
                       "kind": "unanswerable", "answerable": False})
    return files, qa


def build_corpus(folder: str | Path, passages: list[str] | None = None, *, seed: int = 0,
                 n_identifier: int = 96, n_prose_files: int = 40,
                 qa_name: str = "qa.jsonl") -> Corpus:
    """Write the corpus into ``folder/docs`` and the questions to ``folder/qa_name``."""
    rng = random.Random(seed)
    folder = Path(folder)
    docs = folder / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    files, qa = identifier_documents(rng, n_identifier)
    if passages:
        more, more_qa = prose_documents(passages, rng, n_files=n_prose_files)
        files.update(more)
        qa += more_qa
    for name, text in files.items():
        (docs / name).write_text(text, encoding="utf-8")
    qa_path = folder / qa_name
    with open(qa_path, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(item, ensure_ascii=False) + "\n" for item in qa)
    return Corpus(docs, qa_path, len(files), len(qa))
