"""Check, time and profile one task's CUDA kernels, in a child process of its own.

``evaluate`` runs ``gpu.check_kernel`` on every kernel of a job, times them together with
``gpu.time_kernels``, computes the speedups over the baseline and, with NVML, the energy
per call of each correct kernel (a batch of back-to-back calls of about ``energy_s``
seconds between two readings of the total-energy counter). ``evaluate_in_subprocess``
runs it as ``python -m perfsmith.kernels.gpu_job evaluate JOB OUT``: a kernel that
corrupts its CUDA context (an illegal address is sticky) or hangs takes only the child
with it, and the child saves its result after every phase, so a timeout loses only the
phase in progress. ``call-once`` is the program Nsight Compute profiles
(``gpu_profile.profile_kernel``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from perfsmith.kernels.cudart import CudaError, Runtime, gpu_spec
from perfsmith.kernels.gpu import GpuKernel, check_kernel, speedup, time_kernels
from perfsmith.kernels.gpu_profile import GpuMonitor, child_env, run_child
from perfsmith.kernels.spec import KernelTask, load_kernel_task

__all__ = ["call_once", "energy_calls", "evaluate", "evaluate_in_subprocess", "main"]

ENERGY_MAX_CALLS = 200_000


def energy_calls(median_event_s: float, target_s: float) -> int:
    """How many back-to-back calls make an energy batch of about ``target_s``."""
    per_call = max(median_event_s, 5e-6)  # launch-bound below that
    return max(3, min(ENERGY_MAX_CALLS, math.ceil(target_s / per_call)))


def _energy(
    runtime: Runtime,
    kernel: GpuKernel,
    sizes: Mapping[str, int],
    monitor: GpuMonitor,
    calls: int,
    idle_w: float | None,
) -> dict[str, Any] | None:
    inputs = kernel.make_inputs([0, 10**6], sizes)
    expected = kernel.expected(inputs, sizes)
    buffers = kernel.allocate(inputs, expected)
    try:
        kernel.upload(buffers, inputs)
        kernel.run(buffers, sizes)  # warm
        runtime.synchronize()

        def batch() -> int:
            for _ in range(calls):
                kernel.run(buffers, sizes)
            runtime.synchronize()
            return calls

        reading = monitor.measure(batch, idle_w)
        if reading is not None:
            reason = kernel.host.compare(kernel.outputs(buffers), expected)
            reading["last_output_correct"] = reason is None
        return reading
    finally:
        buffers.free()


def evaluate(
    job: Mapping[str, Any], save: Callable[[dict[str, Any]], None] | None = None
) -> dict[str, Any]:
    """Check and time one task's kernels in this process.

    Args:
        job: ``task`` (folder), ``suite``, ``kernels`` (label -> ``{"lib": path}``),
            ``baseline`` (a label; speedups are baseline time / kernel time), and optional
            ``checks`` (default True), ``timing`` (default True), ``max_trials`` (30),
            ``min_trials`` (5), ``timing_budget_s`` (30), ``energy_s`` (seconds per energy
            batch; 0: none), ``device`` (0), ``cudart`` (a runtime library path).
        save: called with the result so far after each phase (a child process saves it,
            so a timeout loses only the phase in progress).

    Returns:
        ``gpu`` (``GpuSpec.to_dict``), ``kernels`` (label -> ``findings``, ``check_calls``,
        ``timing``, ``energy``), ``speedups`` (label -> ``speedup`` of event times, and
        ``host`` of host times), ``null_overhead_s``, ``nvml`` (a snapshot), ``wall_s``.
    """
    started = time.monotonic()
    runtime = Runtime(Path(job["cudart"]) if job.get("cudart") else None)
    device = int(job.get("device", 0))
    spec = gpu_spec(runtime, device)
    runtime.set_device(device)
    task = load_kernel_task(Path(job["task"]), job.get("suite"))
    labels = list(job["kernels"])
    kernels = {
        label: GpuKernel(runtime, Path(job["kernels"][label]["lib"]), task, label)
        for label in labels
    }
    result: dict[str, Any] = {
        "task": task.instance_id,
        "gpu": spec.to_dict(),
        "kernels": {label: {"findings": [], "check_calls": 0} for label in labels},
        "speedups": {},
    }

    def checkpoint(phase: str) -> None:
        result["phase"] = phase
        result["wall_s"] = time.monotonic() - started
        if save is not None:
            save(result)

    faulted = False
    if job.get("checks", True):
        for label in labels:
            if faulted and not _context_ok(runtime):
                result["error"] = (
                    "a CUDA error left this process's context unusable, so "
                    f"{', '.join(labels[labels.index(label) :])} could not be checked"
                )
                break
            findings, calls = check_kernel(kernels[label])
            result["kernels"][label]["findings"] += [f.to_dict() for f in findings]
            result["kernels"][label]["check_calls"] = calls
            faulted = faulted or any(f.check == "fault" for f in findings)
            checkpoint(f"checks {label}")
    if job.get("timing", True) and not faulted:
        timings, null_s = time_kernels(
            runtime,
            kernels,
            task.timing,
            max_trials=int(job.get("max_trials", 30)),
            min_trials=int(job.get("min_trials", 5)),
            budget_s=float(job.get("timing_budget_s", 30.0)),
            l2_bytes=spec.l2_bytes,
        )
        result["null_overhead_s"] = null_s
        for label, timing in timings.items():
            result["kernels"][label]["timing"] = timing.to_dict()
            result["kernels"][label]["findings"] += [f.to_dict() for f in timing.findings]
        base = job.get("baseline")
        for label in labels:
            if base not in timings or label == base:
                continue
            b, c = timings[base], timings[label]
            if len(b.event_s) >= 2 and len(c.event_s) >= 2:
                try:
                    result["speedups"][label] = {
                        **speedup(b.event_s, c.event_s),
                        "host": speedup(b.host_s, c.host_s),
                    }
                except ValueError as exc:  # e.g. an event time of 0 (nothing launched)
                    result["speedups"][label] = {"error": str(exc)}
        checkpoint("timing")
        energy_s = float(job.get("energy_s", 0.0))
        if energy_s > 0:
            _energy_phase(runtime, kernels, task, spec.pci_bus_id, result, energy_s)
            checkpoint("energy")
    result["phase"] = "done"
    result["wall_s"] = time.monotonic() - started
    return result


def _context_ok(runtime: Runtime) -> bool:
    """Whether CUDA calls still work after a fault (an illegal address, for one, is sticky:
    every later call of the process fails)."""
    try:
        runtime.synchronize()
        runtime.free(runtime.malloc(256))
    except CudaError:
        return False
    return True


def _energy_phase(
    runtime: Runtime,
    kernels: Mapping[str, GpuKernel],
    task: KernelTask,
    pci_bus_id: str,
    result: dict[str, Any],
    energy_s: float,
) -> None:
    monitor, why = GpuMonitor.open(pci_bus_id)
    if monitor is None:
        result["nvml"] = {"status": why}
        return
    idle = monitor.idle_power_w(0.5)
    result["nvml"] = {"status": "ok", "idle_power_w": idle, **monitor.snapshot()}
    for label, kernel in kernels.items():
        entry = result["kernels"][label]
        median = (entry.get("timing") or {}).get("event_median_s")
        if entry["findings"] or not median:
            continue
        calls = energy_calls(median, energy_s)
        try:
            entry["energy"] = _energy(runtime, kernel, task.timing, monitor, calls, idle)
        except CudaError as exc:
            entry["energy"] = {"error": exc.message}


def evaluate_in_subprocess(
    job: Mapping[str, Any], *, timeout_s: float, work_dir: Path
) -> dict[str, Any]:
    """``evaluate`` in a child Python (``python -m perfsmith.kernels.gpu_job evaluate``).

    Returns:
        The child's result; on a crash or timeout what it saved so far, with ``error``
        saying what happened. ``child`` holds its exit code and the tail of its output.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    stem = uuid.uuid4().hex[:12]
    job_path, out_path = work_dir / f"job-{stem}.json", work_dir / f"result-{stem}.json"
    job_path.write_text(json.dumps(job, indent=2), encoding="utf-8")
    argv = [sys.executable, "-m", "perfsmith.kernels.gpu_job", "evaluate", str(job_path)]
    code, text = run_child([*argv, str(out_path)], timeout_s, child_env())
    result: dict[str, Any] = {}
    if out_path.is_file():
        try:
            result = json.loads(out_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            result = {"error": f"unreadable result: {exc}"}
    if code is None:
        result["error"] = f"timed out after {timeout_s:.0f} s in phase {result.get('phase')}"
    elif code != 0 and "error" not in result:
        result["error"] = f"the child exited with status {code}"
    result["child"] = {"returncode": code, "output_tail": text[-3000:]}
    return result


def call_once(task_folder: Path, lib: Path, suite: str | None = None, device: int = 0) -> int:
    """One call at the timing shape between ``cudaProfilerStart`` and ``cudaProfilerStop``
    (after an unprofiled warm-up call), for Nsight Compute. Returns 0 when the output is
    right, 3 when not."""
    runtime = Runtime()
    runtime.device_count()
    runtime.set_device(device)
    task = load_kernel_task(task_folder, suite)
    kernel = GpuKernel(runtime, lib, task)
    inputs = kernel.make_inputs([0, 0], task.timing)
    expected = kernel.expected(inputs, task.timing)
    buffers = kernel.allocate(inputs, expected)
    try:
        kernel.upload(buffers, inputs)
        kernel.poison(buffers)
        kernel.run(buffers, task.timing)
        runtime.synchronize()
        kernel.poison(buffers)
        runtime.synchronize()
        runtime.profiler_start()
        kernel.run(buffers, task.timing)
        runtime.synchronize()
        runtime.profiler_stop()
        reason = kernel.host.compare(kernel.outputs(buffers), expected)
    finally:
        buffers.free()
    if reason:
        print(f"call-once: wrong output: {reason}", file=sys.stderr)
        return 3
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``evaluate JOB.json OUT.json`` or ``call-once --task DIR --lib LIB [--suite S]``."""
    parser = argparse.ArgumentParser(prog="python -m perfsmith.kernels.gpu_job")
    sub = parser.add_subparsers(dest="command", required=True)
    ev = sub.add_parser("evaluate", help="check and time one task's kernels")
    ev.add_argument("job", type=Path)
    ev.add_argument("out", type=Path)
    once = sub.add_parser("call-once", help="one profiled call at the timing shape")
    once.add_argument("--task", type=Path, required=True)
    once.add_argument("--lib", type=Path, required=True)
    once.add_argument("--suite")
    once.add_argument("--device", type=int, default=0)
    args = parser.parse_args(argv)
    if args.command == "call-once":
        return call_once(args.task, args.lib, args.suite, args.device)
    out: Path = args.out

    def save(result: Mapping[str, Any]) -> None:
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
        os.replace(tmp, out)

    partial: dict[str, Any] = {}

    def keep(result: dict[str, Any]) -> None:
        partial.clear()
        partial.update(result)
        save(result)

    try:
        job = json.loads(args.job.read_text(encoding="utf-8"))
        save(evaluate(job, keep))
    except Exception as exc:
        partial["error"] = f"{type(exc).__name__}: {exc}"
        partial["traceback"] = traceback.format_exc()[-4000:]
        save(partial)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
