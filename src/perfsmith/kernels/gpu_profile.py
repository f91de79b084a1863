"""What a GPU says about a kernel beyond its time: NVML readings and Nsight Compute metrics.

- ``GpuMonitor`` reads one GPU through NVML (``pynvml`` from ``nvidia-ml-py``, imported
  lazily, as ``perfsmith.measure.hardware`` does): utilisation, memory in use, power, and
  the total-energy counter, read before and after a batch of calls to give millijoules per
  call (``energy_summary``). The counter's resolution is coarse, so a batch should last
  about a second.
- ``profile_kernel`` runs one kernel call in a child process under Nsight Compute (``ncu``)
  with a small fixed metric set: achieved occupancy, DRAM bytes/s and % of peak, SM and
  memory throughput % of peak, and the warp-stall breakdown (cycles per issued
  instruction, by reason). The CSV that ``ncu --csv`` prints is parsed by
  ``parse_ncu_csv`` and summed over the kernels of the call by ``summarize_ncu``. A
  machine where performance counters are reserved to administrators
  (``ERR_NVGPUCTRPERM``) gives the status ``not permitted``, never an exception.
"""

from __future__ import annotations

import contextlib
import csv
import importlib
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfsmith.measure.hardware import NvmlReader

__all__ = [
    "NCU_CORE_METRICS",
    "NCU_METRICS",
    "STALL_REASONS",
    "GpuMonitor",
    "child_env",
    "energy_summary",
    "find_ncu",
    "metric_value",
    "ncu_argv",
    "ncu_status",
    "ncu_text",
    "parse_ncu_csv",
    "profile_kernel",
    "rejected_metrics",
    "run_child",
    "summarize_ncu",
]

# Metric names as Nsight Compute's sections use them (SpeedOfLight, Occupancy,
# MemoryWorkloadAnalysis, WarpStateStats).
DURATION = "gpu__time_duration.sum"
OCCUPANCY = "sm__warps_active.avg.pct_of_peak_sustained_active"
THEORETICAL_OCCUPANCY = "sm__maximum_warps_per_active_cycle_pct"
DRAM_BYTES = "dram__bytes.sum"
DRAM_RATE = "dram__bytes.sum.per_second"
DRAM_PCT = "dram__throughput.avg.pct_of_peak_sustained_elapsed"
SM_PCT = "sm__throughput.avg.pct_of_peak_sustained_elapsed"
MEMORY_PCT = "gpu__compute_memory_throughput.avg.pct_of_peak_sustained_elapsed"
STALL_REASONS: tuple[str, ...] = (
    "long_scoreboard",
    "short_scoreboard",
    "mio_throttle",
    "lg_throttle",
    "math_pipe_throttle",
    "tex_throttle",
    "barrier",
    "membar",
    "wait",
    "not_selected",
    "no_instruction",
    "branch_resolving",
    "dispatch_stall",
    "drain",
    "imc_miss",
    "sleeping",
    "misc",
)
STALL_PREFIX = "smsp__average_warps_issue_stalled_"
STALL_SUFFIX = "_per_issue_active.ratio"
NCU_CORE_METRICS: tuple[str, ...] = (DURATION, OCCUPANCY, DRAM_PCT, SM_PCT)
NCU_METRICS: tuple[str, ...] = (
    DURATION,
    OCCUPANCY,
    THEORETICAL_OCCUPANCY,
    DRAM_BYTES,
    DRAM_RATE,
    DRAM_PCT,
    SM_PCT,
    MEMORY_PCT,
    *(f"{STALL_PREFIX}{r}{STALL_SUFFIX}" for r in STALL_REASONS),
)
TOP_STALLS = 4
NCU_HOMES: tuple[Path, ...] = (Path("/usr/local/cuda/bin"), Path("/opt/nvidia/nsight-compute"))
_TIME_UNITS = {"nsecond": 1e-9, "ns": 1e-9, "usecond": 1e-6, "us": 1e-6, "msecond": 1e-3}
_TIME_UNITS |= {"ms": 1e-3, "second": 1.0, "s": 1.0, "sec": 1.0}
_PREFIXES = {"": 1.0, "K": 1e3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
_COUNTED = re.compile(r"^([KkMGT]?)(byte|B|cycle|inst|warp|thread|sector|request|block)s?$")
NOT_PERMITTED = (
    "Nsight Compute may not read this GPU's performance counters (ERR_NVGPUCTRPERM): the "
    "driver keeps them for administrators. Run as root, or load the nvidia module with "
    "NVreg_RestrictProfilingToAdminUsers=0; timing, checks and NVML readings do not need them."
)
_PERMISSION = ("ERR_NVGPUCTRPERM", "does not have permission to access NVIDIA GPU Performance")


# -- NVML ---------------------------------------------------------------------------------


def energy_summary(
    before_mj: int, after_mj: int, calls: int, seconds: float, idle_power_w: float | None
) -> dict[str, float | int | None]:
    """Energy of a batch of calls, from the total-energy counter read before and after.

    Args:
        before_mj, after_mj: ``nvmlDeviceGetTotalEnergyConsumption`` (millijoules).
        calls: kernel calls in the batch.
        seconds: wall time of the batch.
        idle_power_w: the GPU's power at rest, if measured.

    Returns:
        ``calls``, ``seconds``, ``energy_mj`` (the batch), ``energy_mj_per_call``,
        ``average_power_w``, and ``energy_above_idle_mj_per_call`` (what the calls cost
        beyond idle power; None without an idle reading).
    """
    if calls <= 0 or seconds <= 0:
        raise ValueError("an energy batch needs at least one call and a positive duration")
    energy_mj = after_mj - before_mj
    power = energy_mj / 1e3 / seconds
    above = None
    if idle_power_w is not None:
        above = max(0.0, energy_mj - idle_power_w * seconds * 1e3) / calls
    return {
        "calls": calls,
        "seconds": seconds,
        "energy_mj": energy_mj,
        "energy_mj_per_call": energy_mj / calls,
        "average_power_w": power,
        "idle_power_w": idle_power_w,
        "energy_above_idle_mj_per_call": above,
    }


@dataclass
class GpuMonitor:
    """NVML readings of one GPU (``nvml`` is the ``pynvml`` module)."""

    nvml: Any
    handle: Any

    @classmethod
    def open(cls, pci_bus_id: str | None = None, index: int = 0) -> tuple[GpuMonitor | None, str]:
        """The GPU with that PCI bus id (as CUDA reports it), else NVML's device ``index``.

        Returns:
            ``(monitor, "")``, or ``(None, why)`` when pynvml is missing or NVML fails.
        """
        try:
            nvml = importlib.import_module("pynvml")
        except ImportError:
            return None, "pynvml is not installed (pip install nvidia-ml-py)"
        try:
            nvml.nvmlInit()
            handle = None
            if pci_bus_id:
                with contextlib.suppress(Exception):
                    handle = nvml.nvmlDeviceGetHandleByPciBusId(pci_bus_id.encode())
            if handle is None:
                handle = nvml.nvmlDeviceGetHandleByIndex(index)
        except Exception as exc:  # pynvml raises NVMLError subclasses made at run time
            return None, f"NVML is not usable here: {exc}"
        return cls(nvml, handle), ""

    def _read(self, function: str, *args: Any) -> Any:
        try:
            return getattr(self.nvml, function)(self.handle, *args)
        except Exception:  # a reading this GPU or driver lacks
            return None

    def energy_mj(self) -> int | None:
        """The total-energy counter (mJ since the driver loaded), or None without one."""
        try:
            return int(NvmlReader(self.nvml, (self.handle,)).read()[0])
        except Exception:
            return None

    def snapshot(self) -> dict[str, Any]:
        """Utilisation (%), memory in use and total (MiB), power and its limit (W),
        temperature (C) and clocks (MHz); a reading the GPU does not give is None."""
        util = self._read("nvmlDeviceGetUtilizationRates")
        memory = self._read("nvmlDeviceGetMemoryInfo")
        power = self._read("nvmlDeviceGetPowerUsage")
        limit = self._read("nvmlDeviceGetEnforcedPowerLimit")
        name = self._read("nvmlDeviceGetName")
        clock_sm = getattr(self.nvml, "NVML_CLOCK_SM", 1)
        clock_mem = getattr(self.nvml, "NVML_CLOCK_MEM", 2)
        sensor = getattr(self.nvml, "NVML_TEMPERATURE_GPU", 0)
        return {
            "name": name.decode() if isinstance(name, bytes) else name,
            "gpu_util_pct": None if util is None else int(util.gpu),
            "memory_util_pct": None if util is None else int(util.memory),
            "memory_used_mib": None if memory is None else int(memory.used) / 2**20,
            "memory_total_mib": None if memory is None else int(memory.total) / 2**20,
            "power_w": None if power is None else int(power) / 1e3,
            "power_limit_w": None if limit is None else int(limit) / 1e3,
            "temperature_c": self._read("nvmlDeviceGetTemperature", sensor),
            "sm_clock_mhz": self._read("nvmlDeviceGetClockInfo", clock_sm),
            "memory_clock_mhz": self._read("nvmlDeviceGetClockInfo", clock_mem),
            "max_memory_clock_mhz": self._read("nvmlDeviceGetMaxClockInfo", clock_mem),
            "memory_bus_bits": self._read("nvmlDeviceGetMemoryBusWidth"),
        }

    def idle_power_w(self, seconds: float = 0.5) -> float | None:
        """Average power over ``seconds`` of doing nothing, from the energy counter."""
        before = self.energy_mj()
        start = time.perf_counter()
        time.sleep(seconds)
        after = self.energy_mj()
        if before is None or after is None:
            return None
        return (after - before) / 1e3 / (time.perf_counter() - start)

    def measure(
        self, batch: Callable[[], int], idle_power_w: float | None
    ) -> dict[str, Any] | None:
        """Run ``batch`` (which makes its calls, synchronises and returns how many) between
        two energy readings; None without an energy counter."""
        before = self.energy_mj()
        if before is None:
            return None
        start = time.perf_counter()
        calls = batch()
        seconds = time.perf_counter() - start
        after = self.energy_mj()
        if after is None:
            return None
        summary: dict[str, Any] = energy_summary(before, after, calls, seconds, idle_power_w)
        summary["after_batch"] = self.snapshot()
        return summary


# -- Nsight Compute -----------------------------------------------------------------------


def find_ncu() -> Path | None:
    """``ncu`` on PATH, in ``$CUDA_HOME/bin``, ``/usr/local/cuda/bin`` or an Nsight Compute
    install under ``/opt/nvidia/nsight-compute/<version>/``; None when there is none."""
    on_path = shutil.which("ncu")
    if on_path:
        return Path(on_path)
    homes = list(NCU_HOMES)
    if os.environ.get("CUDA_HOME"):
        homes.insert(0, Path(os.environ["CUDA_HOME"]) / "bin")
    for home in homes:
        candidates = [home / "ncu", *sorted(home.glob("*/ncu"), reverse=True)]
        for path in candidates:
            if path.is_file() and os.access(path, os.X_OK):
                return path
    return None


def ncu_argv(ncu: Path, metrics: Sequence[str], command: Sequence[str]) -> list[str]:
    """Nsight Compute's command line: CSV, base units, only the kernels launched between
    ``cudaProfilerStart`` and ``cudaProfilerStop``, the given metrics."""
    return [
        str(ncu),
        "--csv",
        "--print-units",
        "base",
        "--profile-from-start",
        "off",
        "--target-processes",
        "all",
        "--metrics",
        ",".join(metrics),
        *command,
    ]


def parse_ncu_csv(text: str) -> list[dict[str, str]]:
    """The metric rows of ``ncu --csv`` output, one dict per row, keyed by the header.

    Lines that are not CSV (``==PROF==`` messages, the program's own output) are skipped;
    the header is the first CSV line holding ``Metric Name`` and ``Metric Value``.

    Returns:
        e.g. ``[{"ID": "0", "Kernel Name": "k", "Metric Name": "...", "Metric Unit": "%",
        "Metric Value": "41.5", ...}]``; empty when there is no table.
    """
    lines = [line for line in text.splitlines() if line.startswith('"')]
    for i, line in enumerate(lines):
        header = next(csv.reader([line]))
        if "Metric Name" in header and "Metric Value" in header:
            reader = csv.reader(io.StringIO("\n".join(lines[i + 1 :])))
            rows = []
            for row in reader:
                if len(row) == len(header) and row != header:
                    rows.append(dict(zip(header, row, strict=True)))
            return rows
    return []


def _unit_factor(unit: str) -> float | None:
    unit = unit.strip()
    if unit in ("", "%", "ratio"):
        return 1.0
    if unit in _TIME_UNITS:
        return _TIME_UNITS[unit]
    match = _COUNTED.match(unit)
    if match:
        return _PREFIXES[match.group(1)]
    return None


def metric_value(value: str, unit: str) -> float | None:
    """A metric's value in base units: seconds, bytes, bytes per second, percent.

    ``"1,234.5"`` (thousands separators) is 1234.5; ``"2.5", "Gbyte/second"`` is 2.5e9;
    ``"120", "usecond"`` is 1.2e-4. Unknown units keep the number as it is; a value that
    is not a number (``n/a``) is None.
    """
    text = value.strip().replace(",", "")
    try:
        number = float(text)
    except ValueError:
        return None
    top, _, bottom = unit.strip().partition("/")
    factor = _unit_factor(top)
    if factor is None:
        return number
    number *= factor
    if bottom:
        per = _TIME_UNITS.get(bottom.strip())
        if per is None:
            return number
        number /= per
    return number


def ncu_status(text: str, returncode: int | None, rows: Sequence[Mapping[str, str]]) -> str:
    """``ok``, ``not permitted`` (ERR_NVGPUCTRPERM), ``no kernels`` (nothing was
    profiled), ``timed out`` or ``failed``."""
    if any(marker in text for marker in _PERMISSION):
        return "not permitted"
    if returncode is None:
        return "timed out"
    if returncode != 0:
        return "failed"  # the profiled call failed (a wrong output, say): its metrics are not
    if rows:
        return "ok"
    if "No kernels were profiled" in text:
        return "no kernels"
    return "failed"


def rejected_metrics(text: str, requested: Sequence[str]) -> list[str]:
    """The requested metrics that an ``==ERROR==`` line of ncu's output names (a metric
    this ncu or GPU does not know), so that they can be dropped and the run repeated."""
    errors = [line for line in text.splitlines() if "ERROR" in line and "etric" in line]
    return [m for m in requested if any(m in line for line in errors)]


def _weighted(kernels: Sequence[Mapping[str, Any]], key: str) -> float | None:
    pairs = [
        (float(k[key]), float(k.get("duration_s") or 0.0))
        for k in kernels
        if k.get(key) is not None
    ]
    if not pairs:
        return None
    total = sum(w for _, w in pairs)
    if total <= 0:
        return sum(v for v, _ in pairs) / len(pairs)
    return sum(v * w for v, w in pairs) / total


def summarize_ncu(rows: Sequence[Mapping[str, str]]) -> dict[str, Any]:
    """Per-kernel metrics and their sum over the profiled call.

    Returns:
        ``kernels``: one dict per profiled kernel launch (``name``, ``duration_s``,
        ``occupancy_pct``, ``theoretical_occupancy_pct``, ``dram_bytes``,
        ``dram_bytes_per_s``, ``dram_pct_of_peak``, ``sm_pct_of_peak``,
        ``memory_pct_of_peak``, ``stalls``: reason -> cycles per issued instruction,
        ``top_stalls``); ``total``: the durations summed, the percentages averaged weighted
        by duration, DRAM bytes/s as total bytes over total time, and the top stalls of the
        duration-weighted breakdown.
    """
    by_id: dict[str, dict[str, Any]] = {}
    for row in rows:
        kernel = by_id.setdefault(
            row.get("ID", "0"), {"name": row.get("Kernel Name", "?"), "metrics": {}}
        )
        value = metric_value(row.get("Metric Value", ""), row.get("Metric Unit", ""))
        kernel["metrics"][row.get("Metric Name", "")] = value
    kernels = []
    for key in sorted(by_id, key=lambda k: int(k) if k.isdigit() else 0):
        raw = by_id[key]["metrics"]
        stalls = {
            r: raw[f"{STALL_PREFIX}{r}{STALL_SUFFIX}"]
            for r in STALL_REASONS
            if raw.get(f"{STALL_PREFIX}{r}{STALL_SUFFIX}") is not None
        }
        kernels.append(
            {
                "name": by_id[key]["name"],
                "duration_s": raw.get(DURATION),
                "occupancy_pct": raw.get(OCCUPANCY),
                "theoretical_occupancy_pct": raw.get(THEORETICAL_OCCUPANCY),
                "dram_bytes": raw.get(DRAM_BYTES),
                "dram_bytes_per_s": raw.get(DRAM_RATE),
                "dram_pct_of_peak": raw.get(DRAM_PCT),
                "sm_pct_of_peak": raw.get(SM_PCT),
                "memory_pct_of_peak": raw.get(MEMORY_PCT),
                "stalls": stalls,
                "top_stalls": _top(stalls),
            }
        )
    durations = [k["duration_s"] for k in kernels if k["duration_s"] is not None]
    total_time = sum(durations) if durations else None
    dram = [k["dram_bytes"] for k in kernels if k["dram_bytes"] is not None]
    rate = (
        sum(dram) / total_time
        if dram and total_time and len(dram) == len(kernels)
        else _weighted(kernels, "dram_bytes_per_s")
    )
    stalls_total = {
        r: v
        for r in STALL_REASONS
        if (v := _weighted([{**k, r: k["stalls"].get(r)} for k in kernels], r)) is not None
    }
    total = {
        "launches": len(kernels),
        "duration_s": total_time,
        "occupancy_pct": _weighted(kernels, "occupancy_pct"),
        "dram_bytes": sum(dram) if dram else None,
        "dram_bytes_per_s": rate,
        "dram_pct_of_peak": _weighted(kernels, "dram_pct_of_peak"),
        "sm_pct_of_peak": _weighted(kernels, "sm_pct_of_peak"),
        "memory_pct_of_peak": _weighted(kernels, "memory_pct_of_peak"),
        "stalls": stalls_total,
        "top_stalls": _top(stalls_total),
    }
    return {"kernels": kernels, "total": total}


def _top(stalls: Mapping[str, float]) -> list[list[Any]]:
    ranked = sorted(stalls.items(), key=lambda kv: -kv[1])
    return [[reason, value] for reason, value in ranked[:TOP_STALLS] if value > 0]


def _num(value: Any, fmt: str) -> str:
    return "?" if value is None else format(value, fmt)


def ncu_text(summary: Mapping[str, Any]) -> str:
    """One line for the Judge, e.g. ``2 launches, 0.412 ms: occupancy 61%, DRAM 2,950
    GB/s (88% of peak), SM 31%; stalls: long_scoreboard 12.1, ...``."""
    if summary.get("status") != "ok":
        return f"Nsight Compute: {summary.get('status')} ({summary.get('detail', '')})".strip()
    total = summary["total"]
    stalls = ", ".join(f"{r} {v:.1f}" for r, v in total.get("top_stalls") or [])
    rate = total.get("dram_bytes_per_s")
    duration = total.get("duration_s")
    return (
        f"{total.get('launches')} launch(es), "
        f"{'?' if duration is None else f'{duration * 1e3:.3f}'} ms: occupancy "
        f"{_num(total.get('occupancy_pct'), '.0f')}%, DRAM "
        f"{'?' if rate is None else f'{rate / 1e9:,.0f}'} GB/s "
        f"({_num(total.get('dram_pct_of_peak'), '.0f')}% of peak), SM "
        f"{_num(total.get('sm_pct_of_peak'), '.0f')}% of peak"
        + (f"; warp stalls (cycles per issued instruction): {stalls}" if stalls else "")
    )


def run_child(argv: list[str], timeout_s: float, env: Mapping[str, str]) -> tuple[int | None, str]:
    """Run a command in its own process group (killed whole on timeout); its exit code
    (None on timeout) and its output, stdout and stderr together."""
    with tempfile.TemporaryFile() as sink:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=dict(env),
            start_new_session=True,
        )
        code: int | None = None
        try:
            code = proc.wait(timeout=timeout_s)
        finally:
            if code is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, 9)
                proc.wait()
        sink.seek(0)
        return code, sink.read().decode("utf-8", errors="replace")


def child_env() -> dict[str, str]:
    """The environment for a child Python that imports perfsmith from the same place."""
    root = str(Path(__file__).resolve().parents[2])
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": root + (os.pathsep + path if path else "")}


def profile_kernel(
    task_folder: Path,
    lib: Path,
    *,
    suite: str | None = None,
    timeout_s: float = 180,
    ncu: Path | None = None,
    metrics: Sequence[str] = NCU_METRICS,
) -> dict[str, Any]:
    """Profile one call of a compiled kernel at the task's timing shape under ncu.

    The call runs in a child process (``python -m perfsmith.kernels.gpu_job call-once``),
    which warms the kernel up, then calls it once between ``cudaProfilerStart`` and
    ``cudaProfilerStop``. Metrics this ncu rejects are dropped and the run repeated (once,
    then with ``NCU_CORE_METRICS`` only).

    Args:
        task_folder: the kernel task's folder.
        lib: the kernel's shared library (from ``gpu.build_gpu_kernel``).
        suite: the suite name (for the instance id only).
        timeout_s: wall-clock limit for all ncu runs together.
        ncu: the ncu executable (default: ``find_ncu()``).
        metrics: the metric names to collect.

    Returns:
        ``status`` (``ok``, ``not permitted``, ``no kernels``, ``timed out``, ``failed``,
        ``unavailable``), ``detail`` (why, when not ok), ``metrics`` (those asked for in
        the last run), ``dropped`` (rejected by ncu), ``seconds``, and when ok the
        ``summarize_ncu`` result (``kernels``, ``total``) and ``text`` for the Judge.
    """
    tool = ncu if ncu is not None else find_ncu()
    if tool is None:
        return {"status": "unavailable", "detail": "ncu (Nsight Compute) is not installed"}
    command = [sys.executable, "-m", "perfsmith.kernels.gpu_job", "call-once"]
    command += ["--task", str(task_folder), "--lib", str(lib)]
    if suite:
        command += ["--suite", suite]
    env = {**child_env(), "LC_ALL": "C", "LANG": "C"}
    asked = list(metrics)
    dropped: list[str] = []
    start = time.monotonic()
    result: dict[str, Any] = {}
    for attempt in range(3):
        left = timeout_s - (time.monotonic() - start)
        if left <= 5:
            result = {"status": "timed out", "detail": f"no time left after {attempt} run(s)"}
            break
        code, text = run_child(ncu_argv(tool, asked, command), left, env)
        rows = parse_ncu_csv(text)
        status = ncu_status(text, code, rows)
        result = {"status": status}
        if status == "ok":
            result |= summarize_ncu(rows)
            break
        if status == "not permitted":
            result["detail"] = NOT_PERMITTED
            break
        if status == "timed out":
            result["detail"] = _tail(text)
            break
        rejected = rejected_metrics(text, asked)
        result["detail"] = _tail(text)
        if rejected and len(rejected) < len(asked):  # not an error that lists them all
            dropped += rejected
            asked = [m for m in asked if m not in rejected]
        elif attempt == 0 and asked != list(NCU_CORE_METRICS):
            asked = list(NCU_CORE_METRICS)
        else:
            break
    result |= {"metrics": asked, "dropped": dropped, "seconds": time.monotonic() - start}
    result["text"] = ncu_text(result)
    return result


def _tail(text: str, lines: int = 8) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(kept[-lines:])
