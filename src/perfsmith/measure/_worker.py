"""Run a workload file inside a sandbox: time it, check its output, or profile it.

This script runs with the target's Python, so it imports only the standard library,
pyperf and ``perfsmith_canonical`` (a copy of ``_canonical.py`` placed next to it),
never perfsmith. The harness starts it by path; parameters arrive in environment
variables (pyperf parses the command line for itself) and results go to files named by
the harness, never to stdout, which the workload may print into.

Timer integrity: the clocks of the ``time`` module are captured when this script starts,
before the workload is imported, and only the captured ones are used. After the import,
after every ``setup()`` and after the timed calls the module attributes must still be
those objects; if not, the script writes PERFSMITH_TAMPER and exits with TAMPER_EXIT.

Environment:
    PERFSMITH_MODE       "time" (default), "calibrate", "check", "cold" or "profile".
    PERFSMITH_WORKLOAD   absolute path of the workload file (``workload()`` and an
                         optional ``setup()``, run untimed before every timed call).
    PERFSMITH_RESULT     check/profile/cold/calibrate: path of a small JSON summary.
    PERFSMITH_PICKLE     check: path where the pickled return value goes.
    PERFSMITH_TREE       check: path of the canonical tree (JSON; ``null`` if too big).
    PERFSMITH_CPU        time: path of the CPU seconds per call of every value (JSON).
    PERFSMITH_PSTATS     profile: path where the cProfile data goes.
    PERFSMITH_TAMPER     path of the marker written when a clock was replaced.
    PERFSMITH_SEED       any mode: seeds ``random`` before the import (the workload may
                         read it too, to build its inputs).
    PERFSMITH_VARIANT    any mode: index ``i``; ``setup(variants()[i])`` replaces
                         ``setup()``. A workload with ``variants()`` must then define
                         ``setup`` with one parameter.
    PERFSMITH_MIN_TIME   calibrate: least timed seconds of one value (default 0.05);
                         profile: profile calls until this many seconds (default 0.2).
    PERFSMITH_MAX_VALUE  calibrate: most wall seconds of one value, setup included
                         (default 1.0).

In "time" mode the command line is pyperf's worker command line, for example
``--worker --quiet --loops 8 --values 3 --warmups 1 -o out.json``.
"""

from __future__ import annotations

import time
import types

TIMER_NAMES = (
    "perf_counter", "perf_counter_ns", "process_time", "process_time_ns",
    "time", "time_ns", "monotonic", "monotonic_ns",
)  # fmt: skip
# Captured before anything else runs, in a read-only view.
_CLOCKS = types.MappingProxyType({name: getattr(time, name) for name in TIMER_NAMES})
_TIME_MODULE = time
_STARTED = _CLOCKS["monotonic"]()

import functools  # noqa: E402  (the clocks are captured first on purpose)
import hashlib  # noqa: E402
import importlib.util  # noqa: E402
import inspect  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import pickle  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

MODULE_NAME = "__perfsmith_workload__"
BENCH_NAME = "workload"
TAMPER_EXIT = 87
MAX_TREE_BYTES = 16 * 1024 * 1024
perf_counter: Callable[[], float] = _CLOCKS["perf_counter"]
process_time: Callable[[], float] = _CLOCKS["process_time"]


def check_clocks(where: str) -> None:
    """Exit with TAMPER_EXIT if a clock of the time module is not the one captured."""
    builtin = types.BuiltinFunctionType
    patched = [
        f"time.{name}"
        for name, clock in _CLOCKS.items()
        # Not a builtin: replaced before this script started (sitecustomize, a .pth file).
        if getattr(time, name, None) is not clock or not isinstance(clock, builtin)
    ]
    if sys.modules.get("time") is not _TIME_MODULE:
        patched.append("sys.modules['time']")
    if patched:
        marker = os.environ.get("PERFSMITH_TAMPER", "")
        if marker:
            with open(marker, "w", encoding="utf-8") as f:
                json.dump({"patched": patched, "where": where}, f)
        os._exit(TAMPER_EXIT)  # no atexit hooks: the workload may have registered some


def _variant_setup(module: Any, setup: Callable[..., Any] | None, index: int) -> Callable[[], Any]:
    variants = getattr(module, "variants", None)
    if not callable(variants):
        raise SystemExit("perfsmith worker: PERFSMITH_VARIANT is set but there is no variants()")
    values = list(variants())
    if not 0 <= index < len(values):
        raise SystemExit(f"perfsmith worker: variant {index} of {len(values)} does not exist")
    if setup is None or not inspect.signature(setup).parameters:
        raise SystemExit("perfsmith worker: variants() needs setup(variant) with one parameter")
    return functools.partial(setup, values[index])


def load_workload(path: str) -> tuple[Callable[[], Any] | None, Callable[[], Any], Any]:
    """Import the workload file; return (setup or None, workload, module)."""
    seed = os.environ.get("PERFSMITH_SEED", "")
    if seed:
        random.seed(int(seed))
    # Behave like `python workload.py` for imports next to the file.
    sys.path[0] = os.path.dirname(os.path.abspath(path))
    spec = importlib.util.spec_from_file_location(MODULE_NAME, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"perfsmith worker: cannot import workload file {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = module
    spec.loader.exec_module(module)
    check_clocks("after importing the workload")
    workload = getattr(module, "workload", None)
    if not callable(workload):
        raise SystemExit(f"perfsmith worker: {path} defines no callable workload()")
    setup = getattr(module, "setup", None)
    setup = setup if callable(setup) else None
    variant = os.environ.get("PERFSMITH_VARIANT", "")
    if variant:
        setup = _variant_setup(module, setup, int(variant))
    if setup is None:
        return None, workload, module
    raw_setup = setup

    def checked_setup() -> Any:
        result = raw_setup()
        check_clocks("after setup()")
        return result

    return checked_setup, workload, module


def _write_json(path: str, data: Any) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f)
    os.replace(tmp, path)


def run_check(path: str) -> None:
    """Call setup() and workload() once; write the pickled value, its tree and digest."""
    # The copy next to this script: sys.path[0] is still this script's folder here.
    import perfsmith_canonical as canon  # type: ignore[import-not-found]

    canonical, dumps = canon.canonical, canon.dumps
    setup, workload, module = load_workload(path)
    if setup is not None:
        setup()
    value = workload()
    check_clocks("after workload()")
    text = dumps(canonical(value))
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    pickled = True
    try:
        data = pickle.dumps(value, protocol=4)
    except Exception:  # the digest still compares the value
        pickled, data = False, b""
    with open(os.environ["PERFSMITH_PICKLE"], "wb") as f:
        f.write(data)
    with open(os.environ["PERFSMITH_TREE"], "w", encoding="utf-8") as f:
        f.write(text if len(text) <= MAX_TREE_BYTES else "null")
    variants = getattr(module, "variants", None)
    count = len(list(variants())) if callable(variants) else 0
    summary = {"sha256": digest, "type": type(value).__qualname__, "pickled": pickled}
    _write_json(os.environ["PERFSMITH_RESULT"], {**summary, "variants": count})


def run_cold(path: str) -> None:
    """Import, set up and time ONE workload() call in this fresh process."""
    perf, cpu_clock = perf_counter, process_time  # locals: the workload cannot rebind them
    t0 = perf()
    setup, workload, _ = load_workload(path)
    t1 = perf()
    if setup is not None:
        setup()
    t2 = perf()
    c0 = cpu_clock()
    workload()
    c1, t3 = cpu_clock(), perf()
    check_clocks("after workload()")
    _write_json(
        os.environ["PERFSMITH_RESULT"],
        {"value": t3 - t2, "cpu": c1 - c0, "import_s": t1 - t0, "setup_s": t2 - t1,
         "process_s": _CLOCKS["monotonic"]() - _STARTED},
    )  # fmt: skip


def run_profile(path: str) -> None:
    """Profile workload() calls (setup excluded) until PERFSMITH_MIN_TIME has passed."""
    import cProfile

    min_time = float(os.environ.get("PERFSMITH_MIN_TIME", "0.2"))
    perf = perf_counter
    setup, workload, _ = load_workload(path)
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
        t0 = perf()
        profiler.enable()
        workload()
        profiler.disable()
        total += perf() - t0
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
    timer = perf_counter
    setup, workload, _ = load_workload(path)

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
    check_clocks("after calibrating")
    _write_json(os.environ["PERFSMITH_RESULT"], {"loops": loops, "timed_s": timed, "wall_s": wall})


def run_time(path: str) -> None:
    """Be a pyperf worker timing workload() calls, setup() untimed before each.

    The CPU seconds of the same calls go to PERFSMITH_CPU, one entry per value
    (warm-ups first, as pyperf computes them), each divided by the loop count.
    """
    import pyperf

    perf, cpu_clock = perf_counter, process_time  # closure cells the workload cannot rebind
    setup, workload, _ = load_workload(path)
    cpu_per_value: list[float] = []

    def time_func(loops: int) -> float:
        if setup is None:
            c0, t0 = cpu_clock(), perf()
            for _ in range(loops):
                workload()
            total, cpu = perf() - t0, cpu_clock() - c0
        else:
            total = cpu = 0.0
            for _ in range(loops):
                setup()
                c0, t0 = cpu_clock(), perf()
                workload()
                total += perf() - t0
                cpu += cpu_clock() - c0
        check_clocks("after timed calls")
        cpu_per_value.append(cpu / loops)
        return total

    runner = pyperf.Runner()
    runner.bench_time_func(BENCH_NAME, time_func)
    check_clocks("after timing")
    cpu_path = os.environ.get("PERFSMITH_CPU", "")
    if cpu_path:
        _write_json(cpu_path, {"cpu": cpu_per_value})


def main() -> None:
    check_clocks("before the workload was imported")  # e.g. a sitecustomize on the path
    mode = os.environ.get("PERFSMITH_MODE", "time")
    path = os.environ.get("PERFSMITH_WORKLOAD", "")
    if not path:
        raise SystemExit("perfsmith worker: PERFSMITH_WORKLOAD is not set")
    modes = {
        "time": run_time,
        "calibrate": run_calibrate,
        "check": run_check,
        "cold": run_cold,
        "profile": run_profile,
    }
    if mode not in modes:
        raise SystemExit(f"perfsmith worker: unknown PERFSMITH_MODE {mode!r}")
    modes[mode](path)
    # Results are written: leave now, so atexit hooks or threads of the workload cannot
    # rewrite them.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
