"""llama.cpp's own C++ tools (``llama-bench``, ``llama-server``) as benchmark anchors.

They are built from the llama.cpp sources vendored in the llama-cpp-python sdist pinned in
constraints.txt (the same ggml our runtime links against), once per machine, into
``~/.cache/slmkit/cpp/<version>/`` — never into the repository. The first call downloads the
sdist with pip (so the user's index settings apply), configures with cmake and builds only
the two targets, printing progress; later calls return the cached binaries at once.

    python benchmarks/_cpp.py            # build (or find) the binaries and print their paths
    python benchmarks/_cpp.py --gpu-sources .cuda/llama.tgz   # sources for gpu_llamacpp.sh
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGETS = ("llama-bench", "llama-server")
CMAKE_FLAGS = ["-DGGML_NATIVE=OFF", "-DLLAMA_CURL=OFF", "-DLLAMA_BUILD_TESTS=OFF",
               "-DBUILD_SHARED_LIBS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF",
               "-DCMAKE_BUILD_TYPE=Release"]


def pinned_version() -> str:
    """The llama-cpp-python version pinned in constraints.txt."""
    text = (REPO / "constraints.txt").read_text()
    match = re.search(r"^llama-cpp-python==([\w.]+)", text, re.M)
    if not match:
        raise RuntimeError("constraints.txt pins no llama-cpp-python version; "
                           "add `llama-cpp-python==X.Y.Z` there")
    return match.group(1)


def cache_dir(version: str | None = None) -> Path:
    """Where the binaries of one llama-cpp-python version are kept."""
    return Path.home() / ".cache" / "slmkit" / "cpp" / (version or pinned_version())


def binaries(jobs: int = 2, quiet: bool = False) -> dict[str, Path]:
    """Paths of ``llama-bench`` and ``llama-server``, building them on first use."""
    root = cache_dir()
    out = {name: root / "bin" / name for name in TARGETS}
    if all(p.exists() for p in out.values()):
        return out
    say = (lambda *_: None) if quiet else (lambda msg: print(f"[cpp] {msg}", flush=True))
    src = _sources(root, say)
    build = root / "build"
    say(f"configuring llama.cpp in {build}")
    _run(["cmake", "-S", str(src), "-B", str(build), *_generator(), *CMAKE_FLAGS], quiet)
    say(f"building {', '.join(TARGETS)} with -j{jobs} (about 8 minutes on 2 busy cores)")
    _run(["cmake", "--build", str(build), "--target", *TARGETS, f"-j{jobs}"], quiet)
    (root / "bin").mkdir(exist_ok=True)
    for name, dest in out.items():
        # the binary, not the folder of its sources' objects (tools/llama-bench/)
        built = next((p for p in build.rglob(name) if p.is_file()), None)
        if built is None:
            raise RuntimeError(f"the build finished without {name}; see the output above, "
                               f"or remove {root} and run `python benchmarks/_cpp.py` again")
        shutil.copy2(built, dest)
    say(f"ready: {root / 'bin'}")
    return out


def _sources(root: Path, say) -> Path:
    """The vendored llama.cpp tree, unpacked from the pinned sdist."""
    version = root.name
    src = root / "src" / f"llama_cpp_python-{version}" / "vendor" / "llama.cpp"
    if (src / "CMakeLists.txt").exists():
        return src
    root.mkdir(parents=True, exist_ok=True)
    sdist = next(root.glob("llama_cpp_python-*.tar.gz"), None)
    if sdist is None:
        say(f"downloading the llama-cpp-python {version} sdist with pip")
        _run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
              "-d", str(root), f"llama-cpp-python=={version}"], True)
        sdist = next(root.glob("llama_cpp_python-*.tar.gz"), None)
        if sdist is None:
            raise RuntimeError(f"pip found no llama-cpp-python {version} sdist; check your "
                               "package index, or put the .tar.gz in " + str(root))
    say(f"unpacking {sdist.name}")
    with tarfile.open(sdist) as tar:
        tar.extractall(root / "src", filter="data")
    if not (src / "CMakeLists.txt").exists():
        raise RuntimeError(f"{sdist.name} carries no vendor/llama.cpp tree at {src}")
    return src


def _generator() -> list[str]:
    return ["-G", "Ninja"] if shutil.which("ninja") else []


def _run(cmd: list[str], quiet: bool) -> None:
    if shutil.which(cmd[0]) is None and not Path(cmd[0]).exists():
        raise RuntimeError(f"{cmd[0]} is not installed; install it (e.g. `apt-get install "
                           f"{cmd[0]}`) to build the C++ anchors")
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL if quiet else None,
                          stderr=subprocess.STDOUT if quiet else None)
    if proc.returncode:
        raise RuntimeError(f"`{' '.join(cmd[:4])} …` failed with exit code {proc.returncode}")


def bench_tg(model: str, threads: int, n_gen: int = 128, reps: int = 3,
             flash_attn: int | None = None) -> float:
    """``llama-bench`` text-generation tokens/s (tg<n_gen>) on ``model`` with ``threads``;
    ``flash_attn`` 0/1 sets ``-fa`` (None: llama-bench's default, auto = on for the CPU)."""
    import json

    exe = binaries()["llama-bench"]
    fa = [] if flash_attn is None else ["-fa", str(flash_attn)]
    out = subprocess.run([str(exe), "-m", model, "-t", str(threads), "-p", "0",
                          "-n", str(n_gen), "-r", str(reps), "-o", "json", *fa],
                         check=True, capture_output=True, text=True)
    rows = json.loads(out.stdout)
    return float(rows[0]["avg_ts"])


# what a GPU build does not need: models' vocab files, docs, tests, other GPU backends
GPU_SKIP = re.compile(r"vendor/llama\.cpp/(models|docs|tests|examples|benches|media|gguf-py|"
                      r"conversion|\.git)|/ggml-(vulkan|sycl|metal|cann|opencl|musa|webgpu|"
                      r"hexagon|zdnn|kompute)(/|$)")


def gpu_sources(out: Path) -> Path:
    """The vendored llama.cpp sources and the ``llama_cpp`` package, trimmed to about 8 MB,
    as ``out`` (a .tgz): what ``gpu_llamacpp.sh`` builds on a GPU machine with no network."""
    root = cache_dir()
    _sources(root, print)
    top = root / "src" / f"llama_cpp_python-{root.name}"
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out, "w:gz") as tar:
        for part in ("vendor/llama.cpp", "llama_cpp"):
            tar.add(top / part, arcname=part,
                    filter=lambda info: None if GPU_SKIP.search(info.name) else info)
    return out


if __name__ == "__main__":
    if sys.argv[1:2] == ["--gpu-sources"]:
        print(gpu_sources(Path(sys.argv[2])))
    else:
        for name, path in binaries().items():
            print(f"{name}: {path}")
