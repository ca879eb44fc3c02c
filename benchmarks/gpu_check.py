"""One short check of slmkit on an NVIDIA GPU machine; prints one table (see gpu_check.sh).

What runs depends on what the machine has, and every step that cannot run says why:

1. the model: ``--model DIR`` (a Hugging Face directory of a real model), else a model
   with Qwen2.5-0.5B's shape and RANDOM weights, built here in bfloat16 around the
   tokenizer in ``--tokenizer`` (``.gpu/tokenizer`` from ``gpu_prep.sh``). Random weights
   give valid speed numbers (the work per token is set by the shape), not answers.
2. the anchor: plain ``transformers`` ``generate`` on the same GPU, batch 1/8/32, a fixed
   number of new tokens (EOS ignored).
3. ``slm serve MODEL@vllm`` when vLLM imports, else ``MODEL@torch`` on CUDA (the torch
   engine answers one request at a time); needs fastapi/uvicorn/pydantic.
4. the OpenAI test subset (tests/serve/test_openai_routes.py) against that server, by
   base URL; needs pytest, openai, jsonschema.
5. throughput through the ``openai`` client at 1/8/32 clients, fixed ``max_tokens``.
6. llama.cpp with every layer on the GPU (``gpu_llamacpp.py``): slmkit's engine against
   ``llama-bench`` and ``slm serve --gpu-layers -1`` against ``llama-server``, on the model
   converted to a Q8_0 GGUF (or ``--gguf``), when a GPU build of llama.cpp is on hand
   (``gpu_llamacpp.sh`` builds one from the vendored sources).

    python benchmarks/gpu_check.py                    # on the GPU machine
    python benchmarks/gpu_check.py --cpu-smoke        # a tiny shape on the CPU (to test this)
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QWEN05 = dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
              num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768,
              rope_theta=1000000.0, rms_norm_eps=1e-6, tie_word_embeddings=True)
TINY = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=2048, tie_word_embeddings=True)
PROMPT = "Write a short story about a lighthouse keeper and a storm."
# the subset that holds for any model, random weights included (shapes, streaming = whole,
# seeds, log-probabilities, model listing, errors)
OPENAI_SUBSET = ("streaming_matches_non_streaming or completion_streaming or seed_reproducible"
                 " or chat_logprobs or models_list_and_get or unknown_model_suggests")


CPP_ANCHOR = {"slmkit engine": "llama-bench (C++)", "slm serve (llama.cpp)": "llama-server (C++)"}


class Report:
    """What ran, what was skipped and why, and the rows of the table."""

    def __init__(self, budget: float) -> None:
        self.t0, self.budget = time.monotonic(), budget
        self.rows: list[dict] = []
        self.notes: list[str] = []

    def left(self) -> float:
        return self.budget - (time.monotonic() - self.t0)

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"[{time.monotonic() - self.t0:6.1f}s] {text}", flush=True)

    def skip(self, step: str, why: str) -> None:
        self.note(f"SKIPPED {step}: {why}")

    def row(self, engine: str, path: str, clients: int, tokens: int, seconds: float) -> None:
        self.rows.append(dict(engine=engine, path=path, clients=clients, tokens=tokens,
                              seconds=round(seconds, 3),
                              tok_s=round(tokens / seconds, 1) if seconds > 0 else 0.0))
        print(f"  {engine:<26} {path:<28} clients={clients:<3} {tokens:>6} tok "
              f"{seconds:7.2f} s {tokens / max(seconds, 1e-9):9.1f} tok/s", flush=True)

    def table(self) -> str:
        def by_clients(*engines: str) -> dict:
            return {r["clients"]: r["tok_s"] for r in self.rows if r["engine"] in engines}

        hf = by_clients("transformers")
        cpp = {ours: by_clients(theirs) for ours, theirs in CPP_ANCHOR.items()}

        def ratio(base: dict, r: dict) -> str:
            b = base.get(r["clients"])
            return f"{r['tok_s'] / b:.2f}x" if b else "-"
        lines = ["| engine | path | clients | tokens | seconds | tok/s | vs transformers "
                 "| vs llama.cpp C++ |", "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for r in self.rows:
            lines.append(f"| {r['engine']} | {r['path']} | {r['clients']} | {r['tokens']} | "
                         f"{r['seconds']} | {r['tok_s']} | {ratio(hf, r)} | "
                         f"{ratio(cpp.get(r['engine'], {}), r)} |")
        return "\n".join(lines)


def has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def import_error(*modules: str) -> str | None:
    """None when ``modules`` import in a fresh interpreter, else the error's last line."""
    code = "; ".join(f"import {m}" for m in modules)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=os.pathsep.join(
                             p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH")) if p)))
    if out.returncode == 0:
        return None
    return (out.stderr.strip().splitlines() or ["import failed"])[-1]


def environment(report: Report, device: str) -> dict:
    import torch
    import transformers

    facts = {"python": sys.version.split()[0], "torch": torch.__version__,
             "transformers": transformers.__version__, "device": device,
             "cuda": torch.cuda.is_available()}
    if torch.cuda.is_available():
        facts["gpu"] = torch.cuda.get_device_name(0)
    facts["present"] = {m: has(m) for m in ("vllm", "llama_cpp", "fastapi", "uvicorn",
                                            "pydantic", "openai", "jsonschema", "pytest")}
    report.note(f"environment: {json.dumps(facts)}")
    return facts


# ---- the model -------------------------------------------------------------------------------
def random_model(out: Path, tokenizer_dir: Path, shape: dict, dtype: str, device: str) -> Path:
    """A Qwen2 model of ``shape`` with random weights, saved with the tokenizer."""
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    vocab = ((len(tok) + 127) // 128) * 128
    config = Qwen2Config(vocab_size=vocab, bos_token_id=tok.bos_token_id,
                         eos_token_id=tok.eos_token_id, **shape)
    torch.manual_seed(0)
    with torch.device(device):
        model = Qwen2ForCausalLM(config).to(getattr(torch, dtype))
    model.generation_config.eos_token_id = tok.eos_token_id
    model.save_pretrained(str(out), safe_serialization=True)
    tok.save_pretrained(str(out))
    del model
    return out


def anchor(report: Report, model_dir: Path, device: str, dtype: str, clients: list[int],
           max_tokens: int) -> None:
    """transformers ``generate``: one batch of N identical prompts, EOS ignored."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=getattr(torch, dtype))
    model.to(device).eval()
    model.generation_config.eos_token_id = None  # EOS ignored: every row makes max_tokens
    text = tok.apply_chat_template([{"role": "user", "content": PROMPT}], tokenize=False,
                                   add_generation_prompt=True)
    for n in clients:
        batch = tok([text] * n, return_tensors="pt").to(device)
        kwargs = dict(max_new_tokens=max_tokens, do_sample=False, pad_token_id=tok.pad_token_id)
        with torch.inference_mode():
            model.generate(**batch, **{**kwargs, "max_new_tokens": 2})  # warm-up
            _sync(device)
            t0 = time.perf_counter()
            out = model.generate(**batch, **kwargs)
            _sync(device)
            seconds = time.perf_counter() - t0
        report.row("transformers", f"generate (batch {n})", n,
                   int(out.shape[0] * (out.shape[1] - batch.input_ids.shape[1])), seconds)
    del model
    if device.startswith("cuda"):
        torch.cuda.empty_cache()


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


# ---- the server ------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Child:
    """A server in a child process on 127.0.0.1, logging into ``log_path``; ready when
    ``ready_path`` answers 200."""

    def __init__(self, cmd: list[str], log_path: Path, port: int, ready_path: str,
                 env: dict | None = None) -> None:
        self.port, self.ready_path, self.log_path = port, ready_path, log_path
        self.url = f"http://127.0.0.1:{port}"
        self.log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float) -> bool:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if httpx.get(self.url + self.ready_path, timeout=2).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        return False

    def tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-2500:]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


class Server(Child):
    """``slm serve MODEL@ENGINE`` (a ``.gguf`` path as it is) in a child process, logging
    into ``logdir``."""

    def __init__(self, model: str, engine: str, device: str, logdir: Path, ctx: int,
                 extra: list[str] | None = None) -> None:
        port = free_port()
        env = dict(os.environ, SLM_HOME=str(logdir / "home"), SLM_TORCH_DEVICE=device,
                   PYTHONUNBUFFERED="1", SLM_SKIP_MEMORY_CHECK="1")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "src"),
                                                        env.get("PYTHONPATH")) if p)
        spec = model if model.endswith(".gguf") else f"{model}@{engine}"
        cmd = [sys.executable, "-m", "slmkit.cli.main", "serve", spec, *(extra or []),
               "--host", "127.0.0.1", "--port", str(port), "--no-pull", "--ctx", str(ctx),
               "--keep-alive", "-1", "--queue", "64", "--log-level", "warning"]
        super().__init__(cmd, logdir / f"serve-{engine}.log", port, "/ready", env)


def openai_subset(report: Report, server: Server, model_name: str, timeout: float) -> None:
    error = import_error("pytest", "openai", "jsonschema")
    if error:
        report.skip("OpenAI test subset", error)
        return
    env = dict(os.environ, SLM_TEST_BASE_URL=server.url, SLM_TEST_MODEL_NAME=model_name)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT / "tests"),
                                         env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    cmd = [sys.executable, "-m", "pytest", str(ROOT / "tests/serve/test_openai_routes.py"),
           "-q", "-p", "no:cacheprovider", "-k", OPENAI_SUBSET, "-o", "addopts=",
           "--import-mode=importlib", "-m", "integration"]
    try:
        out = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True,
                             timeout=timeout)
    except subprocess.TimeoutExpired:
        report.skip("OpenAI test subset", f"did not finish within {timeout:.0f} s")
        return
    last = (out.stdout.strip().splitlines() or ["(no output)"])[-1]
    report.note(f"OpenAI test subset ({OPENAI_SUBSET}): {last}")
    if out.returncode not in (0, 5):
        print(out.stdout[-3000:], out.stderr[-1500:], flush=True)


def throughput(report: Report, label: str, url: str, model_name: str, clients: list[int],
               max_tokens: int, server: str = "slm serve") -> None:
    """Aggregate completion tokens/s: N clients each send one chat request at once."""
    if import_error("openai") is None:
        from openai import OpenAI

        client = OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=600)

        def one(_):
            r = client.chat.completions.create(
                model=model_name, messages=[{"role": "user", "content": PROMPT}],
                max_tokens=max_tokens, temperature=0)
            return r.usage.completion_tokens
        path = f"{server} + openai client"
    else:
        import httpx

        report.note("openai is not installed: the throughput client is plain httpx")

        def one(_):
            r = httpx.post(url + "/v1/chat/completions", timeout=600, json={
                "model": model_name, "messages": [{"role": "user", "content": PROMPT}],
                "max_tokens": max_tokens, "temperature": 0})
            r.raise_for_status()
            return r.json()["usage"]["completion_tokens"]
        path = f"{server} + httpx"
    one(0)  # warm-up
    for n in clients:
        with ThreadPoolExecutor(n) as pool:
            t0 = time.perf_counter()
            tokens = sum(pool.map(one, range(n)))
            report.row(label, path, n, tokens, time.perf_counter() - t0)


# ---- the run ---------------------------------------------------------------------------------
def serve_steps(report: Report, args, model_dir: Path, device: str, work: Path) -> None:
    error = import_error("fastapi", "uvicorn", "pydantic", "slmkit.serve.app")
    if error:
        report.skip("slm serve, OpenAI subset, throughput", error)
        return
    engine = "vllm" if has("vllm") and device.startswith("cuda") else "torch"
    if engine == "torch":
        why = "not installed" if not has("vllm") else "no CUDA device"
        report.skip("the vLLM engine", f"vLLM {why}; serving with the torch engine on "
                    f"{device} instead (one request at a time)")
    server = Server(str(model_dir), engine, device, work, args.ctx)
    try:
        if not server.wait_ready(min(300.0, report.left() - 60)):
            report.skip(f"slm serve {engine}", f"not ready; its log ends:\n{server.tail()}")
            return
        name = f"{model_dir.name}@{engine}"
        report.note(f"slm serve {name} is ready at {server.url}")
        openai_subset(report, server, name, timeout=max(30.0, min(180.0, report.left() - 90)))
        if report.left() < 40:
            report.skip("serve throughput", "out of time")
            return
        throughput(report, f"slmkit {engine} ({device})", server.url, name, args.clients,
                   args.max_tokens)
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="a Hugging Face model directory (default: random weights)")
    p.add_argument("--gguf", help="a GGUF for the llama.cpp rows")
    p.add_argument("--tokenizer", default=str(ROOT / ".gpu" / "tokenizer"))
    p.add_argument("--clients", default="1,8,32")
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--ctx", type=int, default=2048)
    p.add_argument("--budget", type=float, default=450.0, help="seconds for the whole check")
    p.add_argument("--cpu-smoke", action="store_true",
                   help="tiny random shape on the CPU: checks this script, not a GPU")
    p.add_argument("--json", help="also write the rows and notes here")
    p.add_argument("--only", choices=("all", "torch", "llamacpp"), default="all",
                   help="the transformers/torch steps (1-5), the llama.cpp ones (6), or both")
    args = p.parse_args(argv)
    args.clients = [int(c) for c in args.clients.split(",")]
    report = Report(args.budget)
    import torch

    device = "cpu" if args.cpu_smoke or not torch.cuda.is_available() else "cuda"
    if device == "cpu" and not args.cpu_smoke:
        report.note("no CUDA device: running the CPU smoke shape instead")
        args.cpu_smoke = True
    dtype = "float32" if device == "cpu" else "bfloat16"
    environment(report, device)
    with tempfile.TemporaryDirectory(prefix="slm-gpu-check-") as tmp:
        work = Path(tmp)
        if args.model:
            model_dir = Path(args.model)
            report.note(f"model: {model_dir} (real weights)")
        else:
            shape = TINY if args.cpu_smoke else QWEN05
            model_dir = random_model(work / "qwen-random", Path(args.tokenizer), shape, dtype,
                                     device)
            report.note(f"model: RANDOM weights, {'tiny' if args.cpu_smoke else 'Qwen2.5-0.5B'}"
                        " shape: speed numbers are valid (shape-bound), answers are not")
        if args.only in ("all", "torch"):
            anchor(report, model_dir, device, dtype, args.clients, args.max_tokens)
            serve_steps(report, args, model_dir, device, work)
        if args.only in ("all", "llamacpp") and report.left() > 30:
            import gpu_llamacpp

            gpu_llamacpp.run(report, model_dir, args.gguf, args.clients, args.max_tokens,
                             work, args.cpu_smoke, sys.modules[__name__])
    print("\n" + report.table())
    print("\n".join(["", "notes:"] + [f"- {n}" for n in report.notes]))
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": report.rows, "notes": report.notes},
                                              indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
