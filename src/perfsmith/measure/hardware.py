"""The machine: its fingerprint, and which hardware metrics it can measure.

Numbers measured under different fingerprints are never compared. Beside the
fingerprint this module finds the energy counters (RAPL for CPU packages, NVML for
NVIDIA GPUs), probes valgrind and perf, says which metrics work here
(``metric_support``) and describes the CPU for kernel work (``cpu_spec``: model, cores,
SIMD flags, cache sizes). It imports only the standard library (pynvml lazily, where
installed), so it also runs on machines without perfsmith's dependencies.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import platform
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


def _cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    try:
        for line in cpuinfo.read_text(encoding="utf-8").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# SIMD and related instruction-set flags a kernel can use, in the order they are shown.
SIMD_FLAGS: tuple[str, ...] = (
    "sse4_2", "avx", "avx2", "fma", "f16c", "bmi2", "avx_vnni",
    "avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl", "avx512_vnni",
    "avx512_bf16", "avx512_fp16", "amx_tile", "asimd", "asimdhp", "sve", "sve2",
)  # fmt: skip
CPU_CACHE = Path("/sys/devices/system/cpu/cpu0/cache")
CPUINFO = Path("/proc/cpuinfo")


@dataclass(frozen=True)
class CacheLevel:
    """One cache of the first CPU, as sysfs describes it.

    Attributes:
        level: 1, 2, 3...
        kind: "Data", "Instruction" or "Unified".
        size_bytes: Capacity.
        line_bytes: Line size (0 when not given).
        ways: Associativity (0 when not given).
        shared_cpus: How many logical CPUs share this cache (0 when not given).
    """

    level: int
    kind: str
    size_bytes: int
    line_bytes: int = 0
    ways: int = 0
    shared_cpus: int = 0

    @property
    def name(self) -> str:
        """``L1d``, ``L1i``, ``L2``..."""
        suffix = {"Data": "d", "Instruction": "i"}.get(self.kind, "")
        return f"L{self.level}{suffix}"


@dataclass(frozen=True)
class CpuSpec:
    """What a kernel author needs to know about the CPU: model, cores, SIMD, caches.

    Attributes:
        model: The model name (``/proc/cpuinfo``).
        machine: The architecture (``x86_64``, ``aarch64``).
        cpus: Logical CPUs this process may run on.
        simd: The flags of ``SIMD_FLAGS`` this CPU has, in that order.
        caches: The first CPU's caches, by level (data before instruction).
    """

    model: str
    machine: str
    cpus: int
    simd: tuple[str, ...]
    caches: tuple[CacheLevel, ...]

    def cache(self, name: str) -> CacheLevel | None:
        """The cache called ``name`` (``L1d``, ``L2``...), or None."""
        return next((c for c in self.caches if c.name == name), None)

    def last_level(self) -> CacheLevel | None:
        """The highest-level data or unified cache, or None."""
        data = [c for c in self.caches if c.kind != "Instruction"]
        return max(data, key=lambda c: c.level) if data else None

    def describe(self) -> str:
        """Three lines: the CPU and its cores, the SIMD flags, the caches."""
        if "avx512f" in self.simd:
            vector = "512-bit"
        elif "avx" in self.simd:
            vector = "256-bit"
        else:
            vector = "128-bit" if self.simd else "unknown"
        plural = "s" if self.cpus != 1 else ""
        caches = "; ".join(_cache_text(c) for c in self.caches) or "unknown"
        return "\n".join(
            [
                f"CPU: {self.model} ({self.machine}), {self.cpus} logical CPU{plural} "
                "available to the kernel",
                f"SIMD: {', '.join(self.simd) or 'none found'} (widest vectors: {vector})",
                f"Caches: {caches}",
            ]
        )


def _cache_text(c: CacheLevel) -> str:
    details = [f"{c.ways}-way" if c.ways else "", f"{c.line_bytes} B lines" if c.line_bytes else ""]
    if c.shared_cpus > 1:
        details.append(f"shared by {c.shared_cpus} CPUs")
    inner = ", ".join(d for d in details if d)
    return f"{c.name} {format_bytes(c.size_bytes)}" + (f" ({inner})" if inner else "")


def format_bytes(n: int) -> str:
    """``48 KiB``, ``1 MiB``, ``1.5 MiB``: binary units, at most one decimal."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            value = n / scale
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} B"


def _size(text: str) -> int:
    """sysfs sizes: ``48K``, ``1024K``, ``32M`` or plain bytes."""
    text = text.strip().upper()
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
    return int(text.rstrip("KMG") or 0) * scale


def _cpu_count(cpu_list: str) -> int:
    """Logical CPUs in a sysfs list such as ``0-3,8``."""
    count = 0
    for part in cpu_list.strip().split(","):
        if "-" in part:
            low, high = part.split("-", 1)
            count += int(high) - int(low) + 1
        elif part:
            count += 1
    return count


def _caches(root: Path) -> tuple[CacheLevel, ...]:
    found: list[CacheLevel] = []
    for d in sorted(root.glob("index*")):

        def read(name: str, d: Path = d) -> str:
            try:
                return (d / name).read_text(encoding="utf-8").strip()
            except OSError:
                return ""

        try:
            level, size = int(read("level")), _size(read("size"))
            line = int(read("coherency_line_size") or 0)
            ways = int(read("ways_of_associativity") or 0)
            shared = _cpu_count(read("shared_cpu_list"))
        except ValueError:
            continue
        if size:
            found.append(CacheLevel(level, read("type") or "Unified", size, line, ways, shared))
    order = {"Data": 0, "Unified": 1, "Instruction": 2}
    return tuple(sorted(found, key=lambda c: (c.level, order.get(c.kind, 3))))


def _cpu_flags(cpuinfo: Path) -> set[str]:
    try:
        text = cpuinfo.read_text(encoding="utf-8")
    except OSError:
        return set()
    for line in text.splitlines():
        key = line.split(":", 1)[0].strip().lower()
        if key in ("flags", "features"):
            return set(line.split(":", 1)[1].split())
    return set()


def cpu_spec(cpuinfo: Path = CPUINFO, cache_root: Path = CPU_CACHE) -> CpuSpec:
    """The CPU model, the CPUs this process may use, its SIMD flags and its caches.

    Args:
        cpuinfo: ``/proc/cpuinfo`` (another file only in tests).
        cache_root: The first CPU's cache folder in sysfs (another only in tests).

    Returns:
        What could be read; missing parts are empty (a machine without sysfs still
        gets its model and CPU count).
    """
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    flags = _cpu_flags(cpuinfo)
    return CpuSpec(
        model=_cpu_model(cpuinfo),
        machine=platform.machine(),
        cpus=int(cpus or 1),
        simd=tuple(f for f in SIMD_FLAGS if f in flags),
        caches=_caches(cache_root),
    )


def python_version(python: str) -> str:
    """The version string of the interpreter that runs the candidates."""
    try:
        out = subprocess.run(
            [
                python,
                "-c",
                "import platform; print(platform.python_implementation(), "
                "platform.python_version())",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() or "unknown"


def fingerprint(*, python: str, sandbox: str) -> dict[str, str | int]:
    """What identifies this machine and set-up for timing purposes."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    data: dict[str, str | int] = {
        "cpu": _cpu_model(),
        "cpus": int(cpus or 1),
        "machine": platform.machine(),
        "kernel": platform.release(),
        "os": platform.system(),
        "python": python_version(python),
        "sandbox": sandbox,
    }
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]
    data["id"] = digest
    return data


# -- energy counters ------------------------------------------------------------------

POWERCAP = Path("/sys/class/powercap")
# Top-level RAPL zones only: sub-zones (intel-rapl:0:0, core/uncore/dram) are parts of their
# package and the MMIO mirror (intel-rapl-mmio:0) repeats it, so either would count twice.
_RAPL_ZONE = re.compile(r"intel-rapl:\d+")
_NVML_HINT = "pip install nvidia-ml-py on a machine with an NVIDIA GPU (Volta or newer)"


class EnergyReader(Protocol):
    """A set of cumulative energy counters read from outside the measured process."""

    @property
    def source(self) -> str: ...

    @property
    def width(self) -> int: ...

    def read(self) -> tuple[int, ...]: ...

    def joules(self, before: Sequence[int], after: Sequence[int]) -> float: ...


def rapl_delta_uj(before: int, after: int, max_range_uj: int) -> int:
    """Microjoules between two readings of one RAPL counter, across one wrap-around.

    The counter counts up to ``max_energy_range_uj`` and starts again at zero, so a
    reading below the previous one means it wrapped (once: at the usual ranges a wrap
    takes minutes, longer than any reading interval used here).

    Args:
        before: ``energy_uj`` at the start.
        after: ``energy_uj`` at the end.
        max_range_uj: the zone's ``max_energy_range_uj``.

    Returns:
        The energy used in between, in microjoules (never negative).

    Raises:
        ValueError: A reading lies outside ``[0, max_range_uj]``.
    """
    for value in (before, after):
        if not 0 <= value <= max_range_uj:
            raise ValueError(f"RAPL reading {value} outside [0, {max_range_uj}]")
    return after - before if after >= before else after + max_range_uj - before


@dataclass(frozen=True)
class RaplZone:
    """One readable RAPL zone: its name, counter file and wrap-around range."""

    name: str
    energy_file: Path
    max_range_uj: int


@dataclass(frozen=True)
class RaplReader:
    """Sums the package-level RAPL counters (CPU sockets; the whole machine, not one process)."""

    zones: tuple[RaplZone, ...]

    @property
    def source(self) -> str:
        return "RAPL (" + ", ".join(z.name for z in self.zones) + ")"

    @property
    def width(self) -> int:
        return len(self.zones)

    def read(self) -> tuple[int, ...]:
        return tuple(int(z.energy_file.read_text().strip()) for z in self.zones)

    def joules(self, before: Sequence[int], after: Sequence[int]) -> float:
        deltas = (
            rapl_delta_uj(b, a, z.max_range_uj)
            for b, a, z in zip(before, after, self.zones, strict=True)
        )
        return sum(deltas) / 1e6


def _rapl_status(root: Path) -> tuple[RaplReader | None, str]:
    if not root.is_dir():
        return None, f"{root} is not present (no powercap/RAPL driver in this kernel or VM)"
    dirs = sorted(p for p in root.iterdir() if _RAPL_ZONE.fullmatch(p.name))
    if not dirs:
        return None, f"no intel-rapl zones under {root} (CPU or VM without RAPL)"
    zones: list[RaplZone] = []
    problems: list[str] = []
    for d in dirs:
        try:
            name = (d / "name").read_text().strip() if (d / "name").exists() else d.name
            int((d / "energy_uj").read_text().strip())
            max_range = int((d / "max_energy_range_uj").read_text().strip())
        except PermissionError:
            problems.append(f"{d.name}: energy_uj not readable (root only on most kernels)")
            continue
        except (OSError, ValueError) as exc:
            problems.append(f"{d.name}: {exc}")
            continue
        zones.append(RaplZone(name, d / "energy_uj", max_range))
    # psys covers the whole platform, packages included: counting both would count twice.
    packages = [z for z in zones if z.name != "psys"] or zones
    if not packages:
        return None, "; ".join(problems)
    return RaplReader(tuple(packages)), f"readable: {', '.join(z.name for z in packages)}"


def rapl_reader(root: Path = POWERCAP) -> RaplReader | None:
    """The machine's RAPL package counters, or None when none is readable.

    Args:
        root: the powercap folder (a different one only in tests).
    """
    return _rapl_status(root)[0]


@dataclass(frozen=True)
class NvmlReader:
    """Total energy of every NVIDIA GPU since the driver loaded (NVML, millijoules)."""

    nvml: Any  # the pynvml module, imported lazily
    handles: tuple[Any, ...]

    @property
    def source(self) -> str:
        return f"NVML ({len(self.handles)} GPU{'s' if len(self.handles) != 1 else ''})"

    @property
    def width(self) -> int:
        return len(self.handles)

    def read(self) -> tuple[int, ...]:
        return tuple(int(self.nvml.nvmlDeviceGetTotalEnergyConsumption(h)) for h in self.handles)

    def joules(self, before: Sequence[int], after: Sequence[int]) -> float:
        # A 64-bit millijoule counter: it does not wrap in any machine's lifetime.
        return sum(a - b for b, a in zip(before, after, strict=True)) / 1e3


def _nvml_status() -> tuple[NvmlReader | None, str]:
    try:
        # Imported by name: an optional package without type information.
        nvml = importlib.import_module("pynvml")
    except ImportError:
        return None, f"pynvml is not installed ({_NVML_HINT})"
    try:
        nvml.nvmlInit()
        handles = tuple(
            nvml.nvmlDeviceGetHandleByIndex(i) for i in range(nvml.nvmlDeviceGetCount())
        )
        if not handles:
            return None, "NVML found no GPU"
        reader = NvmlReader(nvml, handles)
        reader.read()  # pre-Volta GPUs and some virtual GPUs have no energy counter
    except Exception as exc:  # pynvml raises NVMLError subclasses made at run time
        return None, f"NVML is not usable here: {exc} ({_NVML_HINT})"
    return reader, f"readable: {reader.source}"


def nvml_reader() -> NvmlReader | None:
    """The NVIDIA GPUs' energy counters, or None (no pynvml, no GPU, no counter)."""
    return _nvml_status()[0]


@dataclass(frozen=True)
class CombinedReader:
    """Several readers summed: CPU packages and GPUs together."""

    readers: tuple[EnergyReader, ...]

    @property
    def source(self) -> str:
        return " + ".join(r.source for r in self.readers)

    @property
    def width(self) -> int:
        return sum(r.width for r in self.readers)

    def read(self) -> tuple[int, ...]:
        return tuple(v for r in self.readers for v in r.read())

    def joules(self, before: Sequence[int], after: Sequence[int]) -> float:
        total, at = 0.0, 0
        for r in self.readers:
            n = r.width
            total += r.joules(before[at : at + n], after[at : at + n])
            at += n
        return total


def energy_reader() -> EnergyReader | None:
    """Every readable energy counter here (RAPL and NVML, summed), or None."""
    found: list[EnergyReader] = [r for r in (rapl_reader(), nvml_reader()) if r is not None]
    if not found:
        return None
    return found[0] if len(found) == 1 else CombinedReader(tuple(found))


def energy_available() -> tuple[bool, str]:
    """Whether energy can be measured here, and which counters or why not."""
    return _energy_status(_rapl_status(POWERCAP), _nvml_status())


def _energy_status(
    rapl: tuple[RaplReader | None, str], nvml: tuple[NvmlReader | None, str]
) -> tuple[bool, str]:
    if rapl[0] is None and nvml[0] is None:
        return False, f"no energy counter: RAPL: {rapl[1]}; NVML: {nvml[1]}"
    return True, " + ".join(r.source for r in (rapl[0], nvml[0]) if r is not None)


# -- tools ------------------------------------------------------------------------------


def _probe(argv: Sequence[str], timeout_s: float = 20) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None


def valgrind_status() -> tuple[bool, str]:
    """Whether ``valgrind --tool=callgrind`` can count instructions here, and why not."""
    path = shutil.which("valgrind")
    if path is None:
        return False, "valgrind not installed: apt-get install valgrind"
    out = _probe([path, "--version"])
    if out is None or out.returncode != 0:
        return False, f"{path} does not run: reinstall valgrind (apt-get install valgrind)"
    return True, f"{out.stdout.strip()} at {path}"


def perf_status() -> tuple[bool, str]:
    """Whether ``perf stat -e instructions`` reads a hardware counter here, and why not."""
    path = shutil.which("perf")
    if path is None:
        return False, "perf not installed (apt-get install linux-perf); callgrind works without it"
    out = _probe([path, "stat", "-x", ",", "-e", "instructions", "true"])
    if out is None:
        return False, f"{path} did not run"
    text = out.stderr + out.stdout
    if "<not supported>" in text:
        return False, "perf: no hardware instruction counter here (usual in VMs); use callgrind"
    if out.returncode != 0 or "<not counted>" in text:
        last = text.strip().splitlines()[-1] if text.strip() else f"exit code {out.returncode}"
        return False, (
            f"perf stat failed: {last[:200]} (check /proc/sys/kernel/perf_event_paranoid, "
            "or a perf build for this kernel)"
        )
    return True, f"perf stat counts instructions ({path})"


def metric_support() -> dict[str, tuple[bool, str]]:
    """Which measurement tools work on this machine, each with a one-line reason.

    Keys: ``tracemalloc`` (peak memory; always there), ``valgrind`` (instruction
    counts via callgrind), ``perf`` (hardware instruction counters), ``rapl`` (CPU
    package energy), ``nvml`` (GPU energy), ``energy`` (either of the last two).
    """
    rapl, nvml = _rapl_status(POWERCAP), _nvml_status()
    return {
        "tracemalloc": (True, "Python allocations traced in the workload process"),
        "valgrind": valgrind_status(),
        "perf": perf_status(),
        "rapl": (rapl[0] is not None, rapl[1]),
        "nvml": (nvml[0] is not None, nvml[1]),
        "energy": _energy_status(rapl, nvml),
    }
