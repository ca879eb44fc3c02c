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


def build_request(args, prompt: str, defaults: dict):
    from slmkit.cli.common import sampling_from_args, system_prompt
    from slmkit.core.types import ChatMessage, GenerateRequest

    common = dict(max_tokens=args.max_tokens, sampling=sampling_from_args(args, defaults),
                  stop=tuple(args.stop), logprobs=args.logprobs, truncate=args.truncate)
    if args.raw:
        return GenerateRequest(prompt=prompt, **common)
    system = system_prompt(args, defaults)
    messages = ([ChatMessage("system", system)] if system is not None else [])
    return GenerateRequest(messages=messages + [ChatMessage("user", prompt)], **common)


def run(args) -> int:
    from slmkit.cli.common import open_engine, print_stats
    from slmkit.cli.output import print_json
    from slmkit.core.types import collect

    model, prompt = split_model_prompt(args.args)
    loaded = open_engine(model, args)
    engine = loaded.engine
    try:
        request = build_request(args, prompt, loaded.prompt_defaults)
        if args.json:
            done = collect(engine.generate(request))
            print_json({"model": loaded.name, "text": done.text,
                        "finish_reason": done.finish_reason, "usage": done.usage.to_dict(),
                        "load_seconds": round(engine.load_seconds, 4),
                        "logprobs": done.logprobs})
            return 0
        usage = _stream_to_stdout(engine.generate(request))
        if args.verbose:
            print_stats(loaded, usage, engine.load_seconds)
        return 0
    finally:
        engine.close()


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
