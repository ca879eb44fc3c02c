# `make run` and `make test` each create or refresh .venv, install what is needed, then run.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.slmkit-installed
# Portable llama.cpp build (no -march=native), so the wheel pip caches runs on any x86-64/arm64.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup run test test-fast bench lint clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, pinned to the local CPU wheel, so nothing pulls a CUDA build
	$(BIN)/python -m pip install --quiet -c constraints.txt torch
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[all,test]'
	@touch $@

setup: $(STAMP)

run: setup
	$(BIN)/slm pull smollm2-135m-instruct
	$(BIN)/slm run --verbose "What is the capital of France?"
	@if [ -t 0 ] && [ -t 1 ]; then $(BIN)/slm chat; else echo "(no terminal attached: skipping 'slm chat')"; fi

test: setup
	$(BIN)/python -m pytest

test-fast: setup
	$(BIN)/python -m pytest -m "not integration and not slow"

bench: setup
	$(BIN)/python benchmarks/decode.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info
