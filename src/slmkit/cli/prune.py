"""`slm prune MODEL`: unstructured / N:M pruning (wanda, magnitude) or structured pruning
(whole layers, MLP channels), calibrated on your text.

Without ``-o`` the result is registered in the store as ``--name`` (the GGUF) and
``--name``-hf (the Hugging Face directory), with the source as parent; with ``-o DIR`` both
are written there and left alone.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from pathlib import Path

from slmkit.cli.output import add_json_flag

CPU_NOTE = ("note: unstructured/N:M zeros are stored and multiplied like any other weight in "
            "GGUF, so llama.cpp on CPU runs this model at the same speed and size as the "
            "dense one; use --structured depth|width for a faster model")


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="stored model name, .gguf file or Hugging Face directory")
    g = p.add_argument_group("unstructured / N:M")
    g.add_argument("--method", choices=("wanda", "magnitude"), default=None,
                   help="wanda: |W|·||X|| from calibration activations (default); "
                        "magnitude: |W| only")
    g.add_argument("--sparsity", default=None, metavar="S",
                   help="fraction zeroed, e.g. 0.5, or an N:M pattern such as 2:4")
    s = p.add_argument_group("structured (a smaller model)")
    s.add_argument("--structured", choices=("depth", "width", "heads"),
                   help="depth: drop whole decoder layers; width: drop MLP channels; heads: "
                        "drop attention KV groups (a KV head and its query heads)")
    s.add_argument("--ratio", type=float, metavar="R",
                   help="share removed: of the layers (depth), MLP channels (width) or KV "
                        "groups (heads)")
    s.add_argument("--multiple-of", type=int, default=32, metavar="N",
                   help="width: keep a multiple of N channels (default 32, a quant block)")
    p.add_argument("--data", metavar="FILE",
                   help="calibration text: a .txt/.jsonl/.csv file or a named dataset "
                        "(e.g. wikipedia)")
    p.add_argument("--samples", type=int, default=32, metavar="N",
                   help="calibration sequences (default 32)")
    p.add_argument("--seq-len", type=int, default=256, metavar="N",
                   help="tokens per calibration sequence (default 256)")
    p.add_argument("--type", default="f16", choices=("f32", "f16", "q8_0"),
                   help="GGUF type of the result (default f16)")
    p.add_argument("--name", help="store name of the result (default: derived)")
    p.add_argument("-o", "--output", metavar="DIR",
                   help="write hf/ and model-<type>.gguf here instead of the store")
    p.add_argument("--force", action="store_true", help="replace an existing name/output")
    p.add_argument("--no-pull", action="store_true",
                   help="fail instead of pulling a catalog model that is not stored")
    add_json_flag(p)


def default_name(source: str, args) -> str:
    base = re.sub(r"[^a-z0-9._:+-]+", "-", Path(source).name.lower()).strip("-") or "model"
    if args.structured:
        return f"{base}-{args.structured}{round(args.ratio * 100)}"
    sp = args.sparsity.replace(":", "of")
    if ":" not in args.sparsity:
        sp = str(round(float(args.sparsity) * 100))
    return f"{base}-{args.method}{sp}"


def _check(args) -> None:
    if args.structured:
        if args.ratio is None:
            raise ValueError("--structured needs --ratio R (e.g. 0.25)")
        if args.method or args.sparsity:
            raise ValueError("give either --structured/--ratio or --method/--sparsity, not both")
        if not args.data:
            raise ValueError("--structured needs --data FILE (calibration text)")
        return
    if args.sparsity is None:
        raise ValueError("give --sparsity S (e.g. 0.5 or 2:4), or --structured depth|width "
                         "--ratio R")
    args.method = args.method or "wanda"


def run(args) -> int:
    from slmkit.cli.output import print_json, stderr_console
    from slmkit.compress import prune as unstructured
    from slmkit.compress import structured
    from slmkit.compress.train_io import register
    from slmkit.models.store import Store, validate_name

    _check(args)
    store = Store()
    ref = store.resolve(args.model, pull_missing=not args.no_pull)
    name = args.name or default_name(ref.name, args)
    register_it = args.output is None
    if register_it:
        validate_name(name)
        if store.has(name) and not args.force:
            raise ValueError(f"{name!r} is already in the store; pass --force or --name")
        store.tmp.mkdir(parents=True, exist_ok=True)
        out = Path(tempfile.mkdtemp(prefix="prune-", dir=store.tmp))
    else:
        out = Path(args.output).expanduser()
        if out.exists() and any(out.iterdir()) and not args.force:
            raise FileExistsError(f"{out} exists and is not empty (pass --force)")
    quiet = args.json or not sys.stderr.isatty()
    con = None if quiet else stderr_console()
    try:
        if con:
            what = (f"{args.structured} {args.ratio:g}" if args.structured
                    else f"{args.method} {args.sparsity}")
            con.print(f"[dim]pruning {ref.name} ({what}) …[/]")
        if args.structured:
            report = structured.prune(ref.path, str(out), mode=args.structured,
                                      ratio=args.ratio, data=args.data, n_samples=args.samples,
                                      seq_len=args.seq_len, multiple_of=args.multiple_of,
                                      gguf_type=args.type, extra={"parent": ref.name})
        else:
            report = unstructured.prune(ref.path, str(out), method=args.method,
                                        sparsity=args.sparsity, data=args.data,
                                        n_samples=args.samples, seq_len=args.seq_len,
                                        gguf_type=args.type, extra={"parent": ref.name})
            report.pop("layers", None)
            report["cpu_speed_note"] = CPU_NOTE
        if register_it:
            paths = register(store, Path(report["gguf"]), Path(report["hf_dir"]), name,
                             parent=ref.name, method=report["method_tag"])
            report.update({"name": name, "hf_name": f"{name}-hf", "gguf": paths["gguf"],
                           "hf_dir": paths["hf"]})
    finally:
        if register_it:
            shutil.rmtree(out, ignore_errors=True)
    report.update({"source": ref.name, "registered": register_it})
    if args.json:
        print_json(report)
        return 0
    _print(report)
    return 0


def _print(r: dict) -> None:
    where = f"stored as {r['name']} (+ {r['hf_name']})" if r["registered"] else r["gguf"]
    if "mode" in r:
        if r["mode"] == "depth":
            shape = (f"{r['layers_before']} → {r['layers_after']} layers "
                     f"(dropped {r['dropped_layers']})")
        elif r["mode"] == "heads":
            shape = (f"attention {r['heads_before']}/{r['kv_heads_before']} → "
                     f"{r['heads_after']}/{r['kv_heads_after']} query/KV heads")
        else:
            shape = f"MLP {r['intermediate_before']} → {r['intermediate_after']} channels"
        print(f"{r['source']} → {r['method_tag']}: {shape}; parameters "
              f"{r['parameters_before'] / 1e6:.1f}M → {r['parameters_after'] / 1e6:.1f}M; {where}")
        return
    print(f"{r['source']} → {r['method_tag']}: {r['achieved_sparsity']:.1%} of "
          f"{r['pruned_weights'] / 1e6:.1f}M decoder weights zeroed; {where}")
    print(r["cpu_speed_note"], file=sys.stderr)
