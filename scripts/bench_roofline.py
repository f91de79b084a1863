"""Each kernel suite task's starting and expert kernels as a fraction of the roofline.

For every task that declares its ``cost``, this measures the machine's peaks at the task's
working set (``perfsmith.measure.roofline``, cached per machine), times the starting kernel
and the expert kernel with the generated workload (median seconds per ``workload()`` call,
``setup()`` untimed before each and checking the previous call, as the timing worker does),
and prints the least time the declared work takes and each kernel's share of the roofline
(``min_s / time``). Gate 6 quarantines a share above ``SLACK`` (200 %).

    .venv/bin/python scripts/bench_roofline.py [--suite benchmarks/kernels-lite]
        [--tasks matmul softmax] [--calls 5] [--fresh]
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import itertools
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from perfsmith.kernels import load_kernel_task, write_repo
from perfsmith.kernels.spec import KernelTask
from perfsmith.measure.roofline import SLACK, machine_peaks, roofline_verdict

ROOT = Path(__file__).resolve().parents[1]
_NAMES = itertools.count()


def _load_workload(repo: Path) -> Any:
    name = f"bench_roofline_workload_{next(_NAMES)}"
    spec = importlib.util.spec_from_file_location(name, repo / "perfsmith_workload.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def time_per_call(repo: Path, calls: int) -> float:
    """Median seconds of one workload() call; every call's output is checked by setup()."""
    workload = _load_workload(repo)
    times = []
    try:
        for _ in range(calls):
            workload.setup()
            t0 = time.perf_counter()
            workload.workload()
            times.append(time.perf_counter() - t0)
        workload.setup()
    finally:
        workload._pending = None  # free the buffers before the next kernel's
        sys.modules.pop(workload.__name__, None)
        del workload
        gc.collect()
    return statistics.median(times)


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:9.3f}"


def bench_task(task: KernelTask, calls: int, fresh: bool, scratch: Path) -> list[str]:
    cost = task.cost()
    peaks = machine_peaks(cost.bytes, fresh=fresh)
    rows = []
    kernels = [("naive", task.kernel_source()), ("expert", task.expert_source())]
    for which, source in kernels:
        if source is None:
            continue
        repo = write_repo(task, scratch / f"{task.instance_id}-{which}", source=source)
        seconds = time_per_call(repo, calls)
        v = roofline_verdict(
            seconds,
            flops=cost.flops,
            bytes=cost.bytes,
            peak_flops=peaks.flops_per_s,
            bandwidth=peaks.bytes_per_s,
        )
        rows.append(
            f"{task.instance_id.split('__')[-1]:<12} {which:<7} {v.bound:<8} {_ms(v.min_s)} "
            f"{_ms(seconds)} {v.fraction:8.1%}  {'ok' if v.plausible else 'BELOW'}"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", type=Path, default=ROOT / "benchmarks" / "kernels-lite")
    parser.add_argument("--tasks", nargs="*", help="task folder names (default: all)")
    parser.add_argument("--calls", type=int, default=5, help="timed calls per kernel")
    parser.add_argument("--fresh", action="store_true", help="measure the peaks again")
    args = parser.parse_args()
    folders = sorted(p for p in args.suite.iterdir() if (p / "task.yaml").is_file())
    if args.tasks:
        folders = [p for p in folders if p.name in set(args.tasks)]
    flops = machine_peaks(None, fresh=args.fresh)
    shown = ", ".join(f"{k} {v / 1e9:.0f}" for k, v in sorted(flops.sources.items()))
    print(f"peak arithmetic: {(flops.flops_per_s or 0) / 1e9:.0f} GFLOP/s ({shown})")
    for folder in folders:
        task = load_kernel_task(folder)
        cost = task.cost()
        if cost.bytes is None:
            continue
        peaks = machine_peaks(cost.bytes)
        bandwidth = {k: v for k, v in peaks.sources.items() if k not in flops.sources}
        shown = ", ".join(f"{k} {v / 1e9:.0f}" for k, v in sorted(bandwidth.items()))
        print(
            f"{folder.name}: {cost.bytes / 1e6:.1f} MB"
            + (f", {cost.flops / 1e6:.1f} MFLOP" if cost.flops else "")
            + f"; bandwidth at {peaks.working_set} B: {(peaks.bytes_per_s or 0) / 1e9:.0f} GB/s"
            + f" ({shown})"
        )
    print()
    print(f"{'task':<12} {'kernel':<7} {'bound':<8} {'min ms':>9} {'time ms':>9} {'roofline':>8}")
    with tempfile.TemporaryDirectory(prefix="bench-roofline-") as tmp:
        for folder in folders:
            task = load_kernel_task(folder)
            if task.cost().bytes is None and task.cost().flops is None:
                continue
            for row in bench_task(task, args.calls, False, Path(tmp)):
                print(row, flush=True)
    print(f"\n'roofline' is min_s / time (100% = at the bound); gate 6 refuses above {SLACK:.0%}.")


if __name__ == "__main__":
    main()
