"""`slm code ask "question" --repo DIR`: answers about a repository with cited lines.

The repository is indexed (incrementally) into its own collection by :mod:`.code`; the
question is answered by :func:`slmkit.rag.answer.answer` over a :class:`CodeRetriever`,
which puts the chunks *defining* a symbol the question names (``parse_config``,
``Store.pull``) before the hybrid ranking, so a question about a function reads that
function first. Citations are checked by :mod:`slmkit.rag.cite` like every RAG answer
and shown as ``path:line-line`` relative to the repository.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from slmkit.core.apps import AppForm, FormField
from slmkit.core.engine import Engine
from slmkit.core.retrieval import Passage
from slmkit.rag.code import collection_name, ingest_repo, parse_header
from slmkit.rag.retrieve import STOP_WORDS, search
from slmkit.rag.store import Collection

SYSTEM = ("The sources are functions, classes and documents of a code repository, each "
          "headed by its kind, qualified name and file. Name the functions or classes your "
          "answer relies on.")
_TERM = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


def symbol_terms(query: str) -> list[str]:
    """Words of the question that may name a symbol (3+ characters, not stop words)."""
    out = []
    for t in _TERM.findall(query):
        if len(t) >= 3 and t.lower() not in STOP_WORDS and t not in out:
            out.append(t)
    return out


def _names(symbol: str, term: str) -> bool:
    return symbol == term or symbol.endswith("." + term)


class CodeRetriever:
    """A ``core.retrieval.Retriever``: chunks defining a named symbol first (``ranks
    ["exact"]``), then the hybrid ranking."""

    def __init__(self, collection: Collection, embedder, *, mode: str = "hybrid") -> None:
        self.collection, self.embedder, self.mode = collection, embedder, mode

    def definitions(self, terms: list[str], limit: int) -> list[int]:
        """Ids of chunks whose header names one of ``terms``, the first piece first."""
        found: dict[int, tuple[int, int]] = {}
        for rank, term in enumerate(terms):
            rows = self.collection.conn.execute(
                "SELECT id, text, coalesce(line_start, 0) FROM chunks WHERE "
                "instr(text, '.' || ?1 || ' in ') > 0 OR instr(text, ' ' || ?1 || ' in ') > 0 "
                "LIMIT 50", (term,)).fetchall()
            for cid, text, line in rows:
                head = parse_header(text)
                if head and _names(head[1], term) and cid not in found:
                    found[cid] = (rank, line)
        return sorted(found, key=lambda c: found[c])[:limit]

    def retrieve(self, query: str, k: int = 5) -> list[Passage]:
        hits = search(self.collection, self.embedder, query, k=k, mode=self.mode)
        ids = self.definitions(symbol_terms(query), k)
        if not ids:
            return hits
        known = {p.chunk_id: p for p in hits}
        extra = self._passages([c for c in ids if c not in known], query)
        first = [dataclasses.replace(known.get(c) or extra[c],
                                     ranks={**(known.get(c) or extra[c]).ranks, "exact": 1})
                 for c in ids if c in known or c in extra]
        rest = [p for p in hits if p.chunk_id not in ids]
        return (first + rest)[:k]

    def _passages(self, ids: list[int], query: str) -> dict[int, Passage]:
        import numpy as np

        if not ids:
            return {}
        rows = self.collection.chunk_rows(ids)
        vecs = self.collection.vectors(ids)
        q = np.asarray(self.embedder.embed([query])[0], dtype=np.float32)
        out = {}
        for cid, r in rows.items():
            sim = float(np.frombuffer(vecs[cid], dtype=np.float32) @ q) if cid in vecs else 0.0
            out[cid] = Passage(cid, r["text"], r["path"], 0.0, round(sim, 6), r["page"],
                               r["line_start"], r["line_end"], r["doc_type"])
        return out


def cite(p: Passage, root: Path) -> str:
    """``src/pkg/mod.py:12-30`` for a passage of the repository at ``root``."""
    try:
        rel = Path(p.source).resolve().relative_to(root).as_posix()
    except ValueError:
        rel = p.source
    if p.line_start:
        return f"{rel}:{p.line_start}-{p.line_end or p.line_start}"
    return rel


def ask_repo(engine: Engine, embedder, repo: str | Path, question: str, *,
             collection: str | None = None, home=None, k: int = 5, max_tokens: int = 256,
             update: bool = True, progress=None) -> dict[str, Any]:
    """Index ``repo`` (unless ``update`` is false and it is indexed), then answer."""
    from slmkit.rag.answer import answer

    if not isinstance(question, str) or not question.strip():
        raise ValueError("the question is empty")
    root = Path(repo).resolve()
    name = collection or collection_name(root)
    with Collection(name, home, create=update) as coll:
        index = ingest_repo(coll, root, embedder, progress=progress) if update else None
        ans = answer(engine, CodeRetriever(coll, embedder), question, k=k,
                     max_tokens=max_tokens, system=SYSTEM)
    out = ans.to_dict()
    for c, p in zip(out["citations"], ans.cited_passages(), strict=True):
        c["cite"] = cite(p, root)
    for s, p in zip(out["sources"], ans.passages, strict=True):
        s["cite"] = cite(p, root)
    out.update(repo=str(root), collection=name)
    if index is not None:
        out["index"] = {key: len(getattr(index, key)) for key in
                        ("added", "updated", "unchanged", "removed", "failed")}
        out["index"].update(chunks=index.chunks, seconds=round(index.seconds, 2))
    return out


def render(result: dict[str, Any]) -> str:
    """The answer, then its checked citations as ``path:line-line``."""
    lines = [result["answer"]]
    if result["rejected_citations"]:
        wrong = ", ".join(f"[{n}]" for n in result["rejected_citations"])
        lines.append(f"\n(the model cited {wrong}, which does not support the answer: dropped)")
    if result["citations"]:
        how = "" if result["cited_by_model"] else " (attributed by word overlap, checked)"
        lines.append(f"\nsources{how}:")
        lines += [f"  [{c['n']}] {c['cite']}" for c in result["citations"]]
    elif not result["grounded"]:
        lines.append("\n(not grounded: no source supports this answer)")
    return "\n".join(lines)


ASK_FORM = AppForm(
    "Code: ask about a repository", "코드: 저장소에 묻기", "table", (
        FormField("question", "text", "Question", "질문", "e.g. where is the config parsed?",
                  "예: 설정은 어디서 읽나요?", required=True),
        FormField("repo", "text", "Repository", "저장소", "a folder on the server indexed with "
                  "`slm code ask ... --repo DIR`", "서버에서 `slm code ask ... --repo DIR`로 "
                  "색인한 폴더", required=True),
        FormField("k", "number", "Passages", "참고 구절 수", default=5, minimum=1, maximum=20),
        FormField("update", "boolean", "Re-read changed files first", "바뀐 파일 먼저 다시 읽기",
                  default=True),
        FormField("model", "model", "Model", "모델")),
    "An answer that cites path:line-line, each citation checked against the code.",
    "path:줄-줄을 인용하는 답변; 인용은 코드와 대조해 확인합니다.")


class CodeAskApp:
    """``POST /v1/apps/code/ask``: ``{"question", "repo", "k"?, "model"?, "update"?}``.

    Only a repository already indexed from this machine's CLI (`slm code ask … --repo DIR`)
    can be asked about: the server never indexes a folder a client names, it only refreshes
    (``"update": true``, the default) the files of one its operator indexed."""

    name = "code/ask"
    form = ASK_FORM

    def __init__(self, engines, embedder_for, *, home=None) -> None:
        self.engines, self.embedder_for, self.home = engines, embedder_for, home

    def run(self, payload: dict[str, Any], progress=None) -> dict[str, Any]:
        from slmkit.apps import payload as P
        from slmkit.rag.store import CollectionNotFoundError, list_collections

        question, repo = P.field(payload, "question", str), P.field(payload, "repo", str)
        if not question or not repo:
            raise ValueError("question and repo (a folder indexed by `slm code ask`) are "
                             "required")
        k = P.field(payload, "k", int, 5)
        if not 1 <= k <= 20:
            raise ValueError(f"k: must be 1..20, got {k}")
        name = collection_name(repo)
        if name not in list_collections(self.home):
            err = CollectionNotFoundError(name)
            err.hint = ("index it on the server's machine first: "
                        f"slm code ask QUESTION --repo {repo}")
            raise err
        with Collection(name, self.home) as coll:
            embedder = self.embedder_for(coll.embedder)
        with self.engines(P.field(payload, "model", str)) as engine:
            return {"object": "code.answer", **ask_repo(
                engine, embedder, repo, question, home=self.home, k=k,
                update=P.field(payload, "update", bool, True))}
