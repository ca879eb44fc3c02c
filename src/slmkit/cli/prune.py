"""`slm prune MODEL`: unstructured / N:M pruning (wanda, magnitude) or structured pruning
(whole layers, MLP channels), calibrated on your text.

Without ``-o`` the result is registered in the store as ``--name`` (the GGUF) and
``--name``-hf (the Hugging Face directory), with the source as parent; with ``-o DIR`` both
are written there and left alone.
"""

from __future__ import annotations

import argparse
import sys

from slmkit.cli.output import add_json_flag


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


def run(args) -> int:
    from slmkit.cli.output import print_json, stderr_console
    from slmkit.compress.prune import PruneSpec, prune_to_store
    from slmkit.models.store import Store

    spec = PruneSpec(args.method, args.sparsity, args.structured, args.ratio,
                     args.multiple_of).checked(args.data)
    if not args.json and sys.stderr.isatty():
        what = spec.method_tag().removeprefix("prune:")
        stderr_console().print(f"[dim]pruning {args.model} ({what}) …[/]")
    report = prune_to_store(Store(), args.model, spec, name=args.name, data=args.data,
                            n_samples=args.samples, seq_len=args.seq_len, gguf_type=args.type,
                            output=args.output, overwrite=args.force,
                            pull_missing=not args.no_pull)
    if args.json:
        print_json(report)
    else:
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
