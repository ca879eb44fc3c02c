#!/usr/bin/env bash
# Prepare what benchmarks/gpu_check.sh needs on a GPU machine that has no network and no
# web stack (the lent H200: Python 3.12 with torch/transformers, but no fastapi, uvicorn,
# pydantic, openai or vLLM). Run it HERE (a machine with PyPI), from the repository root:
#
#   bash benchmarks/gpu_prep.sh [REPO_ROOT]
#
# It writes, into REPO_ROOT (default: this checkout), three folders that git ignores:
#   .whl/  cp312 manylinux wheels of the web stack, the openai client and jsonschema
#   .gpu/  tokenizer/: the default model's tokenizer (Qwen2.5), extracted from its GGUF
#   .cuda/ llama.tgz: the vendored llama.cpp sources for a GPU build (gpu_llamacpp.sh)
# and adds them to REPO_ROOT/.git/info/exclude. Carry them (carry: [".whl", ".gpu", ".cuda"]).
set -euo pipefail
ROOT="$(cd "${1:-$(dirname "$0")/..}" && pwd)"
PY="${PYTHON:-python3}"
HERE="$(cd "$(dirname "$0")/.." && pwd)"

# the versions this project's tests ran with; one version of each (two break the install)
WHEELS=(
  fastapi==0.165.0 starlette==1.10.0 uvicorn==0.55.0
  pydantic==2.14.4 pydantic_core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5
  python-multipart==0.0.34 gguf==0.19.0
  openai==3.60.0 distro==1.9.0 jiter==0.19.0 sniffio==1.3.1
  jsonschema==4.26.0 jsonschema-specifications==2025.9.1 referencing==0.37.0 rpds-py==2026.9.1
  typing_extensions==4.16.0 anyio==4.16.0 annotated-doc==0.0.7 opentelemetry-api==1.45.2
  httpx2==2.16.2 httpcore2==2.16.2 truststore==0.10.5 h11==0.16.0 idna==3.20
  httpx==0.29.0 httpcore==1.0.9
)

common="$(git -C "$ROOT" rev-parse --git-common-dir 2>/dev/null || true)"
if [ -n "$common" ]; then
  case "$common" in /*) ;; *) common="$ROOT/$common" ;; esac
  exclude="$common/info/exclude"
  for line in /.whl/ /.gpu/ /.cuda/; do
    grep -qxF "$line" "$exclude" 2>/dev/null || echo "$line" >> "$exclude"
  done
fi

mkdir -p "$ROOT/.whl" "$ROOT/.gpu"
for w in "${WHEELS[@]}"; do
  name="${w%%==*}"
  if ls "$ROOT/.whl/" 2>/dev/null | grep -qi "^${name//-/_}-${w##*==}-"; then
    continue  # already there
  fi
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform manylinux1_x86_64 --platform any -d "$ROOT/.whl" "$w"
done

# the tokenizer of the catalog's default model (qwen2.5-coder-0.5b-instruct), from its GGUF;
# the test store usually holds that model already (else it is pulled into SLM_HOME)
if [ -z "${SLM_HOME:-}" ] && [ -d "$HOME/.cache/slmkit/test-home/blobs" ]; then
  export SLM_HOME="$HOME/.cache/slmkit/test-home"
fi
PYTHONPATH="$HERE/src${PYTHONPATH:+:$PYTHONPATH}" "$PY" "$HERE/benchmarks/gpu_tokenizer.py" \
  "$ROOT/.gpu/tokenizer"

# the vendored llama.cpp sources, trimmed, for a GPU build there (gpu_llamacpp.sh)
"$PY" "$HERE/benchmarks/_cpp.py" --gpu-sources "$ROOT/.cuda/llama.tgz"

du -sh "$ROOT/.whl" "$ROOT/.gpu" "$ROOT/.cuda"
echo "ready: carry .whl, .gpu and .cuda (under ~40 MiB together)"
