"""Facts about stored models and model files, as `slm list` / `slm show` print them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from slmkit.core.errors import ModelNotFoundError
from slmkit.models import catalog
from slmkit.models.gguf_file import read_gguf
from slmkit.models.sources import is_source_spec


def list_rows(store) -> list[dict[str, Any]]:
    """One row per stored model: name, kind, size, quantization, parameters, modified,
    source, sha256 and lineage (parent, method)."""
    rows = []
    for ref in store.list():
        m = store.manifest(ref.name)
        gguf = m.get("gguf") or {}
        rows.append({
            "name": m["name"], "kind": m.get("kind"), "size_bytes": m["size"],
            "quantization": gguf.get("quantization"), "parameters": gguf.get("parameters"),
            "modified": m.get("created"), "source": m.get("source"), "sha256": m["sha256"],
            "parent": m.get("parent"), "method": m.get("method"),
        })
    return rows


def describe(store, model: str) -> tuple[dict[str, Any], Any]:
    """(facts, GGUFInfo or None for directories) of a stored model or a .gguf path: name,
    kind, path, size, sha256, source, created, lineage, GGUF summary, licence, template."""
    path = Path(model).expanduser()
    if is_source_spec(model) and not path.exists():
        raise ModelNotFoundError(model, hint=f"no such file: {path}")
    if path.is_file() and (path.suffix.lower() == ".gguf" or not store.has(model)):
        info = read_gguf(path)
        facts = {"name": path.stem, "kind": "llm", "path": str(path.resolve()),
                 "size_bytes": path.stat().st_size, "sha256": None,
                 "source": f"file:{path.resolve()}", "created": None}
        return _with_gguf(facts, info, None), info
    manifest = store.manifest(model)
    blob = store.blob_path(model)
    facts = {"name": manifest["name"], "kind": manifest.get("kind"), "path": str(blob),
             "size_bytes": manifest["size"], "sha256": manifest["sha256"],
             "source": manifest.get("source"), "created": manifest.get("created"),
             "files": manifest.get("files", [])}
    info = read_gguf(blob) if manifest.get("digest") != "tree" else None
    return _with_gguf(facts, info, manifest.get("licence")), info


def _with_gguf(facts: dict[str, Any], info: Any, licence: str | None) -> dict[str, Any]:
    entry = catalog.get(facts["name"])
    summary = info.summary() if info is not None else {}
    facts.update({k: v for k, v in summary.items() if k not in ("name", "licence")})
    facts["model_name"] = summary.get("name")
    facts["licence"] = (entry.licence if entry else None) or licence or summary.get("licence")
    facts["chat_template"] = info.chat_template if info is not None else None
    if entry is not None:  # what `slm run`/`slm serve` send when a request leaves them out
        facts["defaults"] = {"context": _default_ctx(entry.context_length),
                             **dict(entry.prompt_defaults)}
        if entry.korean:
            facts["korean"] = entry.korean
    return facts


def _default_ctx(trained: int) -> int:
    """The context a model opens with when none is asked for (setting model.ctx, capped
    at the trained length)."""
    from slmkit.settings import get_settings

    return min(get_settings().ctx, trained)


def show_lines(facts: dict[str, Any]) -> list[tuple[str, str]]:
    """The (label, value) lines `slm show` prints for :func:`describe`'s facts; unknown
    values are left out."""
    from slmkit.util.text import format_bytes, format_params

    lines = [
        ("architecture", facts.get("architecture")), ("model name", facts.get("model_name")),
        ("parameters", format_params(facts.get("parameters"))),
        ("quantization", facts.get("quantization")),
        ("context length", facts.get("context_length")),
        ("embedding", facts.get("embedding_length")), ("layers", facts.get("block_count")),
        ("vocabulary", facts.get("vocab_size")), ("licence", facts.get("licence")),
        ("size", format_bytes(facts.get("size_bytes"))), ("sha256", facts.get("sha256")),
        ("path", facts.get("path")), ("source", facts.get("source")),
    ]
    if facts.get("defaults"):
        lines.append(("defaults", ", ".join(f"{k} {v!r}" if isinstance(v, str) else f"{k} {v}"
                                            for k, v in facts["defaults"].items())))
    if facts.get("korean"):
        lines.append(("korean", facts["korean"]))
    if facts.get("architecture") is None and facts.get("files"):
        lines.insert(0, ("files", str(len(facts["files"]))))
    return [(label, str(v)) for label, v in lines if v not in (None, "", "-")]


TEMPLATE_PREVIEW_LINES = 8


def show_text(facts: dict[str, Any], *, full_template: bool = False) -> list[str]:
    """Every line `slm show` prints under the name: :func:`show_lines`, the chat template
    (its first lines unless ``full_template``) and the GGUF metadata when ``facts`` has it."""
    lines = [f"  {label:<16}{value}" for label, value in show_lines(facts)]
    if template := (facts.get("chat_template") or "").splitlines():
        shown = template if full_template else template[:TEMPLATE_PREVIEW_LINES]
        lines += ["  chat template", *(f"    {line}" for line in shown)]
        if len(shown) < len(template):
            lines.append(f"    … {len(template) - len(shown)} more lines (--template shows all)")
    if "metadata" in facts:
        lines.append("  metadata")
        for key, value in facts["metadata"].items():
            text = str(value).replace("\n", "\\n")
            lines.append(f"    {key} = {text[:200]}")
    return lines


def list_table(rows: list[dict[str, Any]]):
    """:func:`list_rows` as the rich table `slm list` prints."""
    from rich.table import Table

    from slmkit.util.text import format_bytes, format_params

    table = Table(box=None, header_style="bold")
    for col in ("NAME", "SIZE", "QUANT", "PARAMS", "MODIFIED", "SOURCE"):
        table.add_column(col, no_wrap=col != "SOURCE")
    for r in rows:
        table.add_row(r["name"], format_bytes(r["size_bytes"]), r["quantization"] or "-",
                      format_params(r["parameters"]),
                      (r["modified"] or "-")[:16].replace("T", " "), r["source"] or "-")
    return table
