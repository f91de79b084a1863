"""perfsmith.kernels: kernel tasks (a C kernel against a float64 NumPy reference).

``spec`` reads and validates a task folder; ``repo`` turns a task into the generated
repository (kernel.c plus protected tests, harness and workload) and into a BenchTask.
See docs/kernels.md.
"""

from __future__ import annotations

from perfsmith.kernels.repo import expert_patch, to_bench_task, write_repo
from perfsmith.kernels.spec import (
    DTYPES,
    KernelArg,
    KernelTask,
    default_tolerance,
    is_kernel_task,
    load_kernel_task,
)

__all__ = [
    "DTYPES",
    "KernelArg",
    "KernelTask",
    "default_tolerance",
    "expert_patch",
    "is_kernel_task",
    "load_kernel_task",
    "to_bench_task",
    "write_repo",
]
