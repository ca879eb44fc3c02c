#!/usr/bin/env bash
# Build llama.cpp for the NVIDIA GPU of this machine from the sources vendored in the pinned
# llama-cpp-python sdist, for benchmarks/gpu_check.py's llama.cpp step (gpu_llamacpp.py):
# the library (used by slmkit through llama-cpp-python's bindings), llama-bench and
# llama-server. Prints the exports that point everything at the build:
#
#   eval "$(bash benchmarks/gpu_llamacpp.sh [SRC_TGZ] [BUILD_DIR])"
#
# SRC_TGZ (default .cuda/llama.tgz, made by gpu_prep.sh): the vendored llama.cpp sources
# without models/docs/tests and the llama_cpp Python package. Flash-attention kernels are
# left out (GGML_CUDA_FA=OFF: they are most of the compile time); the exports turn slmkit's
# flash attention off (SLM_FLASH_ATTN=0), and both sides of the comparison run without it.
# CUDA_ARCH overrides the GPU's compute capability.
set -euo pipefail
SRC="${1:-.cuda/llama.tgz}"
DIR="${2:-/tmp/slm-llama-cuda}"
ARCH="${CUDA_ARCH:-$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d .)}"
mkdir -p "$DIR"
tar -C "$DIR" -xzf "$SRC"
cmake -S "$DIR/vendor/llama.cpp" -B "$DIR/build" -DCMAKE_BUILD_TYPE=Release \
  -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$ARCH" -DGGML_CUDA_FA=OFF -DGGML_CUDA_NCCL=OFF \
  -DGGML_NATIVE=OFF -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DBUILD_SHARED_LIBS=ON >&2
cmake --build "$DIR/build" -j "$(nproc)" --target llama llama-bench llama-server >&2
mkdir -p "$DIR/llama_cpp/lib"
cp -a "$DIR"/build/bin/*.so* "$DIR/llama_cpp/lib/"
echo "export LLAMA_CPP_LIB_PATH=$DIR/llama_cpp/lib LLAMA_BENCH=$DIR/build/bin/llama-bench" \
  "LLAMA_SERVER=$DIR/build/bin/llama-server SLM_FLASH_ATTN=0 PYTHONPATH=$DIR\${PYTHONPATH:+:\$PYTHONPATH}"
