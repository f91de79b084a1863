"""Time the kernel in kernel.c (generated; protected, like every workload).

The timing worker runs ``setup()`` untimed before every timed ``workload()`` call:

- the first ``setup()`` of a process builds (once per workspace, under a lock) and loads
  the kernel, refusing one that keeps state between calls;
- every ``setup()`` first checks the previous timed call: no thread it started is still
  running (from the third ``setup()`` on, the process's threads must be those seen at the
  second, which include OpenMP's pool, made by the first call), its inputs unchanged and
  its output within tolerance of the float64 reference, else it raises ``KernelMismatch``,
  so a kernel that skips work, leaves work running after it returns, or changes its
  output once it is timed fails the timing;
- then it makes fresh inputs at the timing shape (or at ``variant``, a hidden shape) in
  new buffers, seeded from ``PERFSMITH_SEED`` and a call counter, and NaN-poisoned
  output buffers.

``workload()`` calls the kernel once and returns a fingerprint of its output (float64
arrays: the sum and absolute sum of up to 4096 evenly spaced elements, and 16 values at
fixed positions; see ``kernel_harness.fingerprint``). ``variants()`` returns the hidden
shapes.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
# The state check runs when the kernel is loaded, the thread census before each call is
# verified; a test of the other checks or of the later gates may turn one off to see the
# rest alone.
STATE_CHECK = True
THREAD_CHECK = True
_TASKS = Path("/proc/self/task")


def _load_harness() -> Any:
    path = _HERE / "tests" / "kernel_harness.py"
    name = f"kernel_harness_{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


harness = _load_harness()
SPEC = harness.load_spec(_HERE)


class _Call:
    """The buffers of one prepared call and what its output must be."""

    def __init__(self, number: int, sizes: dict[str, int]) -> None:
        self.number, self.sizes = number, sizes
        self.inputs: dict[str, Any] = {}
        self.outputs: dict[str, Any] = {}
        self.expected: dict[str, Any] = {}
        self.hashes: dict[str, str] = {}
        self.called = False


_kernel: Any = None
_count = 0
_pending: _Call | None = None
_threads: frozenset[str] | None = None  # the threads seen at the second setup()


def _census() -> frozenset[str] | None:
    try:
        return frozenset(os.listdir(_TASKS))
    except OSError:  # not Linux: no census
        return None


def _seed() -> int:
    return int(os.environ.get("PERFSMITH_SEED") or 0) % 2**63


def _sizes_text(sizes: dict[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sizes.items())


def _check_threads(call: _Call) -> None:
    """A thread that appeared since the second setup() and still runs was left by a call."""
    global _threads
    now = _census()
    if now is None or not THREAD_CHECK:
        return
    if _threads is None:
        _threads = now  # after the first call: OpenMP's pool and BLAS's threads are made
        return
    extra = now - _threads
    if extra:
        raise harness.KernelMismatch(
            f"timed call {call.number} ({_sizes_text(call.sizes)}): {len(extra)} thread(s) "
            "it started were still running after it returned; a kernel must finish its "
            "work before it returns (work left running in a detached thread is not timed)"
        )


def _verify(call: _Call) -> None:
    _check_threads(call)
    where = f"timed call {call.number} ({_sizes_text(call.sizes)})"
    changed = [k for k, v in call.inputs.items() if harness.input_hash(v) != call.hashes[k]]
    if changed:
        raise harness.KernelMismatch(f"{where}: the kernel wrote its input {', '.join(changed)}")
    reason = _kernel.compare(call.outputs, call.expected)
    if reason:
        raise harness.KernelMismatch(
            f"{where}: the output does not match the float64 reference: {reason}"
        )


def variants() -> list[dict[str, int]]:
    """The hidden shapes, for the output gate's variant runs."""
    return [dict(s) for s in SPEC.get("hidden", [])]


def setup(variant: dict[str, int] | None = None) -> None:
    """Check the previous call, then prepare fresh inputs and poisoned outputs (untimed)."""
    global _kernel, _count, _pending
    if _kernel is None:
        _kernel = harness.load_kernel(_HERE, check_state=STATE_CHECK)
    if _pending is not None and _pending.called:
        _verify(_pending)
    _pending = None  # the old buffers go before the new ones are made
    _count += 1
    shape = variant if variant is not None else SPEC["timing"]
    sizes = {name: int(shape[name]) for name in harness.size_names(SPEC)}
    call = _Call(_count, sizes)
    call.inputs = _kernel.make_inputs(harness.rng([_seed(), _count]), sizes)
    call.expected = _kernel.expected(call.inputs, sizes)
    call.hashes = {k: harness.input_hash(v) for k, v in call.inputs.items()}
    call.outputs = _kernel.allocate(call.expected)
    _pending = call


def workload() -> dict[str, Any]:
    """Call the kernel once; return the fingerprint of its outputs."""
    call = _pending
    if call is None:
        raise RuntimeError("setup() must run before workload()")
    _kernel.run(call.inputs, call.outputs, call.sizes)
    call.called = True
    summary: dict[str, Any] = harness.fingerprint(call.outputs)
    return summary
