#!/usr/bin/env bash
# One short check of slmkit on an NVIDIA GPU machine (under 8 minutes); prints one table.
#
#   bash benchmarks/gpu_check.sh [gpu_check.py options]     # e.g. --model DIR --gguf FILE
#   bash benchmarks/gpu_check.sh --cpu-smoke                # test the script on a CPU
#
# With a network it first installs what is missing (vLLM, the serve extra, the openai
# client; SLM_GPU_CHECK_INSTALL=0 skips that). Without one it runs what the machine has and
# says what it skipped and why (see benchmarks/gpu_check.py and docs/scale.md). On a machine
# without the web stack, carry the wheels that benchmarks/gpu_prep.sh downloads (.whl) and
# put them on PYTHONPATH first.
set -uo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"

online() {
  "$PY" - <<'PYEOF' 2>/dev/null
import socket, sys
try:
    socket.create_connection(("pypi.org", 443), timeout=3).close()
except OSError:
    sys.exit(1)
PYEOF
}

if [ "${SLM_GPU_CHECK_INSTALL:-1}" = 1 ] && ! "$PY" -c "import vllm" 2>/dev/null; then
  if command -v nvidia-smi >/dev/null && online; then
    echo "installing vLLM, the serve extra and the openai client (network found)"
    timeout 180 "$PY" -m pip install -q "vllm>=0.10" fastapi uvicorn openai jsonschema \
      || echo "SKIPPED install: pip failed or took over 180 s; going on with what is here"
  else
    echo "SKIPPED install: no network or no nvidia-smi; running with what is installed"
  fi
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version \
  --format=csv,noheader
left=$((465 - SECONDS))  # the whole script stays under 8 minutes
exec timeout "$left" "$PY" benchmarks/gpu_check.py --budget $((left - 25)) "$@"
