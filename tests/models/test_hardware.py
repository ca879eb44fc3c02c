"""The hardware probe on this machine, and its parsers on canned inputs."""

from __future__ import annotations

import json
import platform

import pytest

from slmkit.models import hardware
from slmkit.models.hardware import Gpu, Hardware, default_threads, parse_nvidia_smi, probe


def test_probe_returns_sane_values_here():
    hw = probe()
    assert hw.total_ram > 0 and 0 < hw.available_ram <= hw.total_ram
    assert hw.physical_cores >= 1 and hw.logical_cores >= hw.physical_cores
    assert hw.arch and hw.os == platform.system()
    assert hw.cpu_model
    assert all(f in hardware.FLAGS_OF_INTEREST for f in hw.cpu_flags)
    assert all(g.memory_bytes > 0 for g in hw.gpus)


def test_probe_is_cached():
    assert probe() is probe()


def test_to_dict_is_json_ready():
    d = json.loads(json.dumps(probe().to_dict()))
    assert {"total_ram", "available_ram", "physical_cores", "logical_cores", "cpu_model",
            "arch", "os", "cpu_flags", "gpus"} <= set(d)
    assert isinstance(d["cpu_flags"], list) and isinstance(d["gpus"], list)


def test_default_threads_is_physical_cores():
    assert default_threads() == max(1, probe().physical_cores)
    hw = Hardware(total_ram=1, available_ram=1, physical_cores=0, logical_cores=0,
                  cpu_model="x", arch="x86_64", os="Linux")
    assert default_threads(hw) == 1


@pytest.mark.skipif(platform.system() != "Linux" or platform.machine() != "x86_64",
                    reason="reads x86 flags from /proc/cpuinfo")
def test_linux_x86_flags_come_from_cpuinfo():
    with open("/proc/cpuinfo") as fh:
        lines = [line for line in fh if line.startswith("flags")]
    assert lines, "an x86 Linux /proc/cpuinfo has a flags line"
    present = set(lines[0].split(":", 1)[1].split())
    if "pni" in present:
        present.add("sse3")  # Linux's name for SSE3
    expected = [f for f in hardware.FLAGS_OF_INTEREST if f in present]
    assert list(probe().cpu_flags) == expected
    assert "sse3" in expected  # every x86-64 CPU this runs on has SSE3: never vacuous


def test_cpu_flags_parsing_x86_and_arm():
    x86 = ("processor\t: 0\nflags\t\t: fpu pni sse4_2 avx avx2 fma f16c avx512f avx512_vnni "
           "amx_int8\n")
    flags = hardware._cpu_flags("Linux", "x86_64", x86)
    assert flags == ("sse3", "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512_vnni",
                     "amx_int8")
    arm = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes asimddp sve i8mm\nCPU part\t: 0xd40\n"
    flags = hardware._cpu_flags("Linux", "aarch64", arm)
    assert {"neon", "asimd", "asimddp", "sve", "i8mm"} <= set(flags)
    assert hardware._cpu_flags("Linux", "x86_64", "") == ()


def test_cpu_model_from_cpuinfo():
    assert hardware._cpu_model("Linux", "model name\t: AMD EPYC 9B14\n") == "AMD EPYC 9B14"


def test_parse_nvidia_smi():
    text = "NVIDIA H100 80GB HBM3, 81559\nNVIDIA GeForce RTX 4090, 24564\nbad line\n"
    gpus = parse_nvidia_smi(text)
    assert gpus == [Gpu("NVIDIA H100 80GB HBM3", 81559 * 1024 * 1024, "cuda"),
                    Gpu("NVIDIA GeForce RTX 4090", 24564 * 1024 * 1024, "cuda")]
    assert parse_nvidia_smi("") == []


def test_missing_nvidia_smi_means_no_gpu(monkeypatch):
    monkeypatch.setattr(hardware.shutil, "which", lambda name: None)
    assert hardware._nvidia_gpus() == []


def test_failing_nvidia_smi_means_no_gpu(monkeypatch):
    def boom(*args, **kwargs):
        raise hardware.subprocess.TimeoutExpired(cmd="nvidia-smi", timeout=3)

    monkeypatch.setattr(hardware.shutil, "which", lambda name: "/usr/bin/nvidia-smi")
    monkeypatch.setattr(hardware.subprocess, "run", boom)
    assert hardware._nvidia_gpus() == []


def test_arch_names_are_normalized():
    assert hardware._normalize_arch("AMD64") == "x86_64"
    assert hardware._normalize_arch("x86_64") == "x86_64"
    assert hardware._normalize_arch("aarch64") == "aarch64"


@pytest.mark.skipif(platform.system() == "Windows", reason="shell-script stand-in")
def test_fake_nvidia_smi_on_path_is_queried(tmp_path, monkeypatch):
    fake = tmp_path / "nvidia-smi"
    fake.write_text('#!/bin/sh\n[ "$1" = "--query-gpu=name,memory.total" ] || exit 9\n'
                    'echo "NVIDIA H100 80GB HBM3, 81559"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert hardware._nvidia_gpus() == [Gpu("NVIDIA H100 80GB HBM3", 81559 * 1024**2, "cuda")]
