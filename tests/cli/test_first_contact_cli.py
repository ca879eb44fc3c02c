"""Issue 14's small CLI items: merge --threads, sizes in one unit, quiet torch verbs, pull
progress off a terminal."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from slmkit.cli.main import _build_parser
from slmkit.cli.output import LineProgress

SRC = str(Path(__file__).resolve().parents[2] / "src")


def test_merge_accepts_threads():
    args = _build_parser("merge").parse_args(["merge", "base", "adapter", "--threads", "2"])
    assert args.threads == 2


def test_merge_reports_sizes_as_list_does():
    # the messages of `slm merge` are made by adapt.merge.merge_or_export
    text = Path(SRC, "slmkit", "adapt", "merge.py").read_text()
    text = text[text.index("def merge_or_export"):]
    assert "MiB" not in text and "format_bytes(info['size_bytes'])" in text
    from slmkit.cli.output import human_size
    from slmkit.util.text import format_bytes

    assert human_size is format_bytes  # what `slm list` shows


def test_line_progress_prints_tenths_not_every_chunk(tmp_path):
    out = (tmp_path / "log").open("w+")
    progress = LineProgress(out)
    for done in range(0, 1_000_001, 10_000):
        progress("pull model.gguf", done, 1_000_000)
    progress("waiting for another pull of x", 0, None)
    out.seek(0)
    lines = out.read().splitlines()
    assert lines[0] == "pull model.gguf: 0% of 1.0 MB"
    assert lines[-2] == "pull model.gguf: 100% of 1.0 MB" and len(lines) == 12
    assert lines[-1] == "waiting for another pull of x"


def test_known_third_party_noise_is_dropped_and_nothing_else(caplog):
    from slmkit.util.quiet import quiet_known_noise

    quiet_known_noise()
    noisy = logging.getLogger("bitsandbytes.backends.cpu.ops")
    with caplog.at_level(logging.WARNING):
        noisy.warning("Failed to load CPU gemm_4bit_forward from kernels-community: %s", "x")
        noisy.warning("something else")
    assert "gemm_4bit_forward" not in caplog.text and "something else" in caplog.text
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("default")
        quiet_known_noise.__globals__["_installed"] = False
        quiet_known_noise()
        warnings.warn("`is_gradient_checkpointing` is deprecated and will be removed",
                      FutureWarning, stacklevel=1)
        warnings.warn("another future change", FutureWarning, stacklevel=1)
    assert [str(w.message) for w in seen] == ["another future change"]


@pytest.mark.slow
def test_importing_peft_under_the_cli_filters_prints_no_bitsandbytes_warning():
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    code = ("from slmkit.util.quiet import quiet_known_noise\nquiet_known_noise()\n"
            "import bitsandbytes, peft\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "trust_remote_code" not in out.stderr and "gemm_4bit_forward" not in out.stderr


def test_an_automatic_pull_off_a_terminal_reports_progress_lines(monkeypatch, tmp_path):
    # issue 14: a pull started by `slm run` printed nothing when stderr was not a terminal
    import argparse
    import io

    from slmkit.cli.common import progress_console

    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a terminal
    assert isinstance(progress_console(argparse.Namespace(json=False)), LineProgress)
    assert progress_console(argparse.Namespace(json=True)) is None  # JSON output stays clean


def test_torch_verbs_turn_off_transformers_weight_loading_bar():
    # issue 14: every verb that loads torch drew transformers' weight-loading bar
    pytest.importorskip("transformers")
    from transformers.utils import logging as tf_logging

    from slmkit.runtime.torch.loader import quiet_transformers

    level = tf_logging.get_verbosity()
    tf_logging.enable_progress_bar()
    try:
        quiet_transformers(verbose=False)
        assert not tf_logging.is_progress_bar_enabled()
        tf_logging.enable_progress_bar()
        quiet_transformers(verbose=True)  # --verbose keeps the bar
        assert tf_logging.is_progress_bar_enabled()
    finally:
        tf_logging.enable_progress_bar()
        tf_logging.set_verbosity(level)
