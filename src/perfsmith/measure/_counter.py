"""Run a workload file a fixed number of times for the counting metrics.

This script runs with the target's Python (often under valgrind), so it imports only
the standard library, never perfsmith. The harness starts it by path; parameters
arrive in environment variables and results go to a JSON file named by the harness,
never to stdout, which the workload may print into.

The run is: import the workload file; ``PERFSMITH_WARMUPS`` times ``setup()`` then
``workload()``; then ``rounds = max(PERFSMITH_CALLS, PERFSMITH_SETUPS)`` rounds, where
round ``i`` runs ``setup()`` if ``i < SETUPS`` and ``workload()`` if ``i < CALLS``. As in
the timing worker, ``setup()`` comes before every call. A run with ``CALLS=0`` and the
same ``SETUPS`` does everything except the measured calls, so the harness subtracts its
cost (start-up, imports, setups) from the run with calls and is left with the calls.

Environment:
    PERFSMITH_WORKLOAD     absolute path of the workload file (``workload()`` and an
                           optional ``setup()``).
    PERFSMITH_RESULT       path of the JSON summary to write.
    PERFSMITH_CALLS        measured ``workload()`` calls; 0 allowed (default 0).
    PERFSMITH_SETUPS       ``setup()`` calls in the measured rounds (default: CALLS).
    PERFSMITH_WARMUPS      unmeasured ``setup()`` + ``workload()`` pairs first (default 0).
    PERFSMITH_MIN_TIME     keep adding rounds (setup and call) until the measured rounds
                           took this many seconds (default 0: exactly CALLS calls).
    PERFSMITH_TRACEMALLOC  "1": trace allocations during each measured call (started
                           after its setup, stopped after the call) and report the peaks.
    PERFSMITH_RSS          "1": measure each measured call's resident growth (below) and
                           report it per call.
    PERFSMITH_EXACT        "1": report no time and no RSS (as 0). Under an instruction
                           counter, formatting values that differ from run to run would
                           cost a different number of instructions each time.

Summary keys: ``calls``, ``setups``, ``warmups``, ``seconds`` (wall time of the measured
rounds), ``peaks`` (tracemalloc bytes per call, or null), ``growth`` (resident growth in
bytes per call, or null), ``rss_unavailable`` (why resident growth cannot be measured
here; only then, and nothing else ran) and ``maxrss_kb`` (the process's peak RSS).

Resident growth of a call: after its ``setup()`` the process's resident peak (VmHWM) is
reset to its current resident set by writing ``5`` to ``/proc/<pid>/clear_refs`` (Linux
4.0 and later) and VmRSS is read; after the call VmHWM is read again; the growth is the
difference. It counts every page the call made resident, whoever allocated it: a C
kernel's ``malloc``, NumPy's buffers, Python objects, thread stacks. Pages the call only
reused (already resident before it) do not count, so the harness starts this script with
glibc's ``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_`` fixed: glibc then maps
every large block afresh and unmaps it on ``free``, instead of raising its thresholds after
the first frees and keeping later blocks on a heap that stays resident from call to call.
The kernel keeps its resident counters per CPU and folds them in batches, so a value may
be short by up to a few hundred KiB (a few pages per CPU the process ran on).

Where the peak cannot be reset (not Linux, an old kernel, a sandbox that refuses the
write) the script measures nothing and says why in ``rss_unavailable``. It does not fall
back to a coarser number: without the reset the only peak is the process's lifetime peak,
which holds start-up and every ``setup()`` as well, so it would hide a call's growth
behind whatever setup held, and a comparison would be decided by the setups.
"""

from __future__ import annotations

import importlib.util
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

MODULE_NAME = "__perfsmith_workload__"


def load_workload(path: str) -> tuple[Callable[[], Any] | None, Callable[[], Any]]:
    """Import the workload file and return its (setup or None, workload)."""
    # Behave like `python workload.py` for imports next to the file.
    sys.path[0] = os.path.dirname(os.path.abspath(path))
    spec = importlib.util.spec_from_file_location(MODULE_NAME, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"perfsmith counter: cannot import workload file {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = module
    spec.loader.exec_module(module)
    workload = getattr(module, "workload", None)
    if not callable(workload):
        raise SystemExit(f"perfsmith counter: {path} defines no callable workload()")
    setup = getattr(module, "setup", None)
    return (setup if callable(setup) else None), workload


class _Tracer:
    """tracemalloc's functions, bound early; refuses a peak when the call stopped tracing."""

    def __init__(self, module: Any) -> None:
        self.start = module.start
        self._stop = module.stop
        self._traced = module.get_traced_memory
        self._tracing = module.is_tracing

    def peak_and_stop(self) -> int:
        if not self._tracing():
            raise SystemExit(
                "perfsmith counter: the workload stopped tracemalloc; its peak memory "
                "cannot be measured"
            )
        peak = int(self._traced()[1])
        self._stop()
        return peak


class _Resident:
    """The process's resident set from /proc: reset its peak, read it, read the peak.

    Paths name the pid, not the ``/proc/self`` link: ``/proc/<pid>/`` is where container
    security profiles (Docker's default AppArmor profile) allow a process to write. The
    file functions are bound here, before the workload is imported.
    """

    def __init__(self) -> None:
        pid = os.getpid()
        self._clear = f"/proc/{pid}/clear_refs"
        self._status = f"/proc/{pid}/status"
        self._open, self._read, self._write, self._close = os.open, os.read, os.write, os.close
        self._rdonly, self._wronly = os.O_RDONLY, os.O_WRONLY
        # Each reset forgets the peak so far, which getrusage's ru_maxrss reports too: the
        # largest peak seen before a reset stands in for the process's lifetime peak.
        self.lifetime = 0

    def problem(self) -> str | None:
        """Why resident growth cannot be measured here, or None when it can."""
        if not sys.platform.startswith("linux"):
            return f"resetting the resident peak needs Linux /proc (this is {sys.platform})"
        try:
            self.reset()
            self.peak()
        except (OSError, ValueError) as exc:
            return (
                f"the resident peak cannot be reset here: writing 5 to {self._clear} "
                f"(Linux 4.0 or later) or reading VmRSS and VmHWM from {self._status} "
                f"failed: {exc}"
            )
        return None

    def _field(self, name: bytes) -> int:
        fd = self._open(self._status, self._rdonly)
        try:
            text = b""
            while chunk := self._read(fd, 8192):
                text += chunk
        finally:
            self._close(fd)
        start = text.find(b"\n" + name + b":")
        if start < 0:
            raise ValueError(f"no {name.decode()} line in {self._status}")
        end = text.find(b"\n", start + 1)
        value = text[start + len(name) + 2 : end if end >= 0 else None].split()
        return int(value[0]) * (1024 if value[1:] == [b"kB"] else 1)

    def reset(self) -> int:
        """Set the peak to the current resident set; return that resident set in bytes."""
        self.lifetime = max(self.lifetime, self.peak())
        fd = self._open(self._clear, self._wronly)
        try:
            self._write(fd, b"5")
        finally:
            self._close(fd)
        return self._field(b"VmRSS")

    def peak(self) -> int:
        """The resident peak since the last reset, in bytes."""
        return self._field(b"VmHWM")


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    try:
        value = int(raw) if raw else default
    except ValueError:
        raise SystemExit(f"perfsmith counter: {name}={raw!r} is not an integer") from None
    if value < 0:
        raise SystemExit(f"perfsmith counter: {name} must be >= 0 (got {value})")
    return value


def _write_json(path: str, data: dict[str, Any]) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f)
    os.replace(tmp, path)


def run(path: str) -> dict[str, Any]:
    """Do the warm-ups and measured rounds; return the summary."""
    calls = _int_env("PERFSMITH_CALLS", 0)
    setups = _int_env("PERFSMITH_SETUPS", calls)
    warmups = _int_env("PERFSMITH_WARMUPS", 0)
    min_time = float(os.environ.get("PERFSMITH_MIN_TIME", "0") or 0)
    trace = os.environ.get("PERFSMITH_TRACEMALLOC", "") == "1"
    exact = os.environ.get("PERFSMITH_EXACT", "") == "1"
    tracer: _Tracer | None = None
    if trace:
        # Only when asked: the instruction runs should not pay for it. Bound before the
        # workload is imported, so replacing the module's functions changes nothing here.
        import tracemalloc

        tracer = _Tracer(tracemalloc)
    resident: _Resident | None = None
    if os.environ.get("PERFSMITH_RSS", "") == "1":
        resident = _Resident()
        problem = resident.problem()
        if problem is not None:
            return {"calls": 0, "setups": 0, "warmups": 0, "seconds": 0.0, "peaks": None,
                    "growth": None, "rss_unavailable": problem, "maxrss_kb": 0}  # fmt: skip
    setup, workload = load_workload(path)
    for _ in range(warmups):
        if setup is not None:
            setup()
        workload()
    peaks: list[int] = []
    growth: list[int] = []
    timer: Callable[[], float] = (lambda: 0.0) if exact else time.perf_counter
    start = timer()
    i = done = done_setups = 0
    # min_time only extends runs that make calls; a setup-only run does exactly SETUPS rounds.
    while i < calls or i < setups or (calls and min_time and timer() - start < min_time):
        extra = i >= calls and i >= setups
        if setup is not None and (i < setups or extra):
            setup()
            done_setups += 1
        if i < calls or extra:
            # Both start after setup, so only what the call itself allocates is seen.
            before = resident.reset() if resident is not None else 0
            if tracer is not None:
                tracer.start()
                workload()
                peaks.append(tracer.peak_and_stop())
            else:
                workload()
            if resident is not None:
                growth.append(max(resident.peak() - before, 0))
            done += 1
        i += 1
    seconds = timer() - start
    maxrss_kb = 0
    if not exact:  # under a counter, values that differ per run would cost differently
        maxrss_kb = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        if resident is not None:
            maxrss_kb = max(maxrss_kb, resident.lifetime // 1024)
    return {
        "calls": done,
        "setups": done_setups,
        "warmups": warmups,
        "seconds": seconds,
        "peaks": peaks if trace else None,
        "growth": growth if resident is not None else None,
        "maxrss_kb": maxrss_kb,
    }


def main() -> None:
    path = os.environ.get("PERFSMITH_WORKLOAD", "")
    out = os.environ.get("PERFSMITH_RESULT", "")
    if not path or not out:
        raise SystemExit("perfsmith counter: PERFSMITH_WORKLOAD and PERFSMITH_RESULT must be set")
    _write_json(out, run(path))


if __name__ == "__main__":
    main()
