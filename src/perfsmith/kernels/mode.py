"""Kernel mode: how a kernel task becomes an ordinary run or task-set entry.

``optimize --kernel TASK_DIR`` and the task-set commands turn a kernel task into a small
generated repository (``perfsmith.kernels.repo``) kept in a cache folder, and run the usual
loop on it with the settings below: only ``kernel.c`` may change, and the output gate
compares the workload's output fingerprints within a float tolerance (the element-wise
check against the float64 reference is the tests' and every timed call's job). A task that
declares its ``cost`` also gets the timing shape's work as ``checks.roofline_flops`` and
``checks.roofline_bytes``, so gate 6 can refuse a time per call below the machine's roofline.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from pathlib import Path
from typing import Any

from perfsmith.bench.taskset import BenchTask
from perfsmith.kernels.repo import KERNEL_FILE, run_overrides, to_bench_task
from perfsmith.kernels.spec import KernelTask, load_kernel_task

__all__ = ["KERNEL_SETTINGS", "bench_task", "cache_root", "kernel_overrides", "task_settings"]

# Fingerprints are sums over up to 4096 sampled elements and 16 values: a legitimate change
# of summation order moves them by far more than one element's tolerance.
# A Docker sandbox image holds only what the interpreter needs; kernels also need the C
# toolchain (gcc brings binutils for nm, libgcc-12-dev brings OpenMP's libgomp).
KERNEL_SETTINGS: dict[str, Any] = {
    "mode": "kernel",
    "protected": ["*", f"!{KERNEL_FILE}"],
    "checks": {"rel_tol": 1e-3, "abs_tol": 1e-3},
    "docker": {"packages": ["gcc", "libc6-dev"]},
}


def cache_root() -> Path:
    """``$PERFSMITH_CACHE`` or ``$XDG_CACHE_HOME/perfsmith`` (default ``~/.cache/perfsmith``)."""
    explicit = os.environ.get("PERFSMITH_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "perfsmith"


def task_settings(task: KernelTask) -> dict[str, Any]:
    """``KERNEL_SETTINGS`` (a copy) with the task's work at its timing shape, where declared.

    Args:
        task: the kernel task.

    Returns:
        The settings; ``checks`` also holds ``roofline_flops`` and ``roofline_bytes`` for
        what the task's ``cost`` declares.

    Raises:
        ConfigError: a cost expression cannot be evaluated at the timing shape.
    """
    settings = copy.deepcopy(KERNEL_SETTINGS)
    cost = task.cost()
    work = {"roofline_flops": cost.flops, "roofline_bytes": cost.bytes}
    settings["checks"].update({k: v for k, v in work.items() if v is not None})
    return settings


def bench_task(folder: Path, suite: str, cache: Path | None = None) -> BenchTask:
    """A kernel task as a task-set entry, its repository generated into the cache.

    Raises:
        ConfigError: the folder is not a valid kernel task.
    """
    spec = load_kernel_task(folder, suite)
    task = to_bench_task(spec, (cache or cache_root()) / "kernels")
    return dataclasses.replace(task, config=task_settings(spec))


def kernel_overrides(task_dir: Path, cache: Path | None = None) -> tuple[Path, dict[str, Any]]:
    """The repository to optimize for a kernel task and the settings it implies.

    Raises:
        ConfigError: the task folder is not a valid kernel task.
    """
    task = bench_task(task_dir, task_dir.resolve().parent.name, cache)
    return run_overrides(task)
