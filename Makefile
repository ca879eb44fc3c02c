# `make run` and `make test` each create or refresh .venv, install what is needed, then run.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.slmkit-installed
# Portable llama.cpp build (no -march=native), so the wheel pip caches runs on any x86-64/arm64.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup run chat test test-fast bench clean chromium

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, pinned to the local CPU wheel, so nothing pulls a CUDA build
	$(BIN)/python -m pip install --quiet -c constraints.txt torch
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[all,test]'
	@touch $@

setup: $(STAMP)

# The main job: pull the default model, answer one prompt, then serve it (OpenAI + Ollama
# APIs on 127.0.0.1:8000; ctrl-C stops). `make chat` opens an interactive chat instead.
run: setup
	$(BIN)/slm pull qwen2.5-coder-0.5b-instruct
	$(BIN)/slm run --verbose "What is the capital of France?"
	$(BIN)/slm serve qwen2.5-coder-0.5b-instruct

chat: setup
	$(BIN)/slm chat

# the web UI's browser tests drive Debian's Chromium (Playwright's own download cannot run here)
# (a machine where apt-get cannot install it still runs every other test; the browser tests
# then skip, saying why); fonts-nanum gives it Korean glyphs (the Korean screenshots)
chromium:
	@{ command -v chromium >/dev/null && fc-list :lang=ko | grep -q .; } || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-nanum >/dev/null; } || \
		echo "warning: could not install chromium; the browser tests will be skipped" >&2

test: setup chromium
	$(BIN)/python -m pytest

test-fast: setup
	$(BIN)/python -m pytest -m "not integration and not slow"

bench: setup
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[bench]'
	$(BIN)/python benchmarks/decode.py
	$(BIN)/python benchmarks/serve.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info
