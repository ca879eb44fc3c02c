"""``POST /v1/apps/code/review`` and ``/v1/apps/code/doc`` as ``core.apps.AppHandler``\\ s.

The code travels in the payload; the server reads nothing from its own disk.

- review: ``{"diff": "..."}`` (with ``"files": {"path": "text"}`` to give the files the
  diff applies to: then the deterministic checks and patches cover them too) or
  ``{"path": "app.py", "text": "..."}``; ``"checks_only": true`` skips the model.
  Answer: ``{"object": "code.review", "findings", "dropped", "targets", "calls"}``.
- doc: ``{"path": "app.py", "text": "...", "private": false}`` → ``{"object": "code.doc",
  "patch", "added", "skipped"}``.

``"model"`` picks the model (default: the server's default model).
"""

from __future__ import annotations

from typing import Any

from slmkit.apps import payload as P
from slmkit.apps.code import forms
from slmkit.apps.code.doc import document, model_writer
from slmkit.apps.code.review import from_diff, from_file, review
from slmkit.apps.llm import Calls
from slmkit.core.apps import EngineSource, Progress


def _files(payload: dict[str, Any]) -> dict[str, str]:
    files = P.field(payload, "files", dict, {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        raise ValueError("files: must map paths to file texts (strings)")
    return files


class CodeReviewApp:
    """Review a diff or a file: verified findings with lines, severity and patches."""

    name = "code/review"
    form = forms.REVIEW

    def __init__(self, engines: EngineSource) -> None:
        self.engines = engines

    def run(self, payload: dict[str, Any], progress: Progress | None = None) -> dict[str, Any]:
        diff, text = P.field(payload, "diff", str), P.field(payload, "text", str)
        if (diff is None) == (text is None):
            raise ValueError("give exactly one of diff (a unified diff) or text (with path)")
        if diff is not None:
            files = _files(payload)
            sources = from_diff(diff, files.get)
        else:
            sources = [from_file(P.field(payload, "path", str, "input.py"), text)]
        if P.field(payload, "checks_only", bool, False):
            return {"object": "code.review", "model": None,
                    **review(None, sources, progress=progress)}
        model = P.field(payload, "model", str)
        with self.engines(model) as engine:
            out = review(engine, sources, progress=progress)
        return {"object": "code.review", "model": model, **out}


class CodeDocApp:
    """Missing docstrings of a Python file as a patch."""

    name = "code/doc"
    form = forms.DOC

    def __init__(self, engines: EngineSource) -> None:
        self.engines = engines

    def run(self, payload: dict[str, Any], progress: Progress | None = None) -> dict[str, Any]:
        text = P.field(payload, "text", str)
        if text is None:
            raise ValueError("text: the Python source to document is required")
        path = P.field(payload, "path", str, "input.py")
        private = P.field(payload, "private", bool, False)
        model, calls = P.field(payload, "model", str), Calls()
        with self.engines(model) as engine:
            out = document(path, text, model_writer(engine, calls), private=private,
                           progress=progress)
        return {"object": "code.doc", "model": model, "calls": calls.to_dict(), **out}
