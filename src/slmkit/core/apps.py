"""What the server sees of an app (summarize, review, logs, code). Standard library only.

An app is library code in ``slmkit.apps``; the CLI builds one :class:`AppHandler` per HTTP
name and puts them in ``app.state.apps`` (a ``{name: handler}`` mapping), so ``serve`` mounts
them (``serve/routes_apps.py``: ``POST /v1/apps/{name}``) without importing ``apps``.
A name may contain ``/`` for sub-actions (``logs/detect``): it is simply another key.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from typing import Any, Protocol, runtime_checkable

from slmkit.core.engine import Engine
from slmkit.core.errors import SlmError

#: ``progress(event)``: a JSON-able dict such as ``{"done": 2, "total": 5, "item": "a.pdf"}``.
#: Over HTTP each event is streamed to a client that asked for ``"stream": true``. It may
#: raise :class:`AppCancelled` when the client has gone away: let it propagate.
Progress = Callable[[dict[str, Any]], None]

#: ``engines(model)``: a context manager lending the Engine named ``model`` (``None``: the
#: server's default model) for the duration of the ``with`` block. The CLI builds one over
#: the server's model registry, so apps share loaded models with the chat routes.
EngineSource = Callable[[str | None], AbstractContextManager[Engine]]


class AppCancelled(SlmError):
    """The caller stopped waiting (the HTTP client disconnected); the run should stop."""

    code = "cancelled"


@runtime_checkable
class AppHandler(Protocol):
    """One app as a JSON-in, JSON-out service.

    ``run(payload, progress)`` validates ``payload`` first and raises ``ValueError`` with a
    precise message (field and what is wrong) for a bad one — the server answers 400 with
    it — then does the work (on a worker thread) and returns a JSON-able dict. Other
    ``SlmError``\\ s keep their status mapping (a missing model is a 404, …). ``progress``
    may be ``None``; when given, call it between units of work (documents, chunks).
    """

    name: str

    def run(self, payload: dict[str, Any], progress: Progress | None = None) -> dict[str, Any]:
        ...


#: What a form field holds (the web UI draws the matching input):
#: ``document`` text typed or files (sent as ``text``, or ``documents`` with base64 content),
#: ``log`` log text typed or one text file (sent as a list of lines), ``code`` source code
#: or a diff typed or one file (sent as one string; a chosen file's name also fills an empty
#: ``path`` field), ``text`` one line,
#: ``choice`` one of ``choices``, ``number`` an integer in ``minimum``..``maximum``,
#: ``boolean`` a check box, ``model`` a served model's name (empty: the server's default).
FIELD_KINDS = ("document", "log", "code", "text", "choice", "number", "boolean", "model")

#: How the web UI renders a result: ``summaries`` / ``reviews`` (per document, evidence
#: highlighted), ``log_records``, ``log_anomalies``, ``log_explanations``, ``code`` (code and
#: patches as code blocks), ``table`` (any JSON object as headings and tables).
RESULT_KINDS = ("summaries", "reviews", "log_records", "log_anomalies", "log_explanations",
                "code", "table")


@dataclass(frozen=True)
class FormField:
    """One input of an app's form: the payload key ``name``, its kind (``FIELD_KINDS``), an
    English and a Korean label and help line, and for choices/numbers their bounds."""

    name: str
    kind: str
    label: str
    label_ko: str
    help: str = ""  # noqa: A003 - the UI's word for it
    help_ko: str = ""
    choices: tuple[str, ...] = ()
    default: Any = None
    minimum: int | None = None
    maximum: int | None = None
    required: bool = False

    def __post_init__(self) -> None:
        if self.kind not in FIELD_KINDS:
            raise ValueError(f"field {self.name}: kind must be one of {FIELD_KINDS}")
        if self.kind == "choice" and not self.choices:
            raise ValueError(f"field {self.name}: a choice needs choices")


@dataclass(frozen=True)
class AppForm:
    """The form the web UI draws for an app: title and description in English and Korean,
    the fields in order, and how to render the result (``RESULT_KINDS``)."""

    title: str
    title_ko: str
    result: str
    fields: tuple[FormField, ...]
    description: str = ""
    description_ko: str = ""

    def __post_init__(self) -> None:
        if self.result not in RESULT_KINDS:
            raise ValueError(f"form {self.title}: result must be one of {RESULT_KINDS}")

    def to_dict(self) -> dict[str, Any]:
        """The JSON the UI reads (``GET /v1/apps``)."""
        return asdict(self)


@runtime_checkable
class HasForm(Protocol):
    """Optional on a handler: ``form``, the :class:`AppForm` the web UI draws for it.
    Handlers without one get a plain JSON box."""

    form: AppForm


@runtime_checkable
class AppCounters(Protocol):
    """Optional on a handler: counters the server shows on ``/metrics`` at scrape time.

    ``counters()`` returns ``(name, help, labels, value)`` tuples, e.g.
    ``("slm_log_anomalies", "log anomalies by type", {"type": "burst"}, 3.0)`` — rendered as
    the Prometheus counter ``slm_log_anomalies_total{type="burst"} 3.0``. Handlers sharing
    one state may return the same counters: each bound object is read once.
    """

    def counters(self) -> list[tuple[str, str, dict[str, str], float]]:
        ...


@runtime_checkable
class Infiller(Protocol):
    """Fill-in-the-middle for ``POST /infill`` and ``/v1/completions`` with ``suffix``.

    The CLI puts one on ``app.state.infill`` (it lives in ``slmkit.apps.code``).
    ``build(engine, fields)`` takes ``prefix``, ``suffix``, ``extra`` (``[{"filename",
    "text"}]``), ``middle_start``, ``filename``, ``max_tokens``, ``sampling``
    (a ``SamplingParams``) and ``stop``, and returns the generation request (the model's own
    FIM tokens, stop rules) plus ``finish(text) -> text``, which trims a whole completion
    (leaked special text, a repeated suffix, a half-written last statement). It raises
    ``SlmError`` (code ``fim_unsupported``) for a model without FIM tokens.
    ``default_model`` names the model used when a request names none.
    """

    default_model: str | None

    def build(self, engine: Engine, fields: dict[str, Any]) -> tuple[Any, Callable[[str], str]]:
        ...


@runtime_checkable
class Masker(Protocol):
    """Reversible masking of personal data for one document (one vault): ``mask`` replaces
    names, numbers, e-mails, … with placeholders before a remote model sees the text;
    ``unmask`` restores them in what comes back. The CLI builds one from the guard."""

    def mask(self, text: str) -> str: ...

    def unmask(self, text: str) -> str: ...


#: A new :class:`Masker` (a fresh vault) per document.
MaskerFactory = Callable[[], Masker]
