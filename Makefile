# `make run` and `make test` each create or refresh .venv, install what is needed, then run.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.slmkit-installed
# Portable llama.cpp build (no -march=native), so the wheel pip caches runs on any x86-64/arm64.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup run chat test test-fast bench clean chromium mosquitto

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

# a real MQTT broker for the fleet's MQTT heartbeat tests (skipped without it)
mosquitto:
	@{ command -v mosquitto >/dev/null || test -x /usr/sbin/mosquitto; } || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto >/dev/null; } || \
		echo "warning: could not install mosquitto; the MQTT tests will be skipped" >&2

test: setup chromium mosquitto
	$(BIN)/python -m pytest

test-fast: setup
	$(BIN)/python -m pytest -m "not integration and not slow"

# The main benchmarks, quick settings (about 10-15 minutes on 2 idle cores; the first run
# also builds llama-bench and llama-server, ~8 minutes), each against its anchor in the same
# run, then one table of ratios (anchors, and the previous recorded run) and one chart per
# benchmark (benchmarks/results/chart-*.png). On a busy machine: make bench BENCH_THREADS=1
BENCH_MODEL ?= qwen2.5-coder-0.5b-instruct
BENCH_THREADS ?= 2
bench: setup
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[bench]'
	$(BIN)/slm pull $(BENCH_MODEL)
	$(BIN)/python benchmarks/decode.py --model $(BENCH_MODEL) --threads $(BENCH_THREADS) --rounds 3
	$(BIN)/python benchmarks/serve.py --model $(BENCH_MODEL) --threads $(BENCH_THREADS) --quick \
		--servers slmkit,llama-server
	$(BIN)/python benchmarks/cold_start.py --model $(BENCH_MODEL) --threads $(BENCH_THREADS) --rounds 5
	$(BIN)/python benchmarks/cli_startup.py --rounds 10
	$(BIN)/python benchmarks/speculate.py --model $(BENCH_MODEL) --threads $(BENCH_THREADS) --rounds 1
	$(BIN)/python benchmarks/rag_ann.py --n 30000 --queries 100 --exact-queries 20 --cold 3
	$(BIN)/python benchmarks/report.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info
