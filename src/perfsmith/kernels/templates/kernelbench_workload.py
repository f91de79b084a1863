"""Time ModelNew.forward from model_new.py (generated; protected, like every workload).

The timing worker runs ``setup()`` untimed before every timed ``workload()`` call:

- the first ``setup()`` of a process imports the reference and ``ModelNew``; each set of
  sizes gets one reference ``Model`` (weights seeded from ``PERFSMITH_SEED``, perturbed as
  in the tests) and one ``ModelNew`` holding the same weights, on the GPU when there is
  one, else on the CPU;
- every ``setup()`` first checks the previous timed call: its inputs unchanged and its
  outputs within tolerance of ``Model`` run in float64, else it raises
  ``KernelMismatch``, so a model that skips work or changes its result once it is timed
  fails the timing;
- then it drops the previous inputs and makes fresh ones at the problem's own sizes (or
  at ``variant``, a hidden set of sizes), seeded from ``PERFSMITH_SEED`` and a call
  counter, and computes the float64 reference for them.

``workload()`` calls ``ModelNew.forward`` once under ``torch.no_grad()``, synchronises the
GPU, and returns a fingerprint of the outputs (float lists: the sum and absolute sum of up
to 4096 evenly spaced elements, and 16 values at fixed positions). ``variants()`` returns
the hidden sets of sizes.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent


def _load_harness() -> Any:
    path = _HERE / "tests" / "kernelbench_harness.py"
    name = f"kernelbench_harness_{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"
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
torch = harness.torch
SPEC = harness.load_spec(_HERE)


class KernelMismatch(AssertionError):
    """A timed call returned a wrong result or wrote its inputs."""


class _Models:
    """The reference and the candidate for one set of sizes."""

    def __init__(self, overrides: dict[str, Any]) -> None:
        self.overrides = overrides
        model, init = harness.build_reference(_reference, overrides, _seed())
        self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self.reference = harness.Reference(model, SPEC)
        self.candidate = harness.build_candidate(
            _candidate_class, init, self.state, _seed(), model.training
        )


class _Call:
    """The tensors of one prepared call and what it must return."""

    def __init__(self, number: int, models: _Models) -> None:
        self.number, self.models = number, models
        self.inputs: list[Any] = []
        self.before: list[Any] = []
        self.expected: Any = None
        self.outputs: list[Any] = []
        self.called = False


_reference: Any = None
_candidate_class: Any = None
_models: dict[str, _Models] = {}
_count = 0
_pending: _Call | None = None


def _seed() -> int:
    return int(os.environ.get("PERFSMITH_SEED") or 0) % 2**31


def _sizes_text(overrides: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in overrides.items()) or "the problem's sizes"


def _verify(call: _Call) -> None:
    where = f"timed call {call.number} ({_sizes_text(call.models.overrides)})"
    now = list(harness._tensors(call.inputs))
    then = list(harness._tensors(call.before))
    changed = [str(i) for i, (a, b) in enumerate(zip(now, then, strict=True))
               if not harness.same_bits(a, b)]  # fmt: skip
    if changed:
        raise KernelMismatch(f"{where}: forward changed its input tensor {', '.join(changed)}")
    try:
        outputs = harness.flatten(call.outputs, strict=True)
    except harness.CandidateError as exc:
        raise KernelMismatch(f"{where}: {exc}") from exc
    reason = harness.compare(outputs, call.expected, SPEC)
    if reason:
        raise KernelMismatch(f"{where}: the output does not match the float64 reference: {reason}")


def variants() -> list[dict[str, Any]]:
    """The hidden sets of sizes (of the problem's own sizes), for the output gate."""
    return [dict(v) for v in SPEC["levels"][0]["hidden"]]


def setup(variant: dict[str, Any] | None = None) -> None:
    """Check the previous call, then prepare fresh inputs and their reference (untimed)."""
    global _reference, _candidate_class, _count, _pending
    if _reference is None:
        torch.set_grad_enabled(False)
        _reference = harness.load_reference(_HERE)
        _candidate_class = harness.load_candidate(_HERE)
    if _pending is not None and _pending.called:
        _verify(_pending)
    _pending = None  # the old tensors go before the new ones are made
    _count += 1
    overrides = dict(variant or {})
    key = json.dumps(overrides, sort_keys=True)
    if key not in _models:
        _models[key] = _Models(overrides)
    models = _models[key]
    call = _Call(_count, models)
    seed = (_seed() * 1_000_003 + _count) % 2**62
    inputs = harness.make_inputs(_reference, overrides, seed)
    call.expected = models.reference.run(inputs)
    call.inputs = harness.to_device(inputs)
    call.before = harness.clone(call.inputs)
    if harness.DEVICE.type == "cuda":
        torch.cuda.synchronize()
    _pending = call


def workload() -> dict[str, list[float]]:
    """Call ModelNew.forward once; return the fingerprint of its outputs."""
    call = _pending
    if call is None:
        raise RuntimeError("setup() must run before workload()")
    result = call.models.candidate(*call.inputs)
    if harness.DEVICE.type == "cuda":
        torch.cuda.synchronize()
    call.outputs = result
    call.called = True
    summary: dict[str, list[float]] = harness.fingerprint(harness.flatten(result, strict=False))
    return summary
