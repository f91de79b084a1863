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
    PERFSMITH_EXACT        "1": report no time and no RSS (as 0). Under an instruction
                           counter, formatting values that differ from run to run would
                           cost a different number of instructions each time.

Summary keys: ``calls``, ``setups``, ``warmups``, ``seconds`` (wall time of the measured
rounds), ``peaks`` (bytes per call, or null) and ``maxrss_kb`` (the process's peak RSS).
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
    setup, workload = load_workload(path)
    for _ in range(warmups):
        if setup is not None:
            setup()
        workload()
    peaks: list[int] = []
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
            if tracer is not None:
                # Started after setup, so only what the call itself allocates is traced.
                tracer.start()
                workload()
                peaks.append(tracer.peak_and_stop())
            else:
                workload()
            done += 1
        i += 1
    seconds = timer() - start
    return {
        "calls": done,
        "setups": done_setups,
        "warmups": warmups,
        "seconds": seconds,
        "peaks": peaks if trace else None,
        "maxrss_kb": 0 if exact else int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss),
    }


def main() -> None:
    path = os.environ.get("PERFSMITH_WORKLOAD", "")
    out = os.environ.get("PERFSMITH_RESULT", "")
    if not path or not out:
        raise SystemExit("perfsmith counter: PERFSMITH_WORKLOAD and PERFSMITH_RESULT must be set")
    _write_json(out, run(path))


if __name__ == "__main__":
    main()
