"""Stand-ins for the web UI's browser tests (``tests/browser``): a slow fake engine (to
stop mid-answer), an in-memory collection service that really stores and searches what is
uploaded, and a model admin whose pulls report progress over a second or two."""

from __future__ import annotations

import threading
import time

from helpers.fake_engine import FakeLocal
from slmkit.core.retrieval import Passage


class SlowStream:
    """Wraps a fake stream: ``delay`` seconds before each chunk; records an early close."""

    def __init__(self, inner, delay: float, engine: SlowFake) -> None:
        self.inner, self.delay, self.engine = inner, delay, engine
        self.finished = False

    def __iter__(self):
        return self

    def __next__(self):
        time.sleep(self.delay)
        chunk = next(self.inner)
        self.finished = chunk.finish_reason is not None
        return chunk

    def close(self) -> None:
        if not self.finished:
            self.engine.cancelled.set()
        self.inner.close()


class SlowFake(FakeLocal):
    """A fake engine that answers slowly (``delay`` s a word): time to press Stop."""

    def __init__(self, *, delay: float = 0.05, **kw) -> None:
        super().__init__(**kw)
        self.delay, self.cancelled = delay, threading.Event()

    def generate(self, request):
        return SlowStream(super().generate(request), self.delay, self)


class MemoryCollections:
    """A ``core.retrieval.CollectionService`` in memory: documents split into lines, a
    query returns the lines sharing the most words with it."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, str]] = {}

    def list(self):
        return [{"name": n, "documents": len(d),
                 "chunks": sum(len(t.splitlines()) for t in d.values())}
                for n, d in sorted(self.docs.items())]

    def ingest_texts(self, name, documents):
        for d in documents:
            if "FAIL" in d["text"]:
                raise ValueError(f"{d['name']}: this file could not be parsed")
            self.docs.setdefault(name, {})[d["name"]] = d["text"]
        return {"collection": name, "chunks": sum(len(d["text"].splitlines()) for d in documents)}

    def query(self, name, query, *, k=5, mode="hybrid", filters=None):
        words = set(query.lower().split())
        scored = []
        for source, text in self.docs.get(name, {}).items():
            for i, line in enumerate(text.splitlines(), 1):
                score = len(words & set(line.lower().split()))
                if score:
                    scored.append(Passage(i, line, source, float(score), line_start=i, line_end=i))
        return sorted(scored, key=lambda p: -p.score)[:k]

    def drop(self, name):
        return self.docs.pop(name, None) is not None

    def retriever(self, name, *, k=5):
        raise NotImplementedError("not used by the UI tests")


class SlowAdmin:
    """A ``ModelAdmin``: a pull of ``steps`` progress reports, ``delay`` s apart."""

    def __init__(self, steps: int = 10, delay: float = 0.2) -> None:
        self.steps, self.delay = steps, delay
        self.speeds: dict[str, dict] = {}
        self.models = [{"name": "tiny-base", "size_bytes": 1000, "quantization": "F16",
                        "parameters": 1_000_000, "parent": None, "method": None},
                       {"name": "tiny-q4", "size_bytes": 400, "quantization": "Q4_K_M",
                        "parameters": 1_000_000, "parent": "tiny-base", "method": "quantize"},
                       {"name": "other", "size_bytes": 1000, "quantization": "Q8_0",
                        "parameters": 1_000_000, "parent": None, "method": None}]

    def stored(self):
        return [m | {"speed": self.speeds.get(m["name"])} for m in self.models]

    def record_speed(self, name, record):
        self.speeds[name] = dict(record)
        return self.speeds[name]

    def catalog(self):
        return [{"name": "small-chat", "family": "x", "params": 135_000_000, "tier": "tiny",
                 "use": "chat", "licence": "apache-2.0", "offline": True,
                 "memory_bytes": 200_000_000, "quant": "Q4_K_M", "fits": True, "stored": False}]

    def pull(self, name, progress):
        total = 1000 * self.steps
        for i in range(1, self.steps + 1):
            time.sleep(self.delay)
            progress(1000 * i, total)
        self.models.append({"name": name, "size_bytes": total, "quantization": "Q4_K_M",
                            "parameters": 135_000_000, "parent": None, "method": None})
        return {"model": name, "size_bytes": total}

    def remove(self, name):
        self.models = [m for m in self.models if m["name"] != name]
        return 1000


class ReviewApp:
    """A ``core.apps.AppHandler``: "reviews" ``text`` line by line, reporting progress;
    each line holding "TODO" is a finding whose evidence is the line itself."""

    name = "review"

    def run(self, payload, progress=None):
        text = payload.get("text")
        if not isinstance(text, str):
            raise ValueError("text: must be a string")
        lines = text.splitlines()
        findings = []
        for i, line in enumerate(lines, 1):
            if progress is not None:
                progress({"done": i, "total": len(lines), "item": f"line {i}"})
            if "TODO" in line:
                findings.append({"line": i, "issue": "unfinished work", "evidence": line})
        return {"summary": f"{len(findings)} finding(s) in {len(lines)} lines",
                "findings": findings}


class ContractFake:
    """The review app's real declared form over a stand-in reviewer: the party is the text
    after "between" up to the first period, found with the app's own span search (so its
    location is a real character offset); the term is never found."""

    name = "contract"

    def __init__(self) -> None:
        from slmkit.apps.review.handler import FORM

        self.form = FORM

    def run(self, payload, progress=None):
        from slmkit.apps.documents import find_span

        text = payload.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ValueError("give exactly one of text (a string) or documents")
        if progress is not None:
            progress({"document": "text", "field": "party", "done": 1, "total": 2})
        start = text.find("between")
        quote = text[start:text.index(".", start) + 1] if start >= 0 else ""
        span = find_span(text, quote) if quote else None
        party = ({"status": "found", "value": quote[len("between "):-1], "evidence": quote,
                  "location": {"line": text.count("\n", 0, span[0]) + 1, "start": span[0],
                               "end": span[1]}}
                 if span else {"status": "not_found", "reason": "no clause matches the field"})
        fields = {"party": party,
                  "term": {"status": "not_found", "reason": "the model found no value"}}
        return {"object": "reviews", "errors": [], "results": [{
            "document": "text", "language": "en", "fields": fields, "model": "fake",
            "risks": [{"kind": "missing_liability_cap", "why": "no liability cap was found",
                       "clause": None}]}]}
