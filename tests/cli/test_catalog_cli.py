"""`slm catalog` end to end through the real entry point (subprocess), plus formatting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from slmkit.cli.output import format_bytes, format_ctx, format_params
from slmkit.models import catalog

SRC = str(Path(__file__).resolve().parents[2] / "src")


def slm(*args: str, columns: int = 250, terminal: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": str(columns), "NO_COLOR": "1"}
    if terminal:  # rich draws as on a terminal (else: the plain table for pipes)
        env["FORCE_COLOR"] = "1"
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "slmkit.cli.main", "catalog", *args],
                          capture_output=True, text=True, env=env, timeout=60)


@pytest.fixture(scope="module")
def catalog_json() -> dict:
    out = slm("--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_json_lists_every_model_and_the_hardware(catalog_json):
    assert [m["name"] for m in catalog_json["models"]] == catalog.names()
    hw = catalog_json["hardware"]
    assert hw["total_ram"] > 0 and hw["physical_cores"] >= 1
    assert hw["budget"]["where"] in ("ram", "gpu")
    assert catalog_json["query"] == {"quant": "Q4_K_M", "ctx": 4096, "tier": None,
                                     "fits_only": False, "headroom": 0.1}


def test_json_models_carry_memory_fit_and_offline(catalog_json):
    smol = next(m for m in catalog_json["models"] if m["name"] == "smollm2-135m-instruct")
    assert smol["default"] is False and smol["offline"] is True and smol["tier"] == "micro"
    coder = next(m for m in catalog_json["models"] if m["name"] == "qwen2.5-coder-0.5b-instruct")
    assert coder["default"] is True and coder["offline"] is True  # issue 14: measured
    assert set(smol["memory"]) == {"F16", "Q8_0", "Q4_K_M"}
    q4 = smol["memory"]["Q4_K_M"]
    assert q4["total"] == q4["weights"] + q4["kv_cache"] + q4["overhead"]
    assert q4["kv_cache"] == 2 * 30 * 4096 * 3 * 64 * 2
    assert isinstance(smol["fits"], bool) and smol["use"]


def test_fits_keeps_only_models_that_fit(catalog_json):
    out = slm("--json", "--fits")
    assert out.returncode == 0, out.stderr
    fitted = json.loads(out.stdout)["models"]
    assert all(m["fits"] for m in fitted)
    expected = [m["name"] for m in catalog_json["models"] if m["fits"]]
    assert [m["name"] for m in fitted] == expected


def test_fits_filters_out_models_at_a_huge_context():
    # phi-4's F16 weights alone are ~29 GB; at 128K context the KV cache adds ~21 GB more.
    out = slm("--json", "--fits", "--quant", "F16", "--ctx", "131072")
    names = [m["name"] for m in json.loads(out.stdout)["models"]]
    assert "phi-4" not in names
    assert json.loads(out.stdout)["query"]["quant"] == "F16"


def test_tier_and_extra_quant_column():
    out = slm("--json", "--tier", "micro", "--quant", "q6_k", "--ctx", "2048")
    data = json.loads(out.stdout)
    assert data["models"] and all(m["tier"] == "micro" for m in data["models"])
    assert set(data["models"][0]["memory"]) == {"F16", "Q8_0", "Q4_K_M", "Q6_K"}
    assert data["models"][0]["memory"]["Q6_K"]["n_ctx"] == 2048


def test_table_mentions_default_model_and_hardware():
    out = slm()
    assert out.returncode == 0, out.stderr
    default = catalog.default_model().name
    assert default in out.stdout
    assert f"default model: {default}" in out.stdout
    assert "RAM" in out.stdout and "available" in out.stdout
    for column in ("F16", "Q8_0", "Q4_K_M", "offline", "use"):
        assert column in out.stdout
    assert "qwen2.5-coder-0.5b-instruct" in out.stdout


def test_narrow_terminal_keeps_use_and_licence_in_the_name_cell():
    out = slm("--tier", "micro", columns=110, terminal=True)
    assert out.returncode == 0, out.stderr
    header = next(line for line in out.stdout.splitlines() if "params" in line)
    assert "name" in header and "licence" not in header and "use" not in header
    assert "Apache-2.0" in out.stdout and "Tiny and fastest offline model" in out.stdout
    assert "qwen2.5-coder-0.5b-instruct *" in out.stdout


def test_piped_table_is_one_line_per_model():
    """Piped to a file (not a terminal, rich's 80 columns) the table must not wrap."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "FORCE_COLOR")}
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-m", "slmkit.cli.main", "catalog"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    for e in catalog.entries():
        line = next(ln for ln in lines if ln.startswith(e.name))
        assert e.use in line and e.licence.replace(" ", "_") in line and e.korean in line
    assert not any(len(ln.split()) == 1 for ln in lines)
    assert len(lines) == len(catalog.entries()) + 3


def test_bad_arguments_are_usage_errors():
    assert slm("--quant", "Q3_Z").returncode == 2
    assert slm("--ctx", "0").returncode == 2
    assert slm("--tier", "huge").returncode == 2


@pytest.mark.parametrize("n, text", [
    (94_371_840, "94 MB"), (134_000_000, "0.1 GB"), (357_000_000, "0.4 GB"),
    (14_660_000_000, "14.7 GB"),
])
def test_format_bytes(n, text):
    assert format_bytes(n) == text


def test_format_params_and_ctx():
    assert format_params(134_515_008) == "135M"
    assert format_params(999_885_952) == "1.0B"
    assert format_params(14_659_507_200) == "14.7B"
    assert format_ctx(131072) == "128K" and format_ctx(8192) == "8K" and format_ctx(256) == "256"
