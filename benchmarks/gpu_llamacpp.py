"""llama.cpp with every layer on the GPU: slmkit against llama.cpp's own C++ tools (step 6 of
``gpu_check.py``).

On the same GGUF (the check's model converted to Q8_0), the same GPU and the same options
(every layer offloaded, flash attention as slmkit's setting on both sides — gpu_llamacpp.sh
turns it off, its build has no CUDA flash kernels —, 2,048 tokens of context a slot, the same
CPU threads):

- ``llama-bench`` tg (the C++ single-stream decode rate) against slmkit's engine, one
  request, in process;
- ``llama-server -np N`` against ``slm serve --gpu-layers -1 --parallel N``, through the
  same ``openai`` client at 1/8/32 clients.

The C++ tools and a GPU build of the llama.cpp library come from ``gpu_llamacpp.sh`` (built
from the sources vendored in the pinned llama-cpp-python sdist); their paths arrive in
``LLAMA_BENCH``, ``LLAMA_SERVER`` and ``LLAMA_CPP_LIB_PATH``. On a CPU (``--cpu-smoke``) the
same steps run with the CPU build, offloading nothing, to test this script.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import time
from pathlib import Path

from _common import fa_flag  # the anchors run the attention kernel slmkit runs

CTX_PER_SLOT = 2048


@functools.cache
def threads() -> int:
    """One thread count for every side: the physical cores other processes leave free now."""
    from slmkit.util.threads import default_threads

    return default_threads()


def gpu_offload() -> bool | None:
    """Whether the llama.cpp library in use can offload (None: llama-cpp-python missing)."""
    try:
        from slmkit.runtime.llamacpp.bindings import bindings

        return bool(bindings().llama_supports_gpu_offload())
    except (ImportError, OSError, RuntimeError):
        return None


def to_gguf(model_dir: Path, work: Path) -> Path:
    """The Hugging Face model as a Q8_0 GGUF (slmkit's own converter)."""
    from slmkit.convert import hf_to_gguf

    return hf_to_gguf(model_dir, work / "model-q8_0.gguf", out_type="q8_0", overwrite=True)


def bench_anchor(report, gguf: Path, ngl: int, n_gen: int) -> None:
    """``llama-bench -p 0 -n N``: llama.cpp's own single-stream decode, median of 3."""
    tool = os.environ.get("LLAMA_BENCH", "")
    if not Path(tool).is_file():
        report.skip("llama-bench", "LLAMA_BENCH is not set (gpu_llamacpp.sh builds it)")
        return
    out = subprocess.run([tool, "-m", str(gguf), "-ngl", str(ngl), "-p", "0", "-n", str(n_gen),
                          "-r", "3", "-fa", fa_flag("0/1"), "-t", str(threads()),
                          "-o", "json"],
                         capture_output=True, text=True, timeout=180)
    if out.returncode != 0:
        report.skip("llama-bench", out.stderr.strip()[-800:])
        return
    rate = float(json.loads(out.stdout)[0]["avg_ts"])
    report.row("llama-bench (C++)", f"tg{n_gen}, in process", 1, n_gen, n_gen / rate)


def engine_single(report, gguf: Path, ngl: int, n_gen: int) -> None:
    """slmkit's engine, one greedy request, decode rate after the first token (median of 3),
    the same measure as llama-bench's tg."""
    from slmkit.core.types import GREEDY, ChatMessage, GenerateRequest
    from slmkit.runtime import load_engine

    engine = load_engine(str(gguf), backend="llamacpp", n_ctx=CTX_PER_SLOT, n_gpu_layers=ngl,
                         n_threads=threads(), speculate="off")
    request = GenerateRequest(messages=[ChatMessage("user", "Count to one hundred.")],
                              max_tokens=n_gen, sampling=GREEDY)
    try:
        rates = [_decode_rate(engine, request) for _ in range(4)][1:]  # 1st: warm-up
        rate = sorted(rates)[1]
        report.row("slmkit engine", f"decode, in process (tg{n_gen})", 1, n_gen, n_gen / rate)
    finally:
        engine.close()


def _decode_rate(engine, request) -> float:
    """Tokens/s from the first token to the last (prefill excluded, as in llama-bench)."""
    first = now = None
    tokens = 0
    for chunk in engine.generate(request):
        now = time.perf_counter()
        first = first or now
        tokens += len(chunk.token_ids)
    return (tokens - 1) / (now - first)


def cpp_server(gguf: Path, slots: int, ngl: int, work: Path, check):
    """``llama-server`` with every layer offloaded and ``slots`` slots (a ``check.Child``)."""
    port = check.free_port()
    cmd = [os.environ.get("LLAMA_SERVER", "llama-server"), "-m", str(gguf), "-ngl", str(ngl),
           "-np", str(slots), "-c", str(CTX_PER_SLOT * slots),
           "-fa", fa_flag(),
           "-t", str(threads()), "--host", "127.0.0.1", "--port", str(port)]
    return check.Child(cmd, work / "llama-server.log", port, "/health")


def servers(report, gguf: Path, ngl: int, clients: list[int], max_tokens: int, work: Path,
            check) -> None:
    """``llama-server`` then ``slm serve`` on the same GGUF and slots, same client load.
    ``check``: the gpu_check module (its Server, throughput and free_port)."""
    slots = max(clients)
    if not Path(os.environ.get("LLAMA_SERVER", "")).is_file():
        report.skip("llama-server", "LLAMA_SERVER is not set (gpu_llamacpp.sh builds it)")
    else:
        cpp = cpp_server(gguf, slots, ngl, work, check)
        try:
            if cpp.wait_ready(120):
                check.throughput(report, "llama-server (C++)", cpp.url, "model", clients,
                                 max_tokens, server="llama-server")
            else:
                report.skip("llama-server", f"not ready; its log ends:\n{cpp.tail()}")
        finally:
            cpp.stop()
    extra = ["--parallel", str(slots), "--gpu-layers", str(ngl), "--threads", str(threads())]
    ours = check.Server(str(gguf), "llamacpp", "cpu", work, CTX_PER_SLOT, extra=extra)
    try:
        if ours.wait_ready(120):
            check.throughput(report, "slm serve (llama.cpp)", ours.url, gguf.stem, clients,
                             max_tokens)
        else:
            report.skip("slm serve --gpu-layers", f"not ready; its log ends:\n{ours.tail()}")
    finally:
        ours.stop()


def run(report, model_dir: Path, gguf: str | None, clients: list[int], max_tokens: int,
        work: Path, cpu_smoke: bool, check) -> None:
    """Step 6 of the GPU check (see the module docstring)."""
    offload = gpu_offload()
    if offload is None:
        report.skip("llama.cpp", "llama-cpp-python is not importable (gpu_llamacpp.sh builds a "
                    "GPU library from the vendored sources)")
        return
    if not offload and not cpu_smoke:
        report.skip("llama.cpp on the GPU", "this llama.cpp build has no GPU offload")
        return
    ngl = 0 if cpu_smoke else -1
    path = Path(gguf) if gguf else to_gguf(model_dir, work)
    report.note(f"llama.cpp: {path.name}, {'no' if cpu_smoke else 'every'} layer on the GPU")
    bench_anchor(report, path, 99 if ngl < 0 else 0, max_tokens)
    engine_single(report, path, ngl, max_tokens)
    if report.left() > 60:
        servers(report, path, ngl, clients, max_tokens, work, check)
