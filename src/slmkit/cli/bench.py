"""`slm bench [MODEL]`: load time, prompt and decode speed, time to first token, peak RSS."""

from __future__ import annotations

import sys

from slmkit.cli.args import Opt, engine, json_option, model, options


def configure(p) -> None:
    model(p)
    engine(p)
    options(p, compare=Opt([], "also measure these (ratios are against the first), e.g. "
                               "--compare smollm2-135m-instruct@torch", "MODEL[@ENGINE]",
                           action="extend", nargs="+"),
            threads=Opt(0, "CPU threads for every configuration (0: the free physical cores)"),
            ctx=Opt(2048, "context window"),
            gen=Opt(128, "tokens to generate for the decode rate"),
            repeat=Opt(3, "repetitions per measurement; medians are reported"),
            no_pull=Opt(False, "fail instead of pulling a catalog model that is not stored"),
            out=Opt(None, "write PREFIX.json, PREFIX.md and PREFIX.png", "PREFIX"),
            chart=Opt(None, "write the chart here", "PNG"))
    json_option(p)


def run(args) -> int:
    from slmkit.cli.common import resolve_model
    from slmkit.cli.output import print_json, progress
    from slmkit.evaluate import speed
    from slmkit.evaluate.report import bench_chart, bench_markdown, write
    from slmkit.models.load import check_fit
    from slmkit.models.speeds import record_bench

    if args.repeat < 1 or args.gen < 2:
        raise ValueError("--repeat must be >= 1 and --gen >= 2")
    configs = []
    for i, spec in enumerate([args.model, *args.compare]):
        m = resolve_model(spec, args, args.engine if i == 0 else "auto")
        check_fit(m, n_ctx=args.ctx)  # before any child process starts loading
        configs.append(speed.BenchConfig(m.name, m.path, m.backend, args.threads,
                                         args.ctx, args.gen, args.repeat))
    with progress(args) as bars:
        run_ = speed.compare(configs, progress=bars)
    record_bench(run_)  # the web UI's models page shows the last decode speed
    md = bench_markdown(run_)
    chart = args.chart or (f"{args.out}.png" if args.out else None)
    if chart:
        run_["chart"] = str(bench_chart(run_, chart))
    if args.out:
        write(run_, md, args.out)
    if args.json:
        return print_json(run_)
    sys.stdout.write(md + (f"chart: {chart}\n" if chart else ""))
    return 0
