"""Run a workload file inside a sandbox: time it, check its output, or profile it.

This script runs with the target's Python, so it imports only the standard library
and pyperf, never perfsmith. The harness starts it by path; parameters arrive in
environment variables (pyperf parses the command line for itself) and results go to
files named by the harness, never to stdout, which the workload may print into.

Environment:
    PERFSMITH_MODE       "time" (default), "calibrate", "check" or "profile".
    PERFSMITH_WORKLOAD   absolute path of the workload file (``workload()`` and an
                         optional ``setup()``, run untimed before every timed call).
    PERFSMITH_RESULT     check/profile: path of a small JSON summary to write.
    PERFSMITH_PICKLE     check: path where the pickled return value goes.
    PERFSMITH_PSTATS     profile: path where the cProfile data goes.
    PERFSMITH_MIN_TIME   calibrate: least timed seconds of one value (default 0.05);
                         profile: profile calls until this many seconds (default 0.2).
    PERFSMITH_MAX_VALUE  calibrate: most wall seconds of one value, setup included
                         (default 1.0).

In "time" mode the command line is pyperf's worker command line, for example
``--worker --loops 8 --values 3 --warmups 1 -o out.json``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import pickle
import sys
import time
import types
from collections.abc import Callable
from typing import Any

MODULE_NAME = "__perfsmith_workload__"
BENCH_NAME = "workload"


def load_workload(path: str) -> tuple[Callable[[], Any] | None, Callable[[], Any]]:
    """Import the workload file and return its (setup or None, workload)."""
    # Behave like `python workload.py` for imports next to the file.
    sys.path[0] = os.path.dirname(os.path.abspath(path))
    spec = importlib.util.spec_from_file_location(MODULE_NAME, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"perfsmith worker: cannot import workload file {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = module
    spec.loader.exec_module(module)
    workload = getattr(module, "workload", None)
    if not callable(workload):
        raise SystemExit(f"perfsmith worker: {path} defines no callable workload()")
    setup = getattr(module, "setup", None)
    return (setup if callable(setup) else None), workload


def _write_json(path: str, data: dict[str, Any]) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f)
    os.replace(tmp, path)


def _has_default_pickling(obj: object) -> bool:
    cls = type(obj)
    return (
        cls.__reduce_ex__ is object.__reduce_ex__
        and cls.__reduce__ is object.__reduce__
        and getattr(cls, "__getstate__", object.__getstate__) is object.__getstate__
        and hasattr(obj, "__dict__")
    )


def canonical(obj: Any, _seen: frozenset[int] = frozenset()) -> Any:
    """Return a structure of builtins whose repr is the same for equal values.

    Dict and set order, hash seeds and object addresses do not change it, so a
    candidate that returns an equal value in another order still matches.
    """
    if obj is None or isinstance(obj, (bool, int, str, bytes)):
        return (type(obj).__name__, obj)
    if isinstance(obj, (float, complex)):
        return (type(obj).__name__, repr(obj))
    if id(obj) in _seen:
        return ("cycle",)
    seen = _seen | {id(obj)}
    name = f"{type(obj).__module__}.{type(obj).__qualname__}"
    if isinstance(obj, (list, tuple)):
        return (name, [canonical(x, seen) for x in obj])
    if isinstance(obj, dict):
        items = [(canonical(k, seen), canonical(v, seen)) for k, v in obj.items()]
        return (name, sorted(items, key=repr))
    if isinstance(obj, (set, frozenset)):
        return (name, sorted((canonical(x, seen) for x in obj), key=repr))
    # numpy arrays and scalars; pandas objects (which also have tolist/dtype) would
    # lose their index this way, so they go through pickle below.
    if type(obj).__module__ == "numpy" and hasattr(obj, "tolist"):
        shape = tuple(getattr(obj, "shape", ()))
        return (name, str(getattr(obj, "dtype", "")), shape, canonical(obj.tolist(), seen))
    if isinstance(obj, (types.FunctionType, types.GeneratorType, types.ModuleType)):
        return (name, getattr(obj, "__qualname__", getattr(obj, "__name__", "")))
    if _has_default_pickling(obj):
        return (name, canonical(vars(obj), seen))
    try:
        return (name, "pickle", hashlib.sha256(pickle.dumps(obj, protocol=4)).hexdigest())
    except Exception:  # anything unpicklable is compared by type only
        return (name, "unpicklable")


def run_check(path: str) -> None:
    """Call setup() and workload() once; write the pickled value and its digest."""
    setup, workload = load_workload(path)
    if setup is not None:
        setup()
    value = workload()
    digest = hashlib.sha256(repr(canonical(value)).encode()).hexdigest()
    pickled = True
    try:
        data = pickle.dumps(value, protocol=4)
    except Exception:  # the digest still compares the value
        pickled, data = False, b""
    with open(os.environ["PERFSMITH_PICKLE"], "wb") as f:
        f.write(data)
    _write_json(
        os.environ["PERFSMITH_RESULT"],
        {"sha256": digest, "type": type(value).__qualname__, "pickled": pickled},
    )


def run_profile(path: str) -> None:
    """Profile workload() calls (setup excluded) until PERFSMITH_MIN_TIME has passed."""
    import cProfile

    min_time = float(os.environ.get("PERFSMITH_MIN_TIME", "0.2"))
    setup, workload = load_workload(path)
    # One untimed call first, so lazy imports and caches filled on first use do not
    # dominate the profile of a steady-state workload.
    if setup is not None:
        setup()
    workload()
    profiler = cProfile.Profile()
    calls, total = 0, 0.0
    while calls < 1 or (total < min_time and calls < 10_000):
        if setup is not None:
            setup()
        t0 = time.perf_counter()
        profiler.enable()
        workload()
        profiler.disable()
        total += time.perf_counter() - t0
        calls += 1
    profiler.dump_stats(os.environ["PERFSMITH_PSTATS"])
    _write_json(
        os.environ["PERFSMITH_RESULT"],
        {"calls": calls, "total_s": total, "workload_file": os.path.abspath(path)},
    )


def run_calibrate(path: str) -> None:
    """Find the loop count: double it, as pyperf does, until a value lasts long enough.

    Unlike pyperf's own calibration this also counts the untimed ``setup()``: the
    doubling stops before one value would take more than PERFSMITH_MAX_VALUE seconds
    of wall time, so a workload whose setup dominates does not run for minutes.
    """
    min_time = float(os.environ.get("PERFSMITH_MIN_TIME", "0.05"))
    max_value = float(os.environ.get("PERFSMITH_MAX_VALUE", "1.0"))
    setup, workload = load_workload(path)
    timer = time.perf_counter

    def value(loops: int) -> tuple[float, float]:
        start, timed = timer(), 0.0
        for _ in range(loops):
            if setup is not None:
                setup()
            t0 = timer()
            workload()
            timed += timer() - t0
        return timed, timer() - start

    value(1)  # warm-up: first-call costs (lazy imports, caches) are not steady state
    loops = 1
    while True:
        timed, wall = value(loops)
        if timed >= min_time or wall * 2 > max_value or loops >= 2**32:
            break
        loops *= 2
    _write_json(
        os.environ["PERFSMITH_RESULT"],
        {"loops": loops, "timed_s": timed, "wall_s": wall},
    )


def run_time(path: str) -> None:
    """Be a pyperf worker timing workload() calls, setup() untimed before each."""
    import pyperf

    setup, workload = load_workload(path)
    timer = time.perf_counter

    def time_func(loops: int) -> float:
        if setup is None:
            t0 = timer()
            for _ in range(loops):
                workload()
            return timer() - t0
        total = 0.0
        for _ in range(loops):
            setup()
            t0 = timer()
            workload()
            total += timer() - t0
        return total

    runner = pyperf.Runner()
    runner.bench_time_func(BENCH_NAME, time_func)


def main() -> None:
    mode = os.environ.get("PERFSMITH_MODE", "time")
    path = os.environ.get("PERFSMITH_WORKLOAD", "")
    if not path:
        raise SystemExit("perfsmith worker: PERFSMITH_WORKLOAD is not set")
    if mode == "time":
        run_time(path)
    elif mode == "calibrate":
        run_calibrate(path)
    elif mode == "check":
        run_check(path)
    elif mode == "profile":
        run_profile(path)
    else:
        raise SystemExit(f"perfsmith worker: unknown PERFSMITH_MODE {mode!r}")


if __name__ == "__main__":
    main()
