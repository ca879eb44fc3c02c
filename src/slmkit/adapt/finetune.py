"""`slm finetune` as a library call: train (:func:`slmkit.adapt.train.finetune`), export the
adapter as a llama.cpp LoRA GGUF, optionally compare base and base+adapter on held-apart
examples, and keep it all in ``report.json`` next to the adapter."""

from __future__ import annotations

import json
from pathlib import Path

from slmkit.adapt.train import TrainConfig, finetune
from slmkit.core.errors import SlmError


def finetune_model(store, model: str | None, data: str, config: TrainConfig, *,
                   eval_path: str | None = None, progress=None,
                   pull_missing: bool = True) -> dict:
    """Fine-tune the stored (or path) ``model`` on ``data`` into ``config.output`` (default
    ``./finetune-<model>-<method>``) and export ``adapter.gguf`` for LoRA/QLoRA (an
    architecture llama.cpp adapters lack gives ``adapter_gguf: None`` and the reason in
    ``adapter_gguf_error``). Returns the report (also written to ``report.json``), with
    ``base`` and ``base_path`` for :func:`compare`."""
    ref = store.resolve(model, pull_missing=pull_missing)
    config.output = config.output or f"finetune-{ref.name}-{config.method}"
    result = finetune(ref.path, data, config, eval_path=eval_path, base_name=ref.name,
                      base_sha256=ref.sha256, progress=progress)
    report = {**result.to_dict(), "base": ref.name, "base_path": ref.path}
    if config.method != "full":
        from slmkit.adapt.export import export_for_base

        out = Path(config.output)
        try:
            report["adapter_gguf"] = str(export_for_base(out, ref.path, out / "adapter.gguf",
                                                         base_sha256=ref.sha256,
                                                         overwrite=True))
        except (SlmError, ValueError) as err:
            report["adapter_gguf"], report["adapter_gguf_error"] = None, str(err)
    save_report(report)
    return report


def compare(engine, eval_path: str, *, limit: int = 100, adapter: str = "tuned") -> dict:
    """Base vs base+adapter on the first ``limit`` held-apart examples of ``eval_path``;
    ``engine`` is the base with the adapter loaded under the name ``adapter``."""
    from slmkit.adapt.data import read_records
    from slmkit.adapt.evaluate import measure

    records = read_records(eval_path)[:limit]
    return {"before": measure(engine, records),
            "after": measure(engine.with_adapter(adapter), records)}


def compare_with_base(report: dict, eval_path: str, *, limit: int = 100,
                      n_threads: int = 0) -> dict:
    """:func:`compare` for a :func:`finetune_model` report: the base (a GGUF file) with the
    exported ``adapter.gguf``, in llama.cpp; ``{"skipped": why}`` when that cannot run."""
    from slmkit.models.load import load
    from slmkit.runtime.torch.loader import is_gguf

    if not report.get("adapter_gguf"):
        return {"skipped": "no adapter GGUF was written"}
    if not is_gguf(report["base_path"]):
        return {"skipped": "the base is not a GGUF file"}
    with load(report["base_path"], backend="llamacpp", n_ctx=2048, n_threads=n_threads,
              adapters={"tuned": report["adapter_gguf"]}) as eng:
        return compare(eng, eval_path, limit=limit)


def data_warnings(report: dict) -> str | None:
    """Examples skipped for being over ``max_seq_len``, one line per data file."""
    lines = []
    for key in ("train", "eval"):
        d = report.get(key)
        if d and d["skipped_too_long"]:
            lines.append(f"{d['path']}: skipped {d['skipped_too_long']} of {d['records']} "
                         f"examples over --max-seq-len (lines {d['too_long_lines']})")
    return "\n".join(lines) or None


def save_report(report: dict) -> Path:
    """Write ``report`` to ``<output>/report.json``."""
    path = Path(report["output"]) / "report.json"
    path.write_text(json.dumps(report, indent=2, default=str))
    return path


def print_summary(con, report: dict) -> None:
    """The report on a rich console: steps, speed, memory, losses, the before/after table
    of the held-apart evaluation, and where the result was written."""
    from rich.table import Table

    hist = [h for h in report["history"] if "loss" in h]
    evals = [h for h in report["history"] if "eval_loss" in h]
    con.print(f"{report['method']} fine-tune of {report['base']}: {report['steps']} steps in "
              f"{report['seconds']:.1f} s, {report['tokens_per_second']:.0f} tokens/s, "
              f"peak RSS {report['peak_rss_mb']:.0f} MB, "
              f"{report['trainable_params']:,} trainable parameters", highlight=False)
    if hist:
        con.print(f"train loss {hist[0]['loss']:.3f} → {hist[-1]['loss']:.3f}"
                  + (f"; eval loss {evals[0]['eval_loss']:.3f} → {evals[-1]['eval_loss']:.3f}"
                     if evals else ""), highlight=False)
    if "before" in (c := report.get("compare") or {}):
        table = Table("held-apart", "base", "base+adapter")
        for k in ("accuracy", "answer_ppl", "text_ppl"):
            if c["before"].get(k) is not None:
                table.add_row(k, f"{c['before'][k]:.4g}", f"{c['after'][k]:.4g}")
        con.print(table)
    gguf = report.get("adapter_gguf")
    con.print(f"written to {report['output']}" + (f" (adapter GGUF: {gguf})" if gguf else ""),
              highlight=False)
