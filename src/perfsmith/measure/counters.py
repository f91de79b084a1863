"""Metrics beside wall time: instructions per call, peak memory per call, energy per call.

Every metric runs the standalone counter script (``_counter.py``, copied into the
sandbox's private folder) in fresh processes; results come back through files, never
stdout. Instructions and energy use the same subtraction: one process makes N
``workload()`` calls, a second does everything else (start-up, imports, warm-ups, the
same N ``setup()`` calls) but no measured call, and (total_N - total_0) / N is the cost
of one call.

- Instructions: ``valgrind --tool=callgrind``. Deterministic: the same code, interpreter
  and environment give the same count on every run, so it decides small gains (2%) that
  wall time on a noisy machine cannot. The price is speed: callgrind runs Python about
  50-100 times slower (cachegrind without cache simulation, about 20 times). All threads
  of the workload process are counted; work done in child processes is not.
- Peak memory, two ways (``MemoryHow``). "python": the ``tracemalloc`` peak of each call
  (tracing starts after ``setup()``), which sees Python's allocators only. "rss": the
  growth of the process's resident set during each call (the peak reset after
  ``setup()``), which sees every page the call touched, native allocations included: what
  a C kernel loaded through ctypes mallocs is invisible to tracemalloc. Kernel tasks use
  "rss". Either way the maximum over the calls, and the process's peak RSS beside it.
- Energy: RAPL or NVML counters read by the harness around whole processes (the
  workload may not be able to read them inside a sandbox). Machine-wide, so noisy.
"""

from __future__ import annotations

import functools
import json
import os
import statistics
import subprocess
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, TypeVar

from perfsmith.core import ExecResult, Interval, MetricResult, Workspace
from perfsmith.errors import SandboxError, WorkloadError
from perfsmith.measure import hardware
from perfsmith.measure.workers import early_exit, fresh_dirs, worker_failure, workload_path

__all__ = [
    "MemoryHow",
    "MemoryReading",
    "ResidentUnavailableError",
    "Tool",
    "compare_energy",
    "compare_instructions",
    "compare_memory",
    "count_instructions",
    "energy_per_call",
    "instructions_result",
    "interpreter_binary",
    "parse_callgrind_total",
    "peak_memory",
    "run_counter",
    "scratch_path",
]

COUNTER_SOURCE = Path(__file__).with_name("_counter.py")
COUNTER_NAME = "perfsmith_counter.py"
_SCRATCH = "perfsmith-measure"
_T = TypeVar("_T")
Tool = Literal["callgrind", "cachegrind"]
"""Valgrind tool that counts: callgrind (call graph too) or cachegrind with its cache
simulation off, which counts the same events about three times faster."""
_TOOL_ARGS: dict[str, tuple[str, ...]] = {
    "callgrind": ("--tool=callgrind",),
    "cachegrind": ("--tool=cachegrind", "--cache-sim=no"),
}


# -- running the counter script -----------------------------------------------------------


@lru_cache(maxsize=32)
def interpreter_binary(python: str) -> str:
    """The real interpreter behind ``python``: a shim script (pyenv) is resolved.

    Valgrind must start the interpreter itself: under a shell-script shim it would
    trace bash. A virtualenv's ``bin/python`` (a symlink to the binary) is kept as
    it is, so the virtualenv's packages stay on the path.
    """
    try:
        with open(python, "rb") as f:
            if f.read(2) != b"#!":
                return python
    except OSError:
        return python  # not a path we can read (a bare name, or inside a container)
    out = subprocess.run(
        [python, "-c", "import sys; print(sys.executable)"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    real = out.stdout.strip()
    return real if out.returncode == 0 and real else python


def _counter_script(sandbox: Workspace) -> Path:
    target = sandbox.private / COUNTER_NAME
    source = COUNTER_SOURCE.read_bytes()
    if not target.exists() or target.read_bytes() != source:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source)
    return target


def scratch_path(sandbox: Workspace, suffix: str) -> Path:
    folder = sandbox.private / _SCRATCH
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{uuid.uuid4().hex}{suffix}"


def _count(n: int) -> str:
    # Fixed width: the N-call and the setup-only process then get environments of the
    # same size, so start-up under callgrind is identical and cancels exactly.
    return f"{n:012d}"


def run_counter(
    sandbox: Workspace,
    python: str,
    workload_file: str | Path,
    *,
    pythonpath: Sequence[str],
    env: Mapping[str, str],
    prefix: Sequence[str] = (),
    timeout_s: float,
    side: str,
    what: str,
) -> tuple[dict[str, Any], ExecResult]:
    """Run the counter script once (under ``prefix``, e.g. valgrind); return its summary."""
    script = _counter_script(sandbox)
    result = scratch_path(sandbox, ".json")
    argv = [*prefix, interpreter_binary(python), str(script)]
    try:
        # A fresh HOME and TMPDIR per process, as for timing: nothing the workload caches
        # on disk there reaches the next process (the setup-only one included).
        with fresh_dirs(sandbox) as dirs:
            full_env = {
                **dirs,
                "PYTHONPATH": ":".join(str(sandbox.root / p) for p in pythonpath),
                "PYTHONHASHSEED": "0",
                "PERFSMITH_WORKLOAD": str(workload_path(sandbox, workload_file)),
                "PERFSMITH_RESULT": str(result),
                **env,
            }
            res = sandbox.exec(argv, timeout_s=timeout_s, env=full_env)
        if not res.ok:
            raise worker_failure(side, what, res, timeout_s)
        if not result.exists():
            raise early_exit(side, what, res)
        summary: dict[str, Any] = json.loads(result.read_text(encoding="utf-8"))
    finally:
        result.unlink(missing_ok=True)
    return summary, res


def _parallel(tasks: Sequence[Callable[[], _T]], jobs: int) -> list[_T]:
    if jobs <= 1 or len(tasks) <= 1:
        return [t() for t in tasks]
    pool = ThreadPoolExecutor(max_workers=min(jobs, len(tasks)))
    try:
        futures = [pool.submit(t) for t in tasks]
        return [f.result() for f in futures]
    finally:
        # On a failure, processes not yet started never start; running ones finish.
        pool.shutdown(wait=True, cancel_futures=True)


def _default_jobs(jobs: int | None) -> int:
    if jobs is not None:
        return max(1, jobs)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(4, cpus or 1))


def _range_confidence(n: int) -> float:
    """Chance that [min, max] of n values holds their median, on both sides at once."""
    return float((1 - 0.5 ** (n - 1)) ** 2) if n >= 2 else 0.0


def _ratio_range(base: Sequence[float], cand: Sequence[float]) -> Interval:
    """Median ratio with the widest ratio the per-process values allow."""
    return Interval(
        estimate=statistics.median(base) / statistics.median(cand),
        low=min(base) / max(cand),
        high=max(base) / min(cand),
        confidence=_range_confidence(min(len(base), len(cand))),
    )


def _unavailable(name: Any, unit: str, note: str) -> MetricResult:
    return MetricResult(name, unit, 0.0, 0.0, None, 0, available=False, note=note)


# -- instructions -------------------------------------------------------------------------


def parse_callgrind_total(text: str) -> int:
    """The instruction count (event ``Ir``) from a callgrind output file's totals.

    Raises:
        ValueError: The text has no ``totals:`` or ``summary:`` line.
    """
    events: list[str] = ["Ir"]
    total: list[str] | None = None
    summary: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("events:"):
            events = line.split()[1:]
        elif line.startswith("totals:"):
            total = line.split()[1:]
        elif line.startswith("summary:"):
            summary = line.split()[1:]
    values = total if total is not None else summary
    if values is None:
        raise ValueError("no totals: or summary: line in the callgrind output")
    index = events.index("Ir") if "Ir" in events else 0
    return int(values[index])


@dataclass(frozen=True)
class _Count:
    """What one instruction count runs: the same on both sides of a comparison."""

    python: str
    workload_file: str | Path
    pythonpath: Sequence[str]
    calls: int
    warmups: int
    timeout_s: float
    tool: Tool

    def run(self, sandbox: Workspace, calls: int, side: str) -> int:
        """Total instructions of one process making ``calls`` of the measured calls."""
        out = scratch_path(sandbox, f".{self.tool}")
        prefix = ["valgrind", *_TOOL_ARGS[self.tool], "-q", f"--{self.tool}-out-file={out}"]
        env = {
            "PERFSMITH_EXACT": "1",
            "PERFSMITH_CALLS": _count(calls),
            "PERFSMITH_SETUPS": _count(self.calls),
            "PERFSMITH_WARMUPS": _count(self.warmups),
        }
        what = f"counting instructions ({calls} calls) under {self.tool}"
        try:
            run_counter(
                sandbox, self.python, self.workload_file, pythonpath=self.pythonpath, env=env,
                prefix=prefix, timeout_s=self.timeout_s, side=side, what=what,
            )  # fmt: skip
            try:
                return parse_callgrind_total(out.read_text(encoding="utf-8", errors="replace"))
            except (OSError, ValueError) as exc:
                raise WorkloadError(
                    f"The {side} ran under {self.tool} but left no readable count: {exc}.",
                    hint=f"Check that valgrind works here: valgrind --tool={self.tool} true",
                ) from exc
        finally:
            out.unlink(missing_ok=True)

    def tasks(self, sandbox: Workspace, side: str) -> list[Callable[[], int]]:
        """The two processes of one count: N calls, and the same without the calls."""
        return [
            lambda: self.run(sandbox, self.calls, side),
            lambda: self.run(sandbox, 0, side),
        ]

    def per_call(self, with_calls: int, without: int) -> int:
        return round((with_calls - without) / self.calls)

    def describe(self) -> str:
        return (
            f"{self.tool}, (N calls - setup only) / N with N={self.calls}, "
            f"{self.warmups} warm-up call(s) in both"
        )


def _check_calls(calls: int) -> None:
    if calls < 1:
        raise ValueError(f"calls must be at least 1 (got {calls})")


def count_instructions(
    sandbox: Workspace,
    python: str,
    workload_file: str | Path,
    *,
    pythonpath: Sequence[str],
    calls: int = 3,
    warmups: int = 1,
    timeout_s: float = 600,
    jobs: int | None = None,
    tool: Tool = "callgrind",
    side: str = "workload",
) -> int:
    """Instructions per ``workload()`` call, counted by valgrind.

    Two processes run under ``valgrind --tool=callgrind``: one makes ``calls`` calls
    (``setup()`` before each, after ``warmups`` unmeasured calls), the other the same
    without the measured calls. Start-up, imports, warm-ups and setups cancel.

    Args:
        sandbox: Where to run (the sandbox root is the working directory).
        python: The target's interpreter; a shim script is resolved to the binary.
        workload_file: The workload, relative to the sandbox root or absolute.
        pythonpath: Folders relative to the sandbox root, put on PYTHONPATH.
        calls: Measured calls (at least 1).
        warmups: Calls before the measured ones, so first-call costs (lazy imports,
            caches filled once) are not counted as steady state.
        timeout_s: Limit for one process; callgrind runs Python 50-100 times slower.
        jobs: Processes run at once (counts do not depend on it); None: up to 4.
        tool: "callgrind", or "cachegrind" (same kind of count, about 3x faster).
        side: Who is measured ("baseline", "candidate"), named in errors.

    Raises:
        WorkloadError: The workload crashed, timed out or exited early.
    """
    _check_calls(calls)
    spec = _Count(python, workload_file, tuple(pythonpath), calls, warmups, timeout_s, tool)
    with_calls, without = _parallel(spec.tasks(sandbox, side), _default_jobs(jobs))
    return spec.per_call(with_calls, without)


def compare_instructions(
    base: Workspace,
    cand: Workspace,
    python: str,
    workload_file: str | Path,
    *,
    pythonpath: Sequence[str],
    calls: int = 3,
    warmups: int = 1,
    timeout_s: float = 600,
    jobs: int | None = None,
    tool: Tool = "callgrind",
    baseline_counts: Sequence[int] | None = None,
) -> MetricResult:
    """Instructions per call of baseline against candidate; speedup = base / cand.

    The baseline is counted twice to check that counts are deterministic here. When the
    two agree the interval is a point (low == high == estimate); when they differ, it
    is widened by their relative difference on both sides and the note says so.

    Args:
        base: Sandbox holding the baseline.
        cand: Sandbox holding the candidate.
        python: The target's interpreter.
        workload_file: The workload, relative to each sandbox root.
        pythonpath: Folders relative to each sandbox root, put on PYTHONPATH.
        calls: Measured calls per count.
        warmups: Unmeasured calls first (see ``count_instructions``).
        timeout_s: Limit for one process.
        jobs: Processes run at once; None: up to 4.
        tool: "callgrind" or "cachegrind" (see ``count_instructions``).
        baseline_counts: Earlier baseline counts per call (two or more) made with the
            same settings; given, the baseline is not counted again.

    Returns:
        The metric ("instructions", unit "instr"), unavailable when valgrind is not.

    Raises:
        WorkloadError: The workload failed on either side.
    """
    _check_calls(calls)
    ok, why = hardware.valgrind_status()
    if not ok:
        return _unavailable("instructions", "instr", why)
    spec = _Count(python, workload_file, tuple(pythonpath), calls, warmups, timeout_s, tool)
    tasks = spec.tasks(cand, "candidate")
    if baseline_counts is None:
        tasks += spec.tasks(base, "baseline") + spec.tasks(base, "baseline")
    try:
        totals = _parallel(tasks, _default_jobs(jobs))
    except SandboxError as exc:  # valgrind exists here but not where the sandbox runs
        return _unavailable("instructions", "instr", f"valgrind could not start: {exc}")
    per_call = [spec.per_call(totals[i], totals[i + 1]) for i in range(0, len(totals), 2)]
    base_counts = list(baseline_counts) if baseline_counts is not None else per_call[1:]
    return instructions_result(base_counts, per_call[0], how=spec.describe())


def instructions_result(base_counts: Sequence[int], cand_count: int, *, how: str) -> MetricResult:
    """The instructions metric from repeated baseline counts and one candidate count.

    Args:
        base_counts: Instructions per call of the baseline, counted at least once.
        cand_count: Instructions per call of the candidate.
        how: How they were counted, for the note.
    """
    base = float(statistics.median(base_counts))
    if cand_count <= 0 or base <= 0:
        note = f"{how}; a count per call of zero or less cannot be compared"
        return MetricResult("instructions", "instr", base, cand_count, None, 1, note=note)
    estimate = base / cand_count
    spread = (max(base_counts) - min(base_counts)) / base
    if spread == 0:
        check = f"baseline counted {len(base_counts)}x: identical"
        speedup = Interval(estimate, estimate, estimate, confidence=1.0)
    else:
        check = (
            f"baseline counted {len(base_counts)}x: counts differ by {spread:.4%} "
            f"({min(base_counts)}..{max(base_counts)}), interval widened by that on both sides"
        )
        low = estimate * max(1 - spread, 0.0) / (1 + spread)
        high = estimate * (1 + spread) / max(1 - spread, 1e-9)
        speedup = Interval(estimate, low, high)
    return MetricResult(
        "instructions", "instr", base, float(cand_count), speedup, 1, note=f"{how}; {check}"
    )


# -- peak memory --------------------------------------------------------------------------

MemoryHow = Literal["python", "rss"]
"""What peak memory means: "python", the tracemalloc peak of a call (Python allocators
only); "rss", the growth of the resident set during a call (every page it touched)."""

# glibc's malloc tunables, fixed for the resident measurement. A fixed threshold also turns
# off glibc's dynamic one, which rises to the size of each large block freed (up to
# 32 MiB) and then serves smaller blocks from a heap that stays resident between calls:
# later calls would reuse those pages and show no growth. Fixed, every block of 128 KiB or
# more is mapped on malloc and unmapped on free, and the heap's free top is given back
# above 128 KiB. The variables are glibc's documented aliases of the tunables
# glibc.malloc.mmap_threshold and glibc.malloc.trim_threshold (other C libraries ignore them).
RESIDENT_MALLOC_ENV: dict[str, str] = {
    "MALLOC_MMAP_THRESHOLD_": "131072",
    "MALLOC_TRIM_THRESHOLD_": "131072",
}
_MEMORY_NOTES: dict[MemoryHow, str] = {
    "python": "tracemalloc peak per call (Python allocations, after setup)",
    "rss": "resident growth per call (pages touched by the call, native allocations included)",
}


class ResidentUnavailableError(SandboxError):
    """Resident growth per call cannot be measured where the workload runs."""


@dataclass(frozen=True)
class MemoryReading:
    """Peak memory of one process.

    Attributes:
        peak_bytes: Largest per-call value over the measured calls: with "python" the
            tracemalloc peak (bytes one call had allocated at its high point; Python
            allocators only), with "rss" the resident growth (bytes of pages the call
            made resident, whoever allocated them).
        maxrss_bytes: The process's peak resident set size (interpreter and setup included).
        calls: Measured calls.
        per_call: The value of each measured call, in order.
        how: Which of the two ``peak_bytes`` is.
    """

    peak_bytes: int
    maxrss_bytes: int
    calls: int
    per_call: tuple[int, ...] = ()
    how: MemoryHow = "python"


def peak_memory(
    sandbox: Workspace,
    python: str,
    workload_file: str | Path,
    *,
    pythonpath: Sequence[str],
    calls: int = 3,
    warmups: int = 1,
    timeout_s: float = 120,
    side: str = "workload",
    how: MemoryHow = "python",
    malloc_env: Mapping[str, str] | None = None,
) -> MemoryReading:
    """Measure the peak memory of ``workload()`` calls in one fresh process.

    Args:
        sandbox: Where to run (the sandbox root is the working directory).
        python: The target's interpreter.
        workload_file: The workload, relative to the sandbox root or absolute.
        pythonpath: Folders relative to the sandbox root, put on PYTHONPATH.
        calls: Measured calls (at least 1), ``setup()`` before each.
        warmups: Unmeasured calls first.
        timeout_s: Limit for the process.
        side: Who is measured ("baseline", "candidate"), named in errors.
        how: "python" (tracemalloc peak per call) or "rss" (resident growth per call).
        malloc_env: With "rss", the malloc settings the process starts with; None:
            ``RESIDENT_MALLOC_ENV``, {}: the C library's defaults.

    Raises:
        WorkloadError: The workload crashed, timed out or exited early.
        ResidentUnavailableError: With "rss": the resident peak cannot be reset where
            the workload runs (the reason is in the message).
    """
    _check_calls(calls)
    env = {"PERFSMITH_CALLS": str(calls), "PERFSMITH_WARMUPS": str(warmups)}
    if how == "rss":
        env |= {"PERFSMITH_RSS": "1", **(RESIDENT_MALLOC_ENV if malloc_env is None else malloc_env)}
    else:
        env["PERFSMITH_TRACEMALLOC"] = "1"
    summary, _ = run_counter(
        sandbox, python, workload_file, pythonpath=pythonpath, env=env, timeout_s=timeout_s,
        side=side, what="measuring peak memory",
    )  # fmt: skip
    if summary.get("rss_unavailable"):
        raise ResidentUnavailableError(
            f"Resident growth per call cannot be measured for the {side}: "
            f"{summary['rss_unavailable']}.",
            "Run on Linux 4.0 or later with a sandbox that lets a process write its own "
            "/proc/<pid>/clear_refs, or use --target latency or instructions.",
        )
    values = tuple(int(p) for p in summary.get("growth" if how == "rss" else "peaks") or ())
    return MemoryReading(
        max(values, default=0), int(summary["maxrss_kb"]) * 1024, int(summary["calls"]),
        values, how,
    )  # fmt: skip


def _sides(
    base: Workspace, cand: Workspace, processes: int, measure: Callable[[Workspace, str], _T]
) -> tuple[list[_T], list[_T]]:
    """Measure each side in ``processes`` rounds, A B then B A, so drift hits both alike."""
    got: tuple[list[_T], list[_T]] = ([], [])
    for r in range(max(1, processes)):
        for is_base in (True, False) if r % 2 == 0 else (False, True):
            box, side = (base, "baseline") if is_base else (cand, "candidate")
            got[0 if is_base else 1].append(measure(box, side))
    return got


def compare_memory(
    base: Workspace,
    cand: Workspace,
    python: str,
    workload_file: str | Path,
    *,
    pythonpath: Sequence[str],
    calls: int = 3,
    warmups: int = 1,
    processes: int = 3,
    timeout_s: float = 120,
    how: MemoryHow = "python",
) -> MetricResult:
    """Peak memory per call of baseline against candidate; speedup = base / cand peak.

    Each side runs ``processes`` fresh processes, interleaved. The estimate is the ratio
    of the median peaks; the interval spans the ratios the per-process extremes allow.

    Args:
        how: "python" (tracemalloc peak per call) or "rss" (resident growth per call;
            what a kernel task needs, since tracemalloc does not see native allocations).
        Others: as for ``peak_memory``.

    Returns:
        The metric ("peak_memory", unit "B"); its note says which kind. With "rss" where
        the resident peak cannot be reset, unavailable with the reason.

    Raises:
        WorkloadError: The workload failed on either side.
    """
    measure = functools.partial(
        peak_memory, python=python, workload_file=workload_file, pythonpath=pythonpath,
        calls=calls, warmups=warmups, timeout_s=timeout_s, how=how,
    )  # fmt: skip
    try:
        base_r, cand_r = _sides(base, cand, processes, lambda box, side: measure(box, side=side))
    except ResidentUnavailableError as exc:
        return _unavailable("peak_memory", "B", exc.message)
    # At least one byte: a call that allocates nothing traceable must not divide by zero.
    b = [max(r.peak_bytes, 1) for r in base_r]
    c = [max(r.peak_bytes, 1) for r in cand_r]
    rss_b = statistics.median(r.maxrss_bytes for r in base_r) / 2**20
    rss_c = statistics.median(r.maxrss_bytes for r in cand_r) / 2**20
    note = (
        f"{_MEMORY_NOTES[how]}, max of {calls} calls, median of {len(b)} processes; "
        f"process peak RSS {rss_b:.1f} MiB -> {rss_c:.1f} MiB"
    )
    return MetricResult(
        "peak_memory", "B", statistics.median(b), statistics.median(c),
        _ratio_range(b, c), len(b), note=note,
    )  # fmt: skip


# -- energy -------------------------------------------------------------------------------


def energy_per_call(
    sandbox: Workspace,
    python: str,
    workload_file: str | Path,
    *,
    pythonpath: Sequence[str],
    reader: hardware.EnergyReader,
    calls: int = 10,
    warmups: int = 1,
    min_time_s: float = 1.0,
    timeout_s: float = 300,
    side: str = "workload",
) -> float:
    """Joules per ``workload()`` call, read around whole processes.

    One process makes at least ``calls`` calls and keeps calling until ``min_time_s``
    has passed; a second does the same setups without the calls. The energy of the
    second is subtracted from the first and divided by the calls made. The counters
    are machine-wide: other load on the machine lands in the number too.

    Raises:
        WorkloadError: The workload crashed, timed out or exited early.
    """
    _check_calls(calls)
    env = {"PERFSMITH_CALLS": str(calls), "PERFSMITH_WARMUPS": str(warmups)}
    before = reader.read()
    summary, _ = run_counter(
        sandbox, python, workload_file, pythonpath=pythonpath,
        env={**env, "PERFSMITH_MIN_TIME": repr(min_time_s)}, timeout_s=timeout_s,
        side=side, what="measuring energy",
    )  # fmt: skip
    middle = reader.read()
    done = int(summary["calls"])
    run_counter(
        sandbox, python, workload_file, pythonpath=pythonpath,
        env={**env, "PERFSMITH_CALLS": "0", "PERFSMITH_SETUPS": str(done)},
        timeout_s=timeout_s, side=side, what="measuring energy (setup only)",
    )  # fmt: skip
    after = reader.read()
    return (reader.joules(before, middle) - reader.joules(middle, after)) / max(done, 1)


def compare_energy(
    base: Workspace,
    cand: Workspace,
    python: str,
    workload_file: str | Path,
    *,
    pythonpath: Sequence[str],
    calls: int = 10,
    warmups: int = 1,
    min_time_s: float = 1.0,
    processes: int = 3,
    timeout_s: float = 300,
    reader: hardware.EnergyReader | None = None,
) -> MetricResult:
    """Joules per call of baseline against candidate; speedup = base / cand.

    Args:
        base: Sandbox holding the baseline.
        cand: Sandbox holding the candidate.
        python: The target's interpreter.
        workload_file: The workload, relative to each sandbox root.
        pythonpath: Folders relative to each sandbox root, put on PYTHONPATH.
        calls: Least measured calls per process.
        warmups: Unmeasured calls first.
        min_time_s: Least measured seconds per process (longer is less noisy).
        processes: Process pairs per side, interleaved.
        timeout_s: Limit for one process.
        reader: The counters to read; None: every readable one here (RAPL, NVML).

    Returns:
        The metric ("energy", unit "J"); unavailable, with the reason, where no
        energy counter is readable.

    Raises:
        WorkloadError: The workload failed on either side.
    """
    if reader is None:
        reader = hardware.energy_reader()
    if reader is None:
        return _unavailable("energy", "J", hardware.energy_available()[1])
    measure = functools.partial(
        energy_per_call, python=python, workload_file=workload_file, pythonpath=pythonpath,
        reader=reader, calls=calls, warmups=warmups, min_time_s=min_time_s, timeout_s=timeout_s,
    )  # fmt: skip
    b, c = _sides(base, cand, processes, lambda box, side: measure(box, side=side))
    note = (
        f"{reader.source}, machine-wide, read around processes: (N calls - setup only) / N, "
        f"at least {calls} calls and {min_time_s:g} s per process, median of {len(b)}"
    )
    speedup = None
    if min(b) > 0 and min(c) > 0:
        speedup = _ratio_range(b, c)
    else:
        note += "; energy per call too small against background power: raise min_time_s"
    return MetricResult(
        "energy", "J", statistics.median(b), statistics.median(c), speedup, len(b), note=note
    )
