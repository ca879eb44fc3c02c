"""What this machine offers a small model: RAM, cores, CPU features, GPUs.

``probe()`` is fast (no benchmarks, at most one ``nvidia-smi`` call with a 3 s timeout),
cached for the life of the process, and never raises: anything it cannot read degrades to
an empty or zero value. Standard library plus ``psutil`` (optional at run time).
"""

from __future__ import annotations

import functools
import os
import platform
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass, field

from slmkit.util.threads import cpu_cores

# CPU features that decide which llama.cpp kernels run (x86 SIMD, ARM dot-product/matmul).
# Names as Linux's /proc/cpuinfo spells them; macOS sysctl names are mapped onto these.
FLAGS_OF_INTEREST: tuple[str, ...] = (
    "sse3", "ssse3", "sse4_1", "sse4_2", "avx", "avx2", "fma", "f16c",
    "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "avx_vnni",
    "amx_tile", "amx_int8", "amx_bf16",
    "neon", "asimd", "asimddp", "asimdhp", "i8mm", "bf16", "sve", "sve2", "sme",
)

# Apple arm64 sysctl keys (hw.optional.*) → our flag names.
_MAC_ARM_KEYS: dict[str, str] = {
    "hw.optional.neon": "neon",
    "hw.optional.AdvSIMD": "asimd",
    "hw.optional.arm.FEAT_DotProd": "asimddp",
    "hw.optional.arm.FEAT_FP16": "asimdhp",
    "hw.optional.arm.FEAT_I8MM": "i8mm",
    "hw.optional.arm.FEAT_BF16": "bf16",
    "hw.optional.arm.FEAT_SME": "sme",
}

NVIDIA_SMI_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Gpu:
    """One accelerator. ``memory_bytes`` is its total memory (unified RAM for Metal)."""

    name: str
    memory_bytes: int
    backend: str  # "cuda" or "metal"


@dataclass(frozen=True)
class Hardware:
    """A snapshot of this machine, as seen by :func:`probe`."""

    total_ram: int
    available_ram: int
    physical_cores: int
    logical_cores: int
    cpu_model: str
    arch: str
    os: str
    cpu_flags: tuple[str, ...] = ()
    gpus: tuple[Gpu, ...] = field(default_factory=tuple)

    @property
    def has_gpu(self) -> bool:
        return bool(self.gpus)

    def has_flag(self, flag: str) -> bool:
        return flag.lower() in self.cpu_flags

    def to_dict(self) -> dict:
        """Plain JSON-ready dict (flags and GPUs as lists)."""
        d = asdict(self)
        d["cpu_flags"] = list(self.cpu_flags)
        d["gpus"] = [asdict(g) for g in self.gpus]
        return d


@functools.lru_cache(maxsize=1)
def probe() -> Hardware:
    """Describe this machine. Cached: call ``probe.cache_clear()`` to look again."""
    system = platform.system()
    arch = _normalize_arch(platform.machine())
    total, available = _memory()
    physical, logical = _cores()
    cpuinfo = _read_text("/proc/cpuinfo") if system == "Linux" else ""
    return Hardware(
        total_ram=total,
        available_ram=available,
        physical_cores=physical,
        logical_cores=logical,
        cpu_model=_cpu_model(system, cpuinfo),
        arch=arch,
        os=system or "unknown",
        cpu_flags=_cpu_flags(system, arch, cpuinfo),
        gpus=_gpus(system, arch, total),
    )


def default_threads(hardware: Hardware | None = None) -> int:
    """Threads for CPU inference: the physical cores (hyper-threads only add contention)."""
    hw = hardware or probe()
    return max(1, hw.physical_cores or hw.logical_cores or 1)


# ---------------------------------------------------------------- memory and cores


def _memory() -> tuple[int, int]:
    total, available = _proc_meminfo()  # Linux: what psutil reads, without its 15 ms import
    if not total:
        try:
            import psutil

            vm = psutil.virtual_memory()
            total, available = int(vm.total), int(vm.available)
        except Exception:  # psutil missing or unsupported platform
            total, available = _memory_fallback()
    limit = _cgroup_limit()
    if limit:
        total = min(total, limit[0]) if total else limit[0]
        available = min(available, limit[0] - limit[1]) if available else limit[0] - limit[1]
    return max(0, total), max(0, available)


def _proc_meminfo() -> tuple[int, int]:
    """Total and available bytes from /proc/meminfo; (0, 0) where there is none."""
    meminfo = _read_text("/proc/meminfo")
    fields = dict(re.findall(r"^(\w+):\s+(\d+) kB", meminfo, re.M))
    if not fields.get("MemTotal"):
        return 0, 0
    total = int(fields["MemTotal"]) * 1024
    return total, int(fields.get("MemAvailable", fields.get("MemFree", 0))) * 1024


def _memory_fallback() -> tuple[int, int]:
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        return total, total
    except (ValueError, OSError, AttributeError):
        return 0, 0


def _cgroup_limit() -> tuple[int, int] | None:
    """(limit, usage) of a cgroup v2 memory limit, when a container sets one.

    Usage leaves out inactive page cache (the kernel reclaims it), as ``docker stats`` does.
    """
    limit = _read_text("/sys/fs/cgroup/memory.max").strip()
    usage = _read_text("/sys/fs/cgroup/memory.current").strip()
    if not limit.isdigit() or not usage.isdigit():
        return None
    stat = re.search(r"^inactive_file (\d+)$", _read_text("/sys/fs/cgroup/memory.stat"), re.M)
    cache = int(stat.group(1)) if stat else 0
    return int(limit), max(0, int(usage) - cache)


def _cores() -> tuple[int, int]:
    return cpu_cores()


# ---------------------------------------------------------------- CPU


def _normalize_arch(machine: str) -> str:
    m = machine.lower()
    if m in ("amd64", "x64", "x86-64"):
        return "x86_64"
    if m == "arm64" and platform.system() != "Darwin":
        return "aarch64"  # Linux/Windows spell it aarch64; macOS keeps arm64
    return m or "unknown"


def _cpu_model(system: str, cpuinfo: str) -> str:
    for key in ("model name", "Model", "Hardware", "cpu model"):
        match = re.search(rf"^{key}\s*:\s*(.+)$", cpuinfo, re.M)
        if match:
            return match.group(1).strip()
    if system == "Darwin":
        brand = _sysctl("machdep.cpu.brand_string")
        if brand:
            return brand
    return platform.processor() or "unknown"


def _cpu_flags(system: str, arch: str, cpuinfo: str) -> tuple[str, ...]:
    found: set[str] = set()
    match = re.search(r"^(?:flags|Features)\s*:\s*(.*)$", cpuinfo, re.M)
    if match:
        found.update(match.group(1).lower().split())
    if system == "Darwin":
        found.update(_mac_flags())
    if "asimd" in found or arch in ("aarch64", "arm64"):
        found.add("neon")  # AdvSIMD is mandatory on ARMv8-A; Linux reports it as asimd
    if "pni" in found:
        found.add("sse3")  # Linux names SSE3 "pni" (Prescott New Instructions)
    return tuple(f for f in FLAGS_OF_INTEREST if f in found)


def _mac_flags() -> set[str]:
    flags: set[str] = set()
    features = " ".join(
        _sysctl(k) for k in ("machdep.cpu.features", "machdep.cpu.leaf7_features")
    ).lower()
    aliases = {"sse4.1": "sse4_1", "sse4.2": "sse4_2", "avx1.0": "avx",
               "avx512vnni": "avx512_vnni", "avx512bf16": "avx512_bf16"}
    flags.update(aliases.get(word, word) for word in features.split())
    for key, flag in _MAC_ARM_KEYS.items():
        if _sysctl(key) == "1":
            flags.add(flag)
    return flags


def _sysctl(key: str) -> str:
    if not shutil.which("sysctl"):
        return ""
    try:
        out = subprocess.run(["sysctl", "-n", key], capture_output=True, text=True, timeout=2)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


# ---------------------------------------------------------------- GPUs


def _gpus(system: str, arch: str, total_ram: int) -> tuple[Gpu, ...]:
    gpus = list(_nvidia_gpus())
    if system == "Darwin" and arch == "arm64":
        # Apple silicon: Metal shares the unified RAM with the CPU.
        gpus.append(Gpu(name=_sysctl("machdep.cpu.brand_string") or "Apple GPU",
                        memory_bytes=total_ram, backend="metal"))
    return tuple(gpus)


def _nvidia_gpus() -> list[Gpu]:
    exe = shutil.which("nvidia-smi")
    if not exe:
        return []
    cmd = [exe, "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=NVIDIA_SMI_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError):
        return []
    if out.returncode != 0:
        return []
    return parse_nvidia_smi(out.stdout)


def parse_nvidia_smi(text: str) -> list[Gpu]:
    """Parse ``name, memory.total`` CSV lines (MiB, no units) from nvidia-smi."""
    gpus = []
    for line in text.splitlines():
        name, _, mem = line.rpartition(",")
        try:
            mib = int(float(mem.strip()))
        except ValueError:
            continue
        if name.strip():
            gpus.append(Gpu(name=name.strip(), memory_bytes=mib * 1024 * 1024, backend="cuda"))
    return gpus


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return ""


KEY_FLAGS: tuple[str, ...] = (
    "avx", "avx2", "fma", "f16c", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni",
    "amx_int8", "neon", "asimddp", "i8mm", "sve",
)  # the CPU flags that decide which kernels llama.cpp and torch can use


def summary(hw: Hardware) -> str:
    """One line: RAM available/total, cores, key CPU flags, GPU."""
    from slmkit.util.text import format_memory as size

    flags = " ".join(f for f in KEY_FLAGS if f in hw.cpu_flags) or "none of note"
    gpus = ", ".join(f"{g.name} ({size(g.memory_bytes)}, {g.backend})" for g in hw.gpus)
    return (f"RAM {size(hw.available_ram)} available / {size(hw.total_ram)} total"
            f" · {hw.physical_cores} cores ({hw.logical_cores} threads) · {hw.cpu_model}"
            f" · {hw.arch} {hw.os} · flags: {flags} · GPU: {gpus or 'none'}")
