"""Run a compiled CUDA kernel on a GPU: the harness's correctness checks, then timing.

A CUDA kernel task's ``.cu`` exports an ``extern "C"`` host function with the task's
signature, taking device pointers (see docs/kernels.md, "CUDA kernels on a GPU"). It is
built by ``cuda.build_gpu_kernel`` (position-independent object, kept device image,
shared library linked against the same ``libcudart`` that ``cudart.Runtime`` loads), its
state is checked without a GPU by ``cuda.cuda_mutable_state``, and here:

- ``check_kernel`` runs the CPU harness's checks on device memory: for every seed x every
  shape (visible and hidden) one call with outputs poisoned (all bytes 0xFF, a NaN, for
  floats), compared with the float64 reference, and the inputs copied back and compared
  with what was uploaded; then per shape the same-address/new-content check and the
  repeat check with three poison patterns. Results are read with ``cudaMemcpy`` on the
  legacy default stream, as a caller of the kernel would read them.
- ``time_kernels`` times several kernels in interleaved trials. Each trial makes fresh
  inputs (one set for all kernels of the trial), and per kernel copies them into its
  input buffers, poisons its outputs, flushes the L2 (a memset of twice its size),
  synchronises the device, then records an event, calls, records an event and
  synchronises the whole device (which waits for side streams too), with a host clock
  around the call and the synchronisation. The output and inputs are checked after every
  trial, untimed. A wrong output on any trial fails the kernel (``timed_output``), and so
  does a host-timed span well beyond the event-timed one (``outside_stream``: work the
  events cannot see, e.g. on a stream that does not synchronise with the default one).
- ``speedup`` is the bootstrap interval of the ratio of median event times
  (``perfsmith.measure.stats.bootstrap_ratio``).

``gpu_job`` puts these together for one task's kernels, in a child process.

Only the standard library, NumPy and PyYAML are needed.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from perfsmith.kernels.cuda import load_harness
from perfsmith.kernels.cudart import CudaError, DeviceArray, Runtime
from perfsmith.kernels.spec import REFERENCE_FILE, KernelTask
from perfsmith.measure.stats import bootstrap_ratio

__all__ = [
    "CHECKS",
    "Buffers",
    "Finding",
    "GpuKernel",
    "Timing",
    "check_kernel",
    "null_overhead",
    "outside_stream",
    "speedup",
    "time_kernels",
]

# The names of the checks a finding can come from (docs/kernels.md).
CHECKS: tuple[str, ...] = (
    "build",  # does not compile or link, or lacks the function
    "state",  # keeps state between calls (cuda.cuda_mutable_state)
    "case",  # an output differs from the reference (every seed x every shape)
    "inputs",  # a call changed its inputs
    "same_address",  # wrong after the inputs were overwritten in place
    "repeat",  # wrong on a repeated call with the same inputs
    "timed_output",  # wrong output (or changed inputs) on a timed trial or warm-up
    "outside_stream",  # host-timed span far beyond the event-timed one
    "fault",  # a CUDA error during a call (launch failure, illegal address, ...)
)
# Work outside the timed stream: the median of (host span - event span), less the same
# for an empty call, must stay within the larger of these.
OUTSIDE_ABS_S = 30e-6
OUTSIDE_REL = 0.3
MIN_FLUSH_BYTES = 8 << 20
MESSAGES_PER_CHECK = 3


@dataclass(frozen=True)
class Finding:
    """One failed check: its name (one of ``CHECKS``) and a one-line reason."""

    check: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"check": self.check, "message": self.message}


@dataclass
class Buffers:
    """Device buffers of one call: inputs and outputs by argument name."""

    inputs: dict[str, DeviceArray]
    outputs: dict[str, DeviceArray]

    def free(self) -> None:
        """Release every buffer, ignoring CUDA errors (a faulted context fails them all)."""
        for buf in [*self.inputs.values(), *self.outputs.values()]:
            buf.free(quiet=True)


def _sizes_text(sizes: Mapping[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sizes.items())


def _same_bytes(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(
        np.array_equal(a.reshape(-1).view(np.uint8), b.reshape(-1).view(np.uint8))
    )


class GpuKernel:
    """A compiled CUDA kernel bound to a task: device buffers, poison, call, read back.

    The entry point is bound by the CPU harness's ``Kernel`` (same ctypes signature:
    arrays are pointers, here device pointers), which also makes the inputs and the
    reference outputs and compares them.

    Raises:
        BuildError (the harness's): the library lacks the function.
    """

    def __init__(self, runtime: Runtime, lib: Path, task: KernelTask, label: str = "kernel"):
        harness = load_harness()
        self.runtime, self.task, self.label = runtime, task, label
        self.spec = task.spec_json(hidden=True)
        reference = harness.load_module(task.folder / REFERENCE_FILE, "kernel_reference")
        built = harness.Build(Path(lib), Path(lib), Path(lib), "")
        self.host: Any = harness.Kernel(built, self.spec, reference)

    def make_inputs(self, seed: int | Sequence[int], sizes: Mapping[str, int]) -> dict[str, Any]:
        """The reference's inputs for one seed and shape (host arrays)."""
        return dict(self.host.make_inputs(load_harness().rng(seed), sizes))

    def expected(self, inputs: Mapping[str, Any], sizes: Mapping[str, int]) -> dict[str, Any]:
        """The float64 (integers: exact) reference outputs."""
        return dict(self.host.expected(inputs, sizes))

    def allocate(self, inputs: Mapping[str, Any], expected: Mapping[str, Any]) -> Buffers:
        """Device buffers for these inputs and outputs of the reference's shapes."""
        made: list[DeviceArray] = []
        try:
            ins = {}
            for name in self.host.inputs:
                ins[name] = DeviceArray(self.runtime, inputs[name].shape, inputs[name].dtype)
                made.append(ins[name])
            outs = {}
            for name in self.host.outputs:
                dtype = self.host._dtype(name)
                outs[name] = DeviceArray(self.runtime, np.shape(expected[name]), dtype)
                made.append(outs[name])
        except BaseException:
            for buf in made:
                buf.free(quiet=True)
            raise
        return Buffers(ins, outs)

    def upload(self, buffers: Buffers, inputs: Mapping[str, Any]) -> None:
        for name, buf in buffers.inputs.items():
            buf.upload(inputs[name])

    def poison(self, buffers: Buffers, variant: int = 0) -> None:
        """Fill the outputs as the CPU harness does: variant 0 is all bytes 0xFF for floats
        (a NaN) and the harness's first byte pattern for integers; 1 and 2 its others."""
        harness = load_harness()
        for buf in buffers.outputs.values():
            if buf.dtype.kind != "f":
                buf.fill_bytes(harness.POISON_BYTES[variant % len(harness.POISON_BYTES)])
            elif variant % len(harness.POISON_FLOATS) == 0:
                buf.fill_bytes(0xFF)
            else:
                host = np.empty(buf.shape, dtype=buf.dtype)
                harness.poison(host, variant)
                buf.upload(host)

    def run(self, buffers: Buffers, sizes: Mapping[str, int]) -> None:
        """Call the entry point once on these buffers; raise ``CudaError`` if a launch in
        it failed (``cudaGetLastError``, cleared before the call)."""
        values: list[Any] = []
        for arg in self.host.args:
            name, role = arg["name"], arg["role"]
            if role == "in":
                values.append(buffers.inputs[name].ptr)
            elif role == "out":
                values.append(buffers.outputs[name].ptr)
            elif role == "size":
                values.append(int(sizes[name]))
            else:
                values.append(arg["value"])
        self.runtime.last_error()
        self.host.function(*values)
        code = self.runtime.last_error()
        if code:
            raise self.runtime.error(f"a launch in {self.label}'s {self.task.function}()", code)

    def outputs(self, buffers: Buffers) -> dict[str, np.ndarray]:
        return {name: buf.download() for name, buf in buffers.outputs.items()}

    def inputs(self, buffers: Buffers) -> dict[str, np.ndarray]:
        return {name: buf.download() for name, buf in buffers.inputs.items()}

    def verify(
        self,
        buffers: Buffers,
        inputs: Mapping[str, Any],
        expected: Mapping[str, Any],
    ) -> tuple[str | None, list[str]]:
        """Read back and compare: the output's reason (None when right) and the names of
        the inputs that changed."""
        reason = self.host.compare(self.outputs(buffers), expected)
        after = self.inputs(buffers)
        changed = [k for k in inputs if not _same_bytes(after[k], np.asarray(inputs[k]))]
        return reason, changed


# -- correctness --------------------------------------------------------------------------


@dataclass
class _Collector:
    findings: list[Finding] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, check: str, message: str) -> None:
        self.counts[check] = self.counts.get(check, 0) + 1
        if self.counts[check] <= MESSAGES_PER_CHECK:
            self.findings.append(Finding(check, message))

    def result(self) -> list[Finding]:
        out = list(self.findings)
        for check, count in self.counts.items():
            if count > MESSAGES_PER_CHECK:
                out.append(Finding(check, f"... and {count - MESSAGES_PER_CHECK} more"))
        return out


def check_kernel(kernel: GpuKernel) -> tuple[list[Finding], int]:
    """The harness's correctness checks on the GPU.

    Per shape (visible, then hidden): every seed once (``case``, ``inputs``), then the
    same-address check (first seed, then the next one written into the same input buffers:
    ``same_address``) and the repeat check (last seed, three poison patterns: ``repeat``).
    The buffers of a shape are reused across its calls, as a caller reusing buffers would.

    Returns:
        The findings (at most ``MESSAGES_PER_CHECK`` messages per check, then a count) and
        the number of kernel calls made. A CUDA error stops the checks with a ``fault``.
    """
    harness = load_harness()
    spec = kernel.spec
    seeds = [int(s) for s in spec["seeds"]]
    found = _Collector()
    calls = 0

    def call(buffers: Buffers, sizes: Mapping[str, int], variant: int = 0) -> None:
        nonlocal calls
        kernel.poison(buffers, variant)
        calls += 1
        kernel.run(buffers, sizes)

    try:
        for _, sizes in harness.shapes(spec):
            where = _sizes_text(sizes)
            first_inputs = kernel.make_inputs(seeds[0], sizes)
            first = kernel.expected(first_inputs, sizes)
            buffers = kernel.allocate(first_inputs, first)
            try:
                for seed in seeds:
                    inputs = kernel.make_inputs(seed, sizes)
                    expected = kernel.expected(inputs, sizes)
                    kernel.upload(buffers, inputs)
                    call(buffers, sizes)
                    reason, changed = kernel.verify(buffers, inputs, expected)
                    kernel.runtime.synchronize()
                    if reason:
                        found.add("case", f"{reason} ({where}, seed {seed})")
                    if changed:
                        found.add(
                            "inputs",
                            f"the kernel wrote its input {', '.join(changed)} ({where}, "
                            f"seed {seed}): inputs are read-only",
                        )
                second = harness.other_seed(spec, seeds[0])
                message = _same_address(kernel, buffers, sizes, seeds[0], second, call)
                if message:
                    found.add("same_address", message)
                message = _repeat(kernel, buffers, sizes, seeds[-1], call)
                if message:
                    found.add("repeat", message)
            finally:
                buffers.free()
    except CudaError as exc:
        found.add("fault", f"CUDA error during the checks: {exc.message}")
    return found.result(), calls


def _same_address(
    kernel: GpuKernel,
    buffers: Buffers,
    sizes: Mapping[str, int],
    seed: int,
    second: int,
    call: Callable[..., None],
) -> str | None:
    where = _sizes_text(sizes)
    inputs = kernel.make_inputs(seed, sizes)
    first = kernel.expected(inputs, sizes)
    kernel.upload(buffers, inputs)
    call(buffers, sizes)
    reason, _ = kernel.verify(buffers, inputs, first)
    kernel.runtime.synchronize()
    if reason:
        return f"first call ({where}, seed {seed}): {reason}"
    fresh = kernel.make_inputs(second, sizes)
    new = kernel.expected(fresh, sizes)
    kernel.upload(buffers, fresh)
    call(buffers, sizes)
    got = kernel.outputs(buffers)
    kernel.runtime.synchronize()
    reason = kernel.host.compare(got, new)
    if reason is None:
        return None
    stale = kernel.host.compare(got, first) is None
    return (
        f"after the inputs were overwritten in place with seed {second}'s data ({where}): "
        f"{reason}"
        + ("; the output is the previous call's (a cache keyed on addresses?)" if stale else "")
    )


def _repeat(
    kernel: GpuKernel,
    buffers: Buffers,
    sizes: Mapping[str, int],
    seed: int,
    call: Callable[..., None],
) -> str | None:
    inputs = kernel.make_inputs(seed, sizes)
    expected = kernel.expected(inputs, sizes)
    kernel.upload(buffers, inputs)
    for variant in range(len(load_harness().POISON_FLOATS)):
        call(buffers, sizes, variant)
        reason, _ = kernel.verify(buffers, inputs, expected)
        kernel.runtime.synchronize()
        if reason:
            return (
                f"call {variant + 1} on the same inputs ({_sizes_text(sizes)}, seed {seed}), "
                f"outputs poisoned with pattern {variant}: {reason}"
            )
    return None


# -- timing -------------------------------------------------------------------------------


@dataclass
class Timing:
    """The timed trials of one kernel: seconds per call by events and by the host clock."""

    label: str
    event_s: list[float] = field(default_factory=list)
    host_s: list[float] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    calls: int = 0

    def to_dict(self) -> dict[str, Any]:
        def med(xs: list[float]) -> float | None:
            return statistics.median(xs) if xs else None

        return {
            "label": self.label,
            "trials": len(self.event_s),
            "calls": self.calls,
            "event_median_s": med(self.event_s),
            "host_median_s": med(self.host_s),
            "event_min_s": min(self.event_s) if self.event_s else None,
            "event_s": self.event_s,
            "host_s": self.host_s,
            "findings": [f.to_dict() for f in self.findings],
        }


def outside_stream(event_s: Sequence[float], host_s: Sequence[float], null_s: float) -> str | None:
    """Whether the host saw much more time than the events did: the median of
    ``host - event`` over the trials, less ``null_s`` (the same for an empty call), above
    ``max(OUTSIDE_ABS_S, OUTSIDE_REL x median event time)``.

    Returns:
        None when consistent, else the reason.
    """
    if not event_s or len(event_s) != len(host_s):
        return None
    excess = statistics.median(h - e for h, e in zip(host_s, event_s, strict=True)) - null_s
    event = statistics.median(event_s)
    limit = max(OUTSIDE_ABS_S, OUTSIDE_REL * event)
    if excess <= limit:
        return None
    return (
        f"the host-timed span (call plus device synchronisation) exceeds the event-timed one "
        f"by {excess * 1e6:.0f} us in the median (events: {event * 1e6:.1f} us; allowed "
        f"{limit * 1e6:.0f} us): work outside the timed stream, e.g. on a non-blocking "
        "stream the call does not wait for, or slow host-side work in the call"
    )


@contextmanager
def _events(runtime: Runtime) -> Iterator[tuple[int, int]]:
    start, end = runtime.event_create(), runtime.event_create()
    try:
        yield start, end
    finally:
        with contextlib.suppress(CudaError):  # the context may be broken by now
            runtime.event_destroy(start)
            runtime.event_destroy(end)


def null_overhead(runtime: Runtime, events: tuple[int, int], reps: int = 30) -> float:
    """Median of ``host - event`` for an empty call (events and synchronisation only)."""
    start, end = events
    gaps = []
    for _ in range(reps):
        runtime.synchronize()
        t0 = time.perf_counter()
        runtime.event_record(start)
        runtime.event_record(end)
        runtime.synchronize()
        host = time.perf_counter() - t0
        gaps.append(host - runtime.event_elapsed_s(start, end))
    return statistics.median(gaps)


def time_kernels(
    runtime: Runtime,
    kernels: Mapping[str, GpuKernel],
    sizes: Mapping[str, int],
    *,
    max_trials: int = 30,
    min_trials: int = 5,
    budget_s: float = 30.0,
    warmup: int = 2,
    seed: int = 0,
    l2_bytes: int = 0,
) -> tuple[dict[str, Timing], float]:
    """Interleaved, checked timing of several kernels of one task at ``sizes``.

    Trials continue until ``max_trials``, or ``budget_s`` has passed after at least
    ``min_trials``. Kernel order alternates between trials. A kernel whose output (or
    inputs) is wrong on a warm-up or timed call leaves the rotation with a
    ``timed_output`` finding; a CUDA error ends all timing with a ``fault``.

    Returns:
        A ``Timing`` per label (with ``outside_stream`` findings added) and the empty-call
        overhead in seconds.
    """
    labels = list(kernels)
    first = kernels[labels[0]]
    timings = {label: Timing(label) for label in labels}
    inputs = first.make_inputs([seed, 0], sizes)
    expected = first.expected(inputs, sizes)
    buffers: dict[str, Buffers] = {}
    flush = DeviceArray(runtime, (max(MIN_FLUSH_BYTES, 2 * l2_bytes),), np.dtype(np.uint8))
    null_s = 0.0
    try:
        for label in labels:
            buffers[label] = kernels[label].allocate(inputs, expected)
        with _events(runtime) as events:
            null_s = null_overhead(runtime, events)
            active = list(labels)

            def one(label: str, trial: int, timed: bool) -> None:
                kernel, bufs, timing = kernels[label], buffers[label], timings[label]
                kernel.upload(bufs, inputs)
                kernel.poison(bufs)
                flush.fill_bytes(trial & 0xFF)
                runtime.synchronize()
                t0 = time.perf_counter()
                runtime.event_record(events[0])
                kernel.run(bufs, sizes)
                runtime.event_record(events[1])
                runtime.synchronize()
                host = time.perf_counter() - t0
                event = runtime.event_elapsed_s(*events)
                timing.calls += 1
                reason, changed = kernel.verify(bufs, inputs, expected)
                what = f"timed trial {trial + 1}" if timed else "warm-up call"
                if reason or changed:
                    wrong = reason or f"the kernel wrote its input {', '.join(changed)}"
                    timing.findings.append(
                        Finding("timed_output", f"{what} ({_sizes_text(sizes)}): {wrong}")
                    )
                    active.remove(label)
                elif timed:
                    timing.event_s.append(event)
                    timing.host_s.append(host)

            try:
                for label in labels:
                    for _ in range(warmup):
                        if label in active:
                            one(label, 0, timed=False)
                started, trial = time.monotonic(), 0
                while active and trial < max_trials:
                    if trial >= min_trials and time.monotonic() - started > budget_s:
                        break
                    if trial:
                        inputs = first.make_inputs([seed, trial], sizes)
                        expected = first.expected(inputs, sizes)
                    for label in list(active if trial % 2 == 0 else active[::-1]):
                        one(label, trial, timed=True)
                    trial += 1
            except CudaError as exc:
                for label in active:
                    timings[label].findings.append(
                        Finding("fault", f"CUDA error while timing: {exc.message}")
                    )
    finally:
        for bufs in buffers.values():
            bufs.free()
        flush.free(quiet=True)
    for timing in timings.values():
        reason = outside_stream(timing.event_s, timing.host_s, null_s)
        if reason and len(timing.event_s) >= 3:
            timing.findings.append(Finding("outside_stream", reason))
    return timings, null_s


def speedup(
    baseline_s: Sequence[float], candidate_s: Sequence[float], confidence: float = 0.95
) -> dict[str, Any]:
    """``median(baseline) / median(candidate)`` with its bootstrap interval
    (``perfsmith.measure.stats.bootstrap_ratio``, both sides resampled independently).

    Raises:
        ValueError: a side has fewer than 2 samples or a sample is not positive.
    """
    interval = bootstrap_ratio(baseline_s, candidate_s, confidence=confidence, n_boot=2000)
    return {
        "estimate": interval.estimate,
        "low": interval.low,
        "high": interval.high,
        "confidence": interval.confidence,
        "baseline_n": len(baseline_s),
        "candidate_n": len(candidate_s),
        "baseline_median_s": statistics.median(baseline_s),
        "candidate_median_s": statistics.median(candidate_s),
    }
