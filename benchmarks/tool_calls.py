"""Tool-calling agents against `slm serve`: do they finish, and with the right tools?

Issue 14's scenarios, each run N times as an agent loop with the `openai` package (two
tools, `tool_choice` left at auto, default sampling, results sent back as `role: "tool"`
turns, at most `--max-turns` model turns):

- weather: "What's the weather in Paris?"       → get_weather, then a text answer
- joke:    "Tell me a joke about cats."         → no tool, a text answer
- both:    "What's the weather and the local time in Tokyo?" → get_weather and get_time

Per scenario: finish rate (a text answer within the turn limit), right-tool rate (the
set of tools called is the expected one), mean model turns. Starts its own server on
loopback unless `--url` is given (to measure another build: run that build's server).

    python benchmarks/tool_calls.py                   # coder model, 10 trials
    python benchmarks/tool_calls.py --trials 3 --url http://127.0.0.1:8080/v1
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

from _common import machine, save

TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Get the current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]}}},
    {"type": "function", "function": {
        "name": "get_time", "description": "Get the current local time in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]}}},
]
RESULTS = {"get_weather": lambda a: {"city": a.get("city"), "temperature_c": 21,
                                     "sky": "sunny"},
           "get_time": lambda a: {"city": a.get("city"), "local_time": "14:05"}}
SCENARIOS = {
    "weather": ("What's the weather in Paris?", {"get_weather"}),
    "joke": ("Tell me a joke about cats.", set()),
    "both": ("What's the weather and the local time in Tokyo?", {"get_weather", "get_time"}),
}


def agent(client, model: str, question: str, max_turns: int) -> dict:
    """One agent loop: returns finished, tools called (in order) and model turns."""
    messages = [{"role": "user", "content": question}]
    called: list[str] = []
    for turn in range(1, max_turns + 1):
        r = client.chat.completions.create(model=model, messages=messages, tools=TOOLS,
                                           max_tokens=200)
        msg = r.choices[0].message
        if not msg.tool_calls:
            return {"finished": bool((msg.content or "").strip()), "called": called,
                    "turns": turn, "answer": msg.content}
        messages.append({"role": "assistant", "content": msg.content,
                         "tool_calls": [c.model_dump() for c in msg.tool_calls]})
        for c in msg.tool_calls:
            called.append(c.function.name)
            args = json.loads(c.function.arguments or "{}")
            messages.append({"role": "tool", "tool_call_id": c.id,
                             "content": json.dumps(RESULTS[c.function.name](args))})
    return {"finished": False, "called": called, "turns": max_turns, "answer": None}


def start_server(model: str, threads: int) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "slmkit.cli.main", "serve", model,
                             "--host", "127.0.0.1", "--port", str(port), "--threads",
                             str(threads), "--ctx", "4096", "--parallel", "1"],
                            stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ))
    import httpx

    url = f"http://127.0.0.1:{port}"
    for _ in range(900):
        if proc.poll() is not None:
            raise SystemExit(f"server exited; log in {log.name}")
        try:
            if httpx.get(url + "/ready", timeout=2).status_code == 200:
                return proc, url + "/v1"
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"server not ready; log in {log.name}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="qwen2.5-coder-0.5b-instruct")
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--max-turns", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--url", help="an already running server's /v1 URL")
    ap.add_argument("--label", default="", help="a name for this build in the results")
    args = ap.parse_args()
    from openai import OpenAI

    proc, url = (None, args.url) if args.url else start_server(args.model, args.threads)
    client = OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=300)
    rows: dict[str, list[dict]] = {}
    t0 = time.perf_counter()
    try:
        for name, (question, expected) in SCENARIOS.items():
            rows[name] = []
            for _ in range(args.trials):
                out = agent(client, args.model, question, args.max_turns)
                out["right_tools"] = set(out["called"]) == expected
                rows[name].append(out)
                print(f"{name}: finished={out['finished']} called={out['called']} "
                      f"turns={out['turns']} answer={str(out['answer'])[:70]!r}", flush=True)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait()
    report(rows, args, time.perf_counter() - t0)


def report(rows: dict[str, list[dict]], args, seconds: float) -> None:
    lines = [f"# tool calls {args.label} ({args.model}, {args.trials} trials, "
             f"max {args.max_turns} turns, busy machine)", "",
             "| scenario | finished | right tools | mean turns |", "|---|---|---|---|"]
    summary = {}
    for name, rs in rows.items():
        n = len(rs)
        s = {"finished": sum(r["finished"] for r in rs) / n,
             "right_tools": sum(r["right_tools"] for r in rs) / n,
             "mean_turns": sum(r["turns"] for r in rs) / n}
        summary[name] = s
        lines.append(f"| {name} | {s['finished']:.0%} | {s['right_tools']:.0%} | "
                     f"{s['mean_turns']:.1f} |")
    lines.append(f"\n{seconds:.0f} s in all")
    print("\n".join(lines))
    save(f"tool_calls{('-' + args.label) if args.label else ''}",
         {"machine": machine(), "args": vars(args), "summary": summary,
          "rows": {k: [dict(r, called=list(r["called"])) for r in v] for k, v in rows.items()}},
         "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
