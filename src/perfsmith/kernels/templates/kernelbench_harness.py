"""Size, seed, run and compare a KernelBench problem and the ModelNew in ``model_new.py``.

Part of a generated KernelBench repository (protected: the only file a candidate may
change is ``model_new.py``). It runs with the target's Python and needs PyTorch;
``tests/test_model.py`` and ``perfsmith_workload.py`` both use it.

- Sizes: ``tests/kernelbench_spec.json`` lists size levels (overrides of the problem's
  module-level size constants, largest first) and each level's hidden variants. The
  tests take the first level whose inputs fit the spec's ``input_budget`` elements
  (counted on PyTorch's meta device, so nothing is allocated); the workload times the
  problem's own sizes. Overrides are set as globals of the reference module before
  ``get_init_inputs()`` and ``get_inputs()`` run, and restored afterwards.
- Seeds: ``torch.manual_seed(seed)`` before ``get_init_inputs()`` and again before
  ``Model(...)``, as KernelBench does; then every floating-point parameter gets seeded
  noise (so the weights are not the default initialisation, which a candidate could
  rebuild); the inputs come from ``get_inputs()`` after ``torch.manual_seed(seed +
  INPUT_SEED_OFFSET)``.
- The reference is ``Model`` run in float64 (``.double()`` on a copy, floating inputs
  cast), on the GPU when there is one. Its own float32 run gives the expected dtypes and
  shapes, and how far float32 arithmetic lands from float64 on that case.
- ``ModelNew`` is built with the same constructor arguments under another seed, gets the
  reference's state with ``load_state_dict(strict=True)``, and must then hold exactly
  those weights.
- ``compare`` applies the tolerance rule: an element passes when it is finite and
  ``|out - ref| <= (atol + rtol * (|ref| + rms(ref))) * widen``, where ``rms(ref)`` is the
  root mean square of that whole reference output and ``widen`` (>= 1) makes room for
  twice the float32 reference's own error when that needs more than the default.
- Before every candidate call the caching allocator gets blocks of the outputs' sizes
  filled with NaN bytes, so an output left unwritten (``torch.empty``) is never the
  reference's stale result.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import itertools
import json
import math
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

try:
    import torch
except ImportError as exc:  # pragma: no cover - depends on the interpreter
    raise ImportError(
        "KernelBench problems need PyTorch in the interpreter that runs the tests and the "
        "workload: pip install torch (or perfsmith[kernelbench])."
    ) from exc

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SPEC_NAME = "kernelbench_spec.json"
REFERENCE_FILE = "reference_model.py"
CANDIDATE_FILE = "model_new.py"
EXTENSIONS_DIR = ".torch-extensions"
DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
INPUT_SEED_OFFSET = 1_000_003
CANDIDATE_SEED_OFFSET = 7919
WEIGHT_NOISE = 0.5  # noise std, relative to each parameter's mean absolute value
WIDEN_MARGIN = 2.0
FINGERPRINT_VALUES = 16
FINGERPRINT_SAMPLE = 4096
_COUNTER = itertools.count()


class ProblemError(RuntimeError):
    """The reference itself fails (the problem file is broken)."""


class CandidateError(AssertionError):
    """ModelNew fails a check; the message says which, in one line.

    ``summary`` never names a size; ``detail`` (an exception's own text) may, so checks at
    sizes that are not shown report the summary alone.
    """

    def __init__(self, summary: str, detail: str = "") -> None:
        super().__init__(f"{summary}: {detail}" if detail else summary)
        self.summary = summary

    def text(self, hidden: bool) -> str:
        """The message, without the detail when ``hidden``."""
        return self.summary if hidden else str(self)


def load_spec(root: Path = ROOT) -> dict[str, Any]:
    """The generated spec: seeds, tolerances, input budget and size levels."""
    spec: dict[str, Any] = json.loads((root / "tests" / SPEC_NAME).read_text(encoding="utf-8"))
    return spec


def load_module(path: Path, name: str) -> ModuleType:
    """Import a file as module ``name`` (registered in ``sys.modules``, so tools that look
    a module up by name, such as Triton's JIT, find it)."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def load_reference(root: Path = ROOT) -> ModuleType:
    """A fresh import of ``reference_model.py``."""
    return load_module(root / REFERENCE_FILE, f"kernelbench_reference_{next(_COUNTER)}")


def load_candidate(root: Path = ROOT) -> type[Any]:
    """Import ``model_new.py`` (as module ``model_new``) and return its ``ModelNew``.

    ``load_inline`` builds go to ``.torch-extensions/`` in the repository unless
    ``TORCH_EXTENSIONS_DIR`` says otherwise.

    Raises:
        CandidateError: the file defines no ``ModelNew`` subclass of ``torch.nn.Module``
            (an exception while importing propagates as it is).
    """
    os.environ.setdefault("TORCH_EXTENSIONS_DIR", str(root / EXTENSIONS_DIR))
    module = load_module(root / CANDIDATE_FILE, "model_new")
    cls = getattr(module, "ModelNew", None)
    if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
        raise CandidateError(f"{CANDIDATE_FILE} defines no class ModelNew(torch.nn.Module)")
    return cls


def pin_precision() -> None:
    """Full float32 precision for matmul and convolutions (no TF32), re-set before every
    reference run so that nothing a candidate changed lowers the reference's precision."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False


# ---------------------------------------------------------------- sizes


def _value(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


@contextlib.contextmanager
def sizes(module: ModuleType, overrides: Mapping[str, Any]) -> Iterator[None]:
    """Set the module's size constants to ``overrides`` for the ``with`` block."""
    missing = object()
    saved = {name: module.__dict__.get(name, missing) for name in overrides}
    try:
        for name, value in overrides.items():
            setattr(module, name, _value(value))
        yield
    finally:
        for name, value in saved.items():
            if value is missing:
                module.__dict__.pop(name, None)
            else:
                setattr(module, name, value)


def _tensors(value: Any) -> Iterator[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _tensors(item)


def input_numel(module: ModuleType, overrides: Mapping[str, Any]) -> int | None:
    """How many elements ``get_inputs()`` makes at these sizes, counted on the meta
    device (no memory is used); None when the problem cannot run there."""
    from torch.distributions import Distribution

    validate = Distribution._validate_args
    Distribution.set_default_validate_args(False)  # checks call .item(), which meta lacks
    try:
        with sizes(module, overrides), torch.device("meta"):
            return sum(t.numel() for t in _tensors(list(module.get_inputs())))
    except Exception:
        return None
    finally:
        Distribution.set_default_validate_args(validate)


def choose_level(module: ModuleType, spec: Mapping[str, Any]) -> int:
    """The first size level whose inputs fit the spec's input budget (0 when the inputs
    cannot be counted; the last level when none fits)."""
    levels = spec["levels"]
    for index, level in enumerate(levels):
        count = input_numel(module, level["base"])
        if count is None:
            return 0
        if count <= int(spec["input_budget"]):
            return index
    return len(levels) - 1


@dataclass(frozen=True)
class SizeCase:
    """One set of sizes the tests run: ``problem`` or ``hidden<k>``."""

    label: str
    overrides: dict[str, Any]
    hidden: bool


def size_cases(module: ModuleType, spec: Mapping[str, Any]) -> list[SizeCase]:
    """The problem's sizes (of the chosen level), then its hidden variants."""
    level = spec["levels"][choose_level(module, spec)]
    cases = [SizeCase("problem", dict(level["base"]), False)]
    cases += [SizeCase(f"hidden{k}", dict(v), True) for k, v in enumerate(level["hidden"], 1)]
    return cases


# ---------------------------------------------------------------- values


def to_device(value: Any, device: torch.device = DEVICE) -> Any:
    """Tensors moved to ``device`` (nested lists and tuples too); anything else as is."""
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, list | tuple):
        return type(value)(to_device(v, device) for v in value)
    return value


def clone(value: Any) -> Any:
    """Tensors cloned (nested lists and tuples too); anything else as is."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, list | tuple):
        return type(value)(clone(v) for v in value)
    return value


def to_double(value: Any) -> Any:
    """Floating-point tensors cast to float64 (nested lists and tuples too)."""
    if isinstance(value, torch.Tensor):
        return value.double() if value.is_floating_point() else value
    if isinstance(value, list | tuple):
        return type(value)(to_double(v) for v in value)
    return value


def same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Whether two tensors have the same dtype, shape and bytes (NaN equals NaN)."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.numel() == 0:
        return True
    flat_a = a.detach().contiguous().reshape(-1).view(torch.uint8)
    flat_b = b.detach().to(a.device).contiguous().reshape(-1).view(torch.uint8)
    return bool(torch.equal(flat_a, flat_b))


def flatten(value: Any, *, strict: bool) -> list[torch.Tensor]:
    """A forward's result as a list of tensors (a tensor, or nested tuples and lists of
    them; plain numbers become 0-d tensors).

    Args:
        value: what ``forward`` returned.
        strict: the candidate's side: only exact ``torch.Tensor`` objects (no subclasses,
            no numbers), so a lazy placeholder cannot pass for a result.

    Raises:
        CandidateError: ``strict`` and something else came back.
        ProblemError: not ``strict`` and the reference returned something unusable.
    """
    if isinstance(value, torch.Tensor):
        if strict and type(value) is not torch.Tensor:
            raise CandidateError(f"forward returned a {type(value).__name__}, not a torch.Tensor")
        return [value]
    if isinstance(value, list | tuple):
        return [t for item in value for t in flatten(item, strict=strict)]
    if not strict and isinstance(value, int | float | bool):
        return [torch.tensor(value)]
    kind = type(value).__name__
    if strict:
        raise CandidateError(f"forward returned a {kind}, not a tensor or tuple of tensors")
    raise ProblemError(f"Model.forward returned a {kind}, which the checks cannot compare")


def tolerance(spec: Mapping[str, Any], dtype: torch.dtype) -> tuple[float, float]:
    """``(rtol, atol)`` for outputs of ``dtype`` (integers and bools: exact)."""
    if not (dtype.is_floating_point or dtype.is_complex):
        return 0.0, 0.0
    name = str(dtype).removeprefix("torch.")
    rtol, atol = spec["tolerance"].get(name, spec["tolerance"]["float32"])
    return float(rtol), float(atol)


def _rms(ref: torch.Tensor) -> float:
    if ref.numel() == 0:
        return 0.0
    return float(torch.sqrt(torch.mean(ref.abs().double() ** 2)))


def _allowed(ref: torch.Tensor, rtol: float, atol: float, scale: float) -> torch.Tensor:
    return atol + rtol * (ref.abs() + scale)


def error_ratio(out: torch.Tensor, ref: torch.Tensor, rtol: float, atol: float) -> float:
    """The worst ``|out - ref| / allowed`` of one output (<= 1 passes; inf when a value
    is not finite)."""
    if out.numel() == 0:
        return 0.0
    o = out.detach().to(ref.device).double()
    if not bool(torch.isfinite(o).all()):
        return math.inf
    allowed = _allowed(ref, rtol, atol, _rms(ref))
    return float(((o - ref).abs() / allowed).max())


@dataclass
class Expected:
    """What one call must return: per output the reference (float64 for floating
    outputs), the dtype and shape of the float32 run, the scale (rms) and the widening
    factor of the tolerance, and the float32 run's own error ratio."""

    outputs: list[torch.Tensor]
    dtypes: list[torch.dtype]
    shapes: list[tuple[int, ...]]
    scales: list[float]
    widen: list[float]
    float32_ratios: list[float]
    float64: bool


class Reference:
    """``Model`` with fixed weights, in float32 and in float64, on ``DEVICE``."""

    def __init__(self, model: torch.nn.Module, spec: Mapping[str, Any]) -> None:
        self.spec = spec
        self.model = model.to(DEVICE)
        try:
            self.model64: torch.nn.Module | None = copy.deepcopy(self.model).double()
        except Exception:
            self.model64 = None

    def run(self, inputs: Sequence[Any], keep_on: torch.device = DEVICE) -> Expected:
        """Run the reference on (clones of) ``inputs``; results end up on ``keep_on``.

        Raises:
            ProblemError: the float32 reference itself raises or returns no tensors.
        """
        pin_precision()
        x = to_device(clone(list(inputs)))
        try:
            with torch.no_grad():
                out32 = flatten(self.model(*x), strict=False)
        except ProblemError:
            raise
        except Exception as exc:
            raise ProblemError(f"Model.forward raised {type(exc).__name__}: {exc}") from exc
        out64: list[torch.Tensor] | None = None
        if self.model64 is not None:
            try:
                with torch.no_grad():
                    out64 = flatten(self.model64(*to_double(to_device(clone(list(inputs))))),
                                    strict=False)  # fmt: skip
            except Exception:
                out64 = None
        usable = out64 is not None and len(out64) == len(out32) and all(
            (a.dtype == torch.float64) == a.is_floating_point() and a.shape == b.shape
            for a, b in zip(out64, out32, strict=True)
        )  # fmt: skip
        expected = Expected([], [], [], [], [], [], float64=usable)
        for i, o32 in enumerate(out32):
            floating = o32.is_floating_point()
            ref = o32
            if floating:  # float64 when the float64 run worked, else the float32 run's
                ref = out64[i] if usable and out64 is not None else o32.double()
            ref = ref.detach().to(keep_on)
            rtol, atol = tolerance(self.spec, o32.dtype)
            ratio = error_ratio(o32, ref, rtol, atol) if floating else 0.0
            expected.outputs.append(ref)
            expected.dtypes.append(o32.dtype)
            expected.shapes.append(tuple(o32.shape))
            expected.scales.append(_rms(ref) if floating else 0.0)
            expected.widen.append(max(1.0, WIDEN_MARGIN * ratio) if math.isfinite(ratio) else 1.0)
            expected.float32_ratios.append(ratio)
        return expected


def perturb(model: torch.nn.Module, seed: int) -> None:
    """Add seeded noise to every floating-point parameter (buffers stay as they are)."""
    generator = torch.Generator().manual_seed(2 * seed + 1)
    with torch.no_grad():
        for param in model.parameters():
            if not param.is_floating_point() or param.numel() == 0:
                continue
            scale = float(param.detach().abs().double().mean().cpu()) or 0.1
            noise = torch.randn(param.shape, generator=generator, dtype=torch.float64)
            param.add_((noise * (WEIGHT_NOISE * scale)).to(param.dtype).to(param.device))


def build_reference(
    module: ModuleType, overrides: Mapping[str, Any], seed: int
) -> tuple[torch.nn.Module, list[Any]]:
    """``Model`` at these sizes with seeded, perturbed weights, on the CPU, and its
    constructor arguments.

    Raises:
        ProblemError: ``get_init_inputs()`` or ``Model(...)`` raises.
    """
    try:
        with sizes(module, overrides):
            torch.manual_seed(seed)
            init = list(module.get_init_inputs())
            torch.manual_seed(seed)
            model = module.Model(*clone(init))
    except Exception as exc:
        raise ProblemError(f"building Model raised {type(exc).__name__}: {exc}") from exc
    perturb(model, seed)
    return model, init


def make_inputs(module: ModuleType, overrides: Mapping[str, Any], seed: int) -> list[Any]:
    """``get_inputs()`` at these sizes, seeded (on the CPU, as the problem makes them).

    Raises:
        ProblemError: ``get_inputs()`` raises.
    """
    try:
        with sizes(module, overrides):
            torch.manual_seed(seed + INPUT_SEED_OFFSET)
            return list(module.get_inputs())
    except Exception as exc:
        raise ProblemError(f"get_inputs() raised {type(exc).__name__}: {exc}") from exc


# ---------------------------------------------------------------- the candidate


def build_candidate(
    cls: type[Any], init: Sequence[Any], state: Mapping[str, torch.Tensor], seed: int,
    training: bool,
) -> torch.nn.Module:  # fmt: skip
    """``ModelNew(*init)`` holding the reference's ``state``, on ``DEVICE``.

    Raises:
        CandidateError: it cannot be built, its parameters and buffers differ from the
            reference's (names, shapes, dtypes), or after loading it does not hold them.
    """
    try:
        torch.manual_seed(seed + CANDIDATE_SEED_OFFSET)  # its own init differs from Model's
        model = cls(*clone(list(init)))
    except Exception as exc:
        raise CandidateError(f"ModelNew(...) raised {type(exc).__name__}", str(exc)) from exc
    if not isinstance(model, torch.nn.Module):
        raise CandidateError("ModelNew(...) is not a torch.nn.Module")
    hint = (
        "ModelNew must keep Model's parameters and buffers (same names, shapes and dtypes): "
        "the tests load the reference's weights into it"
    )
    try:
        found = model.load_state_dict(dict(state), strict=False)
    except Exception as exc:
        raise CandidateError(f"load_state_dict failed; {hint}", str(exc)) from exc
    if found.missing_keys or found.unexpected_keys:
        parts = []
        if found.missing_keys:
            parts.append(f"ModelNew has {', '.join(found.missing_keys)}, which Model has not")
        if found.unexpected_keys:
            parts.append(f"Model has {', '.join(found.unexpected_keys)}, which ModelNew has not")
        raise CandidateError(f"{'; '.join(parts)}. {hint}")
    model = model.to(DEVICE)
    model.train(training)
    now = model.state_dict()
    for name, tensor in state.items():
        if not same_bits(now[name].detach(), tensor.to(now[name].device)):
            raise CandidateError(
                f"after load_state_dict, ModelNew's {name} ({now[name].dtype}) does not hold "
                f"the reference's values ({tensor.dtype}); {hint}"
            )
    return model


def poison_allocator(expected: Expected) -> None:
    """Hand the allocator blocks of the outputs' sizes filled with NaN bytes, so that an
    output the candidate allocates but never writes holds garbage, not a stale result."""
    blocks = []
    for ref, dtype in zip(expected.outputs, expected.dtypes, strict=True):
        nbytes = ref.numel() * torch.empty((), dtype=dtype).element_size()
        if nbytes:
            blocks.append(torch.full((nbytes,), 0xFF, dtype=torch.uint8, device=DEVICE))
    del blocks


def call(model: torch.nn.Module, inputs: Sequence[Any], expected: Expected) -> list[torch.Tensor]:
    """One candidate call on a poisoned allocator, synchronised; its outputs.

    Raises:
        CandidateError: forward raises or returns something other than tensors.
    """
    poison_allocator(expected)
    try:
        with torch.no_grad():
            result = model(*inputs)
        if DEVICE.type == "cuda":
            torch.cuda.synchronize()
    except CandidateError:
        raise
    except Exception as exc:
        raise CandidateError(f"forward raised {type(exc).__name__}", str(exc)) from exc
    return flatten(result, strict=True)


def _index(shape: Sequence[int], flat: int) -> str:
    index = []
    for size in reversed(shape):
        index.append(flat % size if size else 0)
        flat //= size if size else 1
    return "[" + ", ".join(str(i) for i in reversed(index)) + "]"


def compare(
    outputs: Sequence[torch.Tensor], expected: Expected, spec: Mapping[str, Any], *,
    hidden: bool = False,
) -> str | None:  # fmt: skip
    """Check outputs against the expected ones; None when they pass, else one line.

    With ``hidden`` the line names no shape, size or index (test failures are feedback
    the Coder reads, and these sizes are not shown to it).
    """
    if len(outputs) != len(expected.outputs):
        return f"forward returned {len(outputs)} tensors, the reference {len(expected.outputs)}"
    for i, (out, ref) in enumerate(zip(outputs, expected.outputs, strict=True)):
        name = "the output" if len(outputs) == 1 else f"output {i}"
        dtype, shape = expected.dtypes[i], expected.shapes[i]
        if out.dtype != dtype:
            return f"{name} is {out.dtype}, the reference's {dtype}"
        if tuple(out.shape) != shape:
            if hidden:
                return f"{name} has the wrong shape"
            return f"{name} has shape {tuple(out.shape)}, the reference's {shape}"
        if out.numel() == 0:
            continue
        o = out.detach().to(ref.device)
        if not (dtype.is_floating_point or dtype.is_complex):
            wrong = o != ref
            count = int(wrong.sum())
            if count:
                worst = int(torch.nonzero(wrong.reshape(-1))[0])
                where = "" if hidden else f"; first {_index(shape, worst)}"
                return (
                    f"{name}: {count} of {o.numel()} values differ from the reference{where} "
                    f"= {o.reshape(-1)[worst].item()}, reference {ref.reshape(-1)[worst].item()} "
                    "(integers must be exact)"
                )
            continue
        rtol, atol = tolerance(spec, dtype)
        o64 = o.double()
        err = (o64 - ref).abs()
        allowed = _allowed(ref, rtol, atol, expected.scales[i]) * expected.widen[i]
        finite = torch.isfinite(o64)
        bad = ~(err <= allowed) | ~finite
        count = int(bad.sum())
        if not count:
            continue
        badness = torch.where(finite, err - allowed, torch.full_like(err, math.inf))
        badness = torch.where(bad, badness, torch.full_like(err, -math.inf))
        worst = int(torch.argmax(badness.reshape(-1)))
        value = float(o64.reshape(-1)[worst])
        reference = float(ref.reshape(-1)[worst])
        limit = float(allowed.reshape(-1)[worst])
        head = f"{name}: {count}" + ("" if hidden else f" of {o.numel()}") + " elements wrong"
        where = "" if hidden else f" {_index(shape, worst)}"
        if not math.isfinite(value):
            return f"{head}; worst{where} = {value} is not finite (reference {reference:.9g})"
        return (
            f"{head}; worst{where} = {value:.9g}, reference {reference:.9g} "
            f"(|diff| {abs(value - reference):.3g} > allowed {limit:.3g})"
        )
    return None


# ---------------------------------------------------------------- test cases


@dataclass
class Case:
    """One seed at one set of sizes, computed before the candidate is imported: the
    constructor arguments, the reference's state, the inputs (all on the CPU) and what
    the reference returned."""

    label: str
    seed: int
    hidden: bool
    init: list[Any]
    state: dict[str, torch.Tensor]
    training: bool
    inputs: list[Any]
    expected: Expected
    problem: str | None = None  # why the reference cannot run this case
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.label}-seed{self.seed}"


def make_case(module: ModuleType, spec: Mapping[str, Any], size: SizeCase, seed: int) -> Case:
    """Run the reference for one case; a case the reference cannot run records why."""
    empty = Expected([], [], [], [], [], [], float64=False)
    try:
        model, init = build_reference(module, size.overrides, seed)
        inputs = make_inputs(module, size.overrides, seed)
        expected = Reference(model, spec).run(inputs, keep_on=torch.device("cpu"))
    except ProblemError as exc:
        return Case(size.label, seed, size.hidden, [], {}, True, [], empty, problem=str(exc))
    state = {k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()}
    return Case(size.label, seed, size.hidden, init, state, model.training, inputs, expected)


def _where(case: Case) -> str:
    return "at a size that is not shown" if case.hidden else "at the problem's sizes"


def check_case(cls: type[Any], case: Case, spec: Mapping[str, Any]) -> str | None:
    """Build ModelNew for ``case`` and call it once: outputs, inputs, parameters."""
    try:
        model = build_candidate(cls, case.init, case.state, case.seed, case.training)
        x = to_device(clone(case.inputs))
        before = clone(x)
        params = {k: v.detach().clone() for k, v in model.named_parameters()}
        outputs = call(model, x, case.expected)
    except CandidateError as exc:
        return f"{exc.text(case.hidden)} ({_where(case)}, seed {case.seed})"
    reason = compare(outputs, case.expected, spec, hidden=case.hidden)
    if reason is None:
        for i, (now, then) in enumerate(zip(_tensors(x), _tensors(before), strict=True)):
            if not same_bits(now, then):
                reason = f"forward changed its input tensor {i}"
                break
    if reason is None:
        for name, value in model.named_parameters():
            if name in params and not same_bits(value, params[name]):
                reason = f"forward changed the parameter {name}"
                break
    return None if reason is None else f"{reason} ({_where(case)}, seed {case.seed})"


def check_same_address(
    cls: type[Any], first: Case, second: Case, spec: Mapping[str, Any]
) -> str | None:
    """Call once, then copy another seed's weights and inputs into the same tensors
    (``load_state_dict`` copies in place) and call again: the second result must be the
    second case's, so nothing may be cached by address."""
    try:
        model = build_candidate(cls, first.init, first.state, first.seed, first.training)
        x = to_device(clone(first.inputs))
        outputs = call(model, x, first.expected)
    except CandidateError as exc:
        return f"first call: {exc.text(first.hidden)} ({_where(first)})"
    reason = compare(outputs, first.expected, spec, hidden=first.hidden)
    if reason:
        return f"first call: {reason} ({_where(first)})"
    with torch.no_grad():
        model.load_state_dict({k: v.to(DEVICE) for k, v in second.state.items()})
        for old, new in zip(_tensors(x), _tensors(second.inputs), strict=True):
            old.copy_(new)
    try:
        outputs = call(model, x, second.expected)
    except CandidateError as exc:
        return (
            "second call, same tensors with new contents: "
            f"{exc.text(second.hidden)} ({_where(second)})"
        )
    reason = compare(outputs, second.expected, spec, hidden=second.hidden)
    if reason:
        return f"second call, same tensors with new contents: {reason} ({_where(second)})"
    return None


def check_repeat(cls: type[Any], case: Case, spec: Mapping[str, Any]) -> str | None:
    """The same inputs twice (the allocator poisoned before each call): both right."""
    try:
        model = build_candidate(cls, case.init, case.state, case.seed, case.training)
        x = to_device(clone(case.inputs))
        for attempt in (1, 2):
            reason = compare(call(model, x, case.expected), case.expected, spec,
                             hidden=case.hidden)  # fmt: skip
            if reason:
                return f"call {attempt} of 2 on the same inputs: {reason} ({_where(case)})"
    except CandidateError as exc:
        return f"{exc.text(case.hidden)} ({_where(case)})"
    return None


def same_shapes(first: Case, second: Case) -> bool:
    """Whether two cases' inputs and states have the same shapes and dtypes."""
    a = [(t.shape, t.dtype) for t in _tensors(first.inputs)]
    b = [(t.shape, t.dtype) for t in _tensors(second.inputs)]
    sa = {k: (v.shape, v.dtype) for k, v in first.state.items()}
    sb = {k: (v.shape, v.dtype) for k, v in second.state.items()}
    return a == b and sa == sb


# ---------------------------------------------------------------- the workload


_POSITIONS: dict[tuple[int, int, str], torch.Tensor] = {}


def positions(size: int, count: int, device: torch.device) -> torch.Tensor:
    """``count`` evenly spaced flat indices into ``size`` elements, first and last included."""
    key = (size, count, str(device))
    if key not in _POSITIONS:
        spots = torch.linspace(0, max(size - 1, 0), count, dtype=torch.float64)
        _POSITIONS[key] = spots.round().to(torch.int64).to(device)
    return _POSITIONS[key]


def fingerprint(outputs: Sequence[torch.Tensor]) -> dict[str, list[float]]:
    """A small float64 summary of each output, compared across runs by the output gate.

    Per output: the sum and the absolute sum of ``FINGERPRINT_SAMPLE`` evenly spaced
    elements (all of them in smaller outputs), then ``FINGERPRINT_VALUES`` values at fixed
    positions. It reads a bounded sample inside the timed call (a full pass would cost as
    much as a memory-bound kernel); every element of every timed call is still compared
    with the float64 reference by the workload's next ``setup()``, untimed.
    """
    result: dict[str, list[float]] = {}
    for i, out in enumerate(outputs):
        flat = out.detach().reshape(-1)
        if flat.numel() == 0:
            result[f"out{i}"] = []
            continue
        sample = flat[positions(flat.numel(), min(flat.numel(), FINGERPRINT_SAMPLE), flat.device)]
        values = flat[positions(flat.numel(), FINGERPRINT_VALUES, flat.device)]
        sample, values = sample.double(), values.double()
        summary = torch.cat((sample.sum().reshape(1), sample.abs().sum().reshape(1), values))
        result[f"out{i}"] = [float(v) for v in summary.cpu().tolist()]
    return result
