"""`slm run [MODEL] PROMPT`: stream one answer to stdout."""

from __future__ import annotations

import sys

from slmkit.cli.args import Opt, json_option, options, sampling, settings_loading


def configure(p) -> None:
    p.add_argument("args", nargs="+", metavar="[MODEL] PROMPT",
                   help="optional model (name, pull spec, .gguf file, HF or ONNX directory; "
                        "MODEL@ENGINE picks the engine) then the prompt; '-' reads stdin")
    options(p, raw=Opt(False, "send the prompt verbatim (no chat template or system prompt)"),
            logprobs=Opt(None, "also report each token's log-probability and N alternatives "
                               "(--json)", "N", int),
            truncate=Opt(False, "drop the start of a prompt longer than the context"))
    settings_loading(p)
    sampling(p)
    json_option(p)


def split_model_prompt(values: list[str]) -> tuple[str | None, str]:
    if len(values) > 2:
        raise ValueError("expected [MODEL] PROMPT; quote a prompt that contains spaces")
    model, prompt = (None, values[0]) if len(values) == 1 else (values[0], values[1])
    if prompt == "-":
        prompt = sys.stdin.read()
    if not prompt.strip():
        raise ValueError("the prompt is empty")
    return model, prompt


def run(args) -> int:
    from slmkit.apps.chat import one_request
    from slmkit.cli.common import open_engine
    from slmkit.cli.output import print_json, stderr_console
    from slmkit.core.types import collect

    model, prompt = split_model_prompt(args.args)
    with open_engine(model, args) as loaded:
        engine = loaded.engine
        request = one_request(prompt, args, loaded.prompt_defaults, raw=args.raw,
                              logprobs=args.logprobs, truncate=args.truncate)
        if args.json:
            done = collect(engine.generate(request))
            return print_json({"model": loaded.name, "text": done.text,
                               "finish_reason": done.finish_reason,
                               "usage": done.usage.to_dict(),
                               "load_seconds": round(engine.load_seconds, 4),
                               "logprobs": done.logprobs})
        u = _stream_to_stdout(engine.generate(request))
        if args.verbose:
            stderr_console().print(
                f"[dim]{loaded.name}: load {engine.load_seconds:.2f} s · prompt "
                f"{u.prompt_tokens} tok ({u.cached_tokens} cached) at "
                f"{u.prompt_tokens_per_second:.0f} tok/s · decode {u.completion_tokens} tok "
                f"at {u.decode_tokens_per_second:.1f} tok/s · {engine.n_threads} threads[/]",
                highlight=False, soft_wrap=True)
    return 0


def _stream_to_stdout(chunks):
    out, usage = sys.stdout, None
    for chunk in chunks:
        if chunk.text:
            out.write(chunk.text)
            out.flush()
        if chunk.usage is not None:
            usage = chunk.usage
    out.write("\n")
    out.flush()
    return usage
