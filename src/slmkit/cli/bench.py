"""`slm bench [MODEL]`: load time, prompt and decode speed, time to first token, peak RSS."""

from __future__ import annotations

import argparse
import sys

from slmkit.cli.output import add_json_flag


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", nargs="?", default=None,
                   help="model name, pull spec, .gguf file or HF directory; MODEL@ENGINE picks "
                        "the engine (default: the catalog's default model)")
    p.add_argument("--engine", choices=("auto", "llamacpp", "torch", "onnx"), default="auto",
                   help="auto: llamacpp for GGUF files, onnx for ONNX directories, torch for "
                        "other directories")
    p.add_argument("--compare", nargs="+", action="extend", default=[],
                   metavar="MODEL[@ENGINE]",
                   help="also measure these (ratios are against the first configuration), "
                        "e.g. --compare smollm2-135m-instruct@torch")
    p.add_argument("--threads", type=int, default=0, metavar="N",
                   help="CPU threads for every configuration (default: the free physical cores)")
    p.add_argument("--ctx", type=int, default=2048, metavar="N", help="context window")
    p.add_argument("--gen", type=int, default=128, metavar="N",
                   help="tokens to generate for the decode rate (default 128)")
    p.add_argument("--repeat", type=int, default=3, metavar="N",
                   help="repetitions per measurement; medians are reported (default 3)")
    p.add_argument("--no-pull", action="store_true",
                   help="fail instead of pulling a catalog model that is not stored")
    p.add_argument("--out", metavar="PREFIX", help="write PREFIX.json, PREFIX.md and PREFIX.png")
    p.add_argument("--chart", metavar="PNG", help="write the chart here")
    add_json_flag(p)


def run(args) -> int:
    from slmkit.cli.common import resolve_model
    from slmkit.cli.output import Progress, print_json
    from slmkit.evaluate import speed
    from slmkit.evaluate.report import bench_chart, bench_markdown, write
    from slmkit.models.load import check_fit

    if args.repeat < 1 or args.gen < 2:
        raise ValueError("--repeat must be >= 1 and --gen >= 2")
    configs = []
    for i, spec in enumerate([args.model, *args.compare]):
        model = resolve_model(spec, args, args.engine if i == 0 else "auto")
        check_fit(model, n_ctx=args.ctx)  # before any child process starts loading
        configs.append(speed.BenchConfig(model.name, model.path, model.backend, args.threads,
                                         args.ctx, args.gen, args.repeat))
    with Progress(enabled=not args.json and sys.stderr.isatty()) as progress:
        run_ = speed.compare(configs, progress=progress)
    md = bench_markdown(run_)
    chart = args.chart or (f"{args.out}.png" if args.out else None)
    if chart:
        run_["chart"] = str(bench_chart(run_, chart))
    if args.out:
        write(run_, md, args.out)
    if args.json:
        print_json(run_)
    else:
        sys.stdout.write(md)
        if chart:
            sys.stdout.write(f"chart: {chart}\n")
    return 0
