"""Build, bind, poison, hash and compare the C kernel in ``kernel.c``.

Part of a generated kernel repository (protected: the only file a candidate may change is
``kernel.c``). It runs with the target's Python and needs only the standard library and
NumPy. ``tests/test_kernel.py`` and ``perfsmith_workload.py`` both use it.

- ``build`` compiles ``kernel.c`` with ``$CC`` (default ``cc``) and ``CFLAGS`` to an object
  file, then links a shared library, in ``.kernel-build/<sha256>/`` (the digest covers the
  source and both command lines). A file lock makes parallel processes build once.
- ``mutable_state`` lists the writable data of the object file: symbols ``nm`` types as
  ``b B d D`` (function-local ``static`` variables included) or ``C``, weak objects in
  writable sections, and writable sections holding bytes that no symbol names (data placed
  by inline assembly). A kernel must be a pure function of its arguments.
- ``Kernel`` binds the function with ctypes from ``tests/kernel_spec.json`` and calls it on
  NumPy arrays; outputs are C-contiguous, of the reference's shapes and the declared dtype,
  and poisoned before each call (NaN or a large value for floats, a byte pattern for ints).
- The ``check_*`` functions are the correctness checks; each returns None when the kernel
  passes, else a one-line reason.
"""

from __future__ import annotations

import ctypes
import fcntl
import hashlib
import importlib.util
import inspect
import json
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SOURCE_NAME = "kernel.c"
SPEC_NAME = "kernel_spec.json"
REFERENCE_NAME = "kernel_reference.py"
BUILD_DIR = ".kernel-build"
LIB_NAME = "libkernel.so"
CFLAGS = ("-g", "-O3", "-march=native", "-fopenmp", "-fPIC", "-std=c11")
LDFLAGS = ("-shared", "-fopenmp")
LIBS = ("-lm",)
BUILD_TIMEOUT_S = 600
NUMPY_DTYPES = {
    "float32": np.float32,
    "float64": np.float64,
    "int32": np.int32,
    "int64": np.int64,
    "uint8": np.uint8,
    "uint32": np.uint32,
}
CTYPES = {
    "float32": ctypes.c_float,
    "float64": ctypes.c_double,
    "int32": ctypes.c_int32,
    "int64": ctypes.c_int64,
    "uint8": ctypes.c_uint8,
    "uint32": ctypes.c_uint32,
}
# Three poisons, so that no rule such as fmax(out, v), out += v or "write only where the
# value is not already right" can pass them all.
POISON_FLOATS = (math.nan, 1.0e30, -1.0e30)
POISON_BYTES = (0xA5, 0x5A, 0xFF)
WRITABLE_SYMBOL_TYPES = frozenset("bBdDC")
COMPARE_CHUNK = 1 << 14  # float64 temporaries of 128 KiB stay in the L2 cache
FINGERPRINT_VALUES = 16
FINGERPRINT_SAMPLE = 4096
_POSITIONS: dict[tuple[int, int], np.ndarray] = {}
_SECTION = re.compile(
    r"^\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+[0-9a-fA-F]+\s+[0-9a-fA-F]+\s+([0-9a-fA-F]+)"
    r"\s+[0-9a-fA-F]+\s+([A-Za-z]*)\s+\d+"
)


class BuildError(RuntimeError):
    """kernel.c does not compile or link, or lacks the function."""


class StateError(RuntimeError):
    """The kernel's object file defines writable data: state kept between calls."""


class KernelMismatch(AssertionError):
    """A kernel call gave a wrong result."""


class Build(NamedTuple):
    """A built kernel: the source copy, the object file and the shared library."""

    source: Path
    obj: Path
    lib: Path
    digest: str


def compiler() -> list[str]:
    """The C compiler's command: ``$CC`` split like a shell would, else ``cc``, else ``gcc``
    (a container built from package files has ``gcc`` but not the ``cc`` alternative)."""
    if os.environ.get("CC"):
        return shlex.split(os.environ["CC"])
    return ["cc" if shutil.which("cc") or not shutil.which("gcc") else "gcc"]


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def build(root: Path = ROOT, *, source_name: str = SOURCE_NAME) -> Build:
    """Compile ``root/kernel.c`` once into ``root/.kernel-build/<sha256>/``.

    The source is copied into the build folder first, so the library is built from
    exactly the bytes that were hashed.

    Raises:
        BuildError: the source is unreadable, the compiler is missing, or compiling or
            linking fails (the message carries the compiler's output).
    """
    source = Path(root) / source_name
    try:
        text = source.read_bytes()
    except OSError as exc:
        raise BuildError(f"cannot read {source}: {exc.strerror}") from exc
    cc = compiler()
    compile_argv = [*cc, *CFLAGS, "-c", "kernel.c", "-o", "kernel.o"]
    link_argv = [*cc, *LDFLAGS, "kernel.o", "-o", LIB_NAME, *LIBS]
    digest = hashlib.sha256(
        text + b"\0" + "\0".join([*compile_argv, *link_argv]).encode("utf-8")
    ).hexdigest()
    base = Path(root) / BUILD_DIR
    final = base / digest
    result = Build(final / "kernel.c", final / "kernel.o", final / LIB_NAME, digest)
    if result.lib.is_file():
        return result
    base.mkdir(exist_ok=True)
    with _locked(base / ".lock"):
        if result.lib.is_file():  # another process built it while this one waited
            return result
        shutil.rmtree(final, ignore_errors=True)
        scratch = base / f"{digest}.tmp-{os.getpid()}"
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir()
        (scratch / "kernel.c").write_bytes(text)
        try:
            for argv in (compile_argv, link_argv):
                _run_compiler(argv, scratch)
            # Renamed into place whole: a reader never sees a half-written library.
            os.replace(scratch, final)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return result


def _run_compiler(argv: list[str], cwd: Path) -> None:
    command = " ".join(shlex.quote(a) for a in argv)
    try:
        res = subprocess.run(
            argv, cwd=cwd, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, check=False
        )
    except FileNotFoundError as exc:
        raise BuildError(f"the C compiler {argv[0]!r} is not installed (set CC)") from exc
    except subprocess.TimeoutExpired as exc:
        raise BuildError(f"{command} took more than {BUILD_TIMEOUT_S} s") from exc
    if res.returncode != 0:
        output = (res.stdout + res.stderr).strip()
        raise BuildError(f"{command} failed (exit code {res.returncode}):\n{output}")


def _tool(name: str, *args: str) -> str:
    env = {**os.environ, "LC_ALL": "C"}
    try:
        res = subprocess.run(
            [name, *args], capture_output=True, text=True, timeout=120, check=False, env=env
        )
    except FileNotFoundError as exc:
        raise BuildError(f"{name} (binutils) is needed to inspect the kernel") from exc
    if res.returncode != 0:
        raise BuildError(f"{name} {' '.join(args)} failed: {res.stderr.strip()}")
    return res.stdout


def _writable_sections(obj: Path) -> dict[str, int]:
    """Allocated, writable sections of an object file and their sizes in bytes."""
    sections: dict[str, int] = {}
    for line in _tool("readelf", "-S", "-W", str(obj)).splitlines():
        match = _SECTION.match(line)
        if match and "W" in match.group(3) and "A" in match.group(3):
            sections[match.group(1)] = int(match.group(2), 16)
    return sections


def mutable_state(obj: Path, allow: Callable[[str, str], bool] | None = None) -> list[str]:
    """Writable data defined by an object file, one description per symbol or section.

    Args:
        obj: the compiled ``kernel.o`` (an object file, so every symbol in it is the
            kernel's own: there is no C runtime to ignore).
        allow: called as ``allow(symbol, section)`` for each writable symbol and as
            ``allow("", section)`` for each writable section that no symbol names; True
            leaves it out (a compiler's own data, e.g. nvcc's registration handles).

    Returns:
        e.g. ``["counter (b, .bss)", "section .data: 8 bytes that no symbol names"]``; empty
        when the kernel keeps no state.
    """
    writable = _writable_sections(obj)
    found: list[str] = []
    named: set[str] = set()
    for line in _tool("nm", "-f", "sysv", "--defined-only", str(obj)).splitlines():
        fields = [f.strip() for f in line.split("|")]
        if len(fields) < 7 or not fields[2] or fields[0] == "Name":
            continue
        name, kind, section = fields[0], fields[2], fields[6]
        if kind in WRITABLE_SYMBOL_TYPES or (kind in "vV" and section in writable):
            named.add(section)
            if allow is None or not allow(name, section):
                found.append(f"{name} ({kind}, {section})")
    for section, size in sorted(writable.items()):
        if size and section not in named and (allow is None or not allow("", section)):
            found.append(f"section {section}: {size} bytes that no symbol names")
    return found


def state_message(found: Sequence[str]) -> str:
    """The failure text for writable data found by ``mutable_state``."""
    return (
        f"kernel.c keeps state between calls: writable data {', '.join(found)}. A kernel "
        "must be a pure function of its arguments: remove static and global variables "
        "(read-only tables of numbers may be static const)."
    )


def load_spec(root: Path = ROOT) -> dict[str, Any]:
    """The task's ``tests/kernel_spec.json``."""
    with open(Path(root) / "tests" / SPEC_NAME, encoding="utf-8") as f:
        spec: dict[str, Any] = json.load(f)
    return spec


def load_module(path: Path, prefix: str) -> ModuleType:
    """Import a file by path under a name unique to that path (NumPy and stdlib only)."""
    path = Path(path).resolve()
    name = f"{prefix}_{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def load_reference(root: Path = ROOT) -> ModuleType:
    """The task's ``reference.py`` (``make_inputs`` and ``reference``)."""
    return load_module(Path(root) / "tests" / REFERENCE_NAME, "kernel_reference")


def load_kernel(root: Path = ROOT, *, check_state: bool = True) -> Kernel:
    """Build (once), check and bind the kernel of the repository at ``root``.

    Args:
        root: the repository (``kernel.c`` and ``tests/``).
        check_state: reject an object file with writable data (``StateError``). The
            tests check state in a test of its own and pass False here so the other checks
            still report what they see.

    Raises:
        BuildError: compiling or linking fails, or the function is missing.
        StateError: ``check_state`` and the kernel defines writable data.
    """
    built = build(root)
    if check_state:
        found = mutable_state(built.obj)
        if found:
            raise StateError(state_message(found))
    return Kernel(built, load_spec(root), load_reference(root))


def rng(seed: int | Sequence[int]) -> np.random.Generator:
    """The generator ``make_inputs`` gets for one seed (or a seed sequence)."""
    return np.random.default_rng(seed)


def input_hash(arr: np.ndarray) -> str:
    """sha256 of an array's dtype, shape and bytes."""
    digest = hashlib.sha256(f"{arr.dtype.str}{arr.shape}".encode())
    if arr.size:
        digest.update(np.ascontiguousarray(arr).data.cast("B"))
    return digest.hexdigest()


def poison(arr: np.ndarray, variant: int = 0) -> None:
    """Fill an output buffer with a value no correct kernel leaves there.

    Floats get NaN, 1e30 or -1e30; integers the bytes 0xA5, 0x5A or 0xFF (a correct value
    may equal one pattern, never all three), by ``variant`` (0, 1, 2).
    """
    if arr.dtype.kind == "f":
        arr.fill(POISON_FLOATS[variant % len(POISON_FLOATS)])
    else:
        arr.reshape(-1).view(np.uint8).fill(POISON_BYTES[variant % len(POISON_BYTES)])


def _index(shape: tuple[int, ...], flat: int) -> str:
    return "[" + ", ".join(str(int(i)) for i in np.unravel_index(flat, shape)) + "]"


def _num(x: Any) -> str:
    return f"{x:.9g}" if isinstance(x, float) else str(x)


def _chunk_badness(
    o: np.ndarray, r: np.ndarray, rtol: float, atol: float, exact: bool
) -> tuple[np.ndarray, np.ndarray] | None:
    """None when every element of one chunk passes; else which fail and a score ranking
    them (higher is worse)."""
    if exact:
        o64, r64 = o.astype(np.int64), r.astype(np.int64, copy=False)
        bad = o64 != r64
        if not bad.any():
            return None
        return bad, np.where(bad, np.abs(o64.astype(np.float64) - r64.astype(np.float64)), -1.0)
    r64 = r.astype(np.float64, copy=False)
    with np.errstate(invalid="ignore", over="ignore"):
        err = o.astype(np.float64)
        np.subtract(err, r64, out=err)
        np.abs(err, out=err)
        allowed = np.abs(r64)
        allowed *= rtol
        allowed += atol
        ok = err <= allowed  # False for NaN and, against a finite reference, for inf
        ok &= np.isfinite(o)
        if ok.all():
            return None
        bad = ~ok
        score = np.where(bad, np.where(np.isfinite(err), err - allowed, np.inf), -np.inf)
    return bad, score


def check_output(out: np.ndarray, ref: np.ndarray, rtol: float, atol: float) -> str | None:
    """Compare one output with its reference by NumPy's allclose rule, in float64.

    An element passes when it is finite and ``|out - ref| <= atol + rtol * |ref|``;
    with both tolerances 0 and integer arrays the comparison is exact, in integers.
    Large arrays are compared in chunks, so the temporaries stay small.

    Returns:
        None when every element passes; otherwise one line naming how many fail and the
        worst element: its index, value and reference.
    """
    out, ref = np.asarray(out), np.asarray(ref)
    if out.shape != ref.shape:
        return f"shape {out.shape} differs from the reference's {ref.shape}"
    exact = rtol == 0 and atol == 0 and out.dtype.kind in "iu" and ref.dtype.kind in "iub"
    o, r = out.reshape(-1), ref.reshape(-1)
    count, worst, worst_score = 0, -1, -math.inf
    for start in range(0, o.size, COMPARE_CHUNK):
        part = slice(start, start + COMPARE_CHUNK)
        chunk = _chunk_badness(o[part], r[part], rtol, atol, exact)
        if chunk is None:
            continue
        bad, score = chunk
        count += int(np.count_nonzero(bad))
        best = int(np.argmax(score))
        if worst < 0 or score[best] > worst_score:
            worst, worst_score = start + best, float(score[best])
    if not count:
        return None
    where = _index(out.shape, worst)
    if exact:
        return (
            f"{count} of {out.size} elements wrong; worst {where} = {int(o[worst])}, "
            f"reference {int(r[worst])} (integers must be exact)"
        )
    value, expected = float(o[worst]), float(r[worst])
    head = f"{count} of {out.size} elements wrong; worst {where} = {_num(value)}"
    if not math.isfinite(value):
        return f"{head} is not finite (reference {_num(expected)})"
    limit = atol + rtol * abs(expected)
    return f"{head}, reference {_num(expected)} (|diff| {abs(value - expected):.3g} > {limit:.3g})"


def size_names(spec: Mapping[str, Any]) -> list[str]:
    """The size arguments' names, in signature order."""
    return [a["name"] for a in spec["args"] if a["role"] == "size"]


def shape_id(spec: Mapping[str, Any], sizes: Mapping[str, int]) -> str:
    """``37x1531``: the sizes in signature order."""
    return "x".join(str(sizes[name]) for name in size_names(spec))


def shapes(spec: Mapping[str, Any]) -> list[tuple[str, dict[str, int]]]:
    """Every checked shape as ``(kind, sizes)``: the visible ones, then the hidden ones."""
    names = size_names(spec)
    out = [("visible", {n: int(s[n]) for n in names}) for s in spec["visible"]]
    return out + [("hidden", {n: int(s[n]) for n in names}) for s in spec.get("hidden", [])]


def other_seed(spec: Mapping[str, Any], seed: int) -> int:
    """A seed different from ``seed``: the next one of the spec, else ``seed + 1``."""
    return next((int(s) for s in spec["seeds"] if int(s) != seed), seed + 1)


class Kernel:
    """The kernel function bound with ctypes, with its spec and reference."""

    def __init__(self, built: Build, spec: Mapping[str, Any], reference: ModuleType) -> None:
        self.build, self.spec, self.reference = built, spec, reference
        self.args: list[dict[str, Any]] = list(spec["args"])
        self.rtol, self.atol = float(spec["rtol"]), float(spec["atol"])
        self.library = ctypes.CDLL(str(built.lib))
        try:
            function = getattr(self.library, spec["function"])
        except AttributeError as exc:
            raise BuildError(
                f"kernel.c defines no function {spec['function']}; it must define "
                f"{spec['signature']}"
            ) from exc
        function.argtypes = [self._ctype(a) for a in self.args]
        function.restype = None
        self.function = function
        self.inputs = [a["name"] for a in self.args if a["role"] == "in"]
        self.outputs = [a["name"] for a in self.args if a["role"] == "out"]
        self.scalars = {a["name"]: a["value"] for a in self.args if a["role"] == "scalar"}

    @staticmethod
    def _ctype(arg: Mapping[str, Any]) -> Any:
        if arg["role"] in ("in", "out"):
            return ctypes.c_void_p
        if arg["role"] == "size":
            return ctypes.c_int64
        return CTYPES[arg["dtype"]]

    def _dtype(self, name: str) -> np.dtype[Any]:
        arg = next(a for a in self.args if a["name"] == name)
        return np.dtype(NUMPY_DTYPES[arg["dtype"]])

    def _kwargs(self, function: Any, sizes: Mapping[str, int]) -> dict[str, Any]:
        # Scalars reach make_inputs/reference only when they name a parameter of theirs.
        params = inspect.signature(function).parameters
        extra = {k: v for k, v in self.scalars.items() if k in params}
        return {**{k: int(v) for k, v in sizes.items()}, **extra}

    def make_inputs(
        self, generator: np.random.Generator, sizes: Mapping[str, int]
    ) -> dict[str, np.ndarray]:
        """The reference's inputs for one shape, checked for dtype and C order."""
        made = self.reference.make_inputs(
            generator, **self._kwargs(self.reference.make_inputs, sizes)
        )
        if not isinstance(made, dict) or sorted(made) != sorted(self.inputs):
            got = sorted(made) if isinstance(made, dict) else type(made).__name__
            raise TypeError(f"make_inputs returned {got}, not one array per input {self.inputs}")
        for name in self.inputs:
            arr, dtype = made[name], self._dtype(name)
            if not isinstance(arr, np.ndarray) or arr.dtype != dtype:
                raise TypeError(f"make_inputs: {name} must be a {dtype} ndarray")
            if not arr.flags.c_contiguous or not arr.flags.writeable:
                raise TypeError(f"make_inputs: {name} must be C-contiguous and writeable")
        return {name: made[name] for name in self.inputs}

    def expected(
        self, inputs: Mapping[str, np.ndarray], sizes: Mapping[str, int]
    ) -> dict[str, np.ndarray]:
        """The float64 (integers: exact) reference outputs, computed on copies of the inputs."""
        copies = {k: v.copy() for k, v in inputs.items()}
        got = self.reference.reference(**copies, **self._kwargs(self.reference.reference, sizes))
        if not isinstance(got, dict) or any(name not in got for name in self.outputs):
            raise TypeError(f"reference() must return a dict with {self.outputs}")
        result = {}
        for name in self.outputs:
            ref = np.asarray(got[name])
            result[name] = ref if ref.dtype.kind in "iub" else ref.astype(np.float64)
        return result

    def allocate(
        self, expected: Mapping[str, np.ndarray], variant: int = 0
    ) -> dict[str, np.ndarray]:
        """Fresh, poisoned output buffers of the reference's shapes and the declared dtypes."""
        outputs = {}
        for name in self.outputs:
            buffer = np.empty(np.shape(expected[name]), dtype=self._dtype(name), order="C")
            poison(buffer, variant)
            outputs[name] = buffer
        return outputs

    def run(
        self,
        inputs: Mapping[str, np.ndarray],
        outputs: Mapping[str, np.ndarray],
        sizes: Mapping[str, int],
    ) -> None:
        """Call the kernel once on the given buffers (nothing is allocated or checked)."""
        values: list[Any] = []
        for arg in self.args:
            name, role = arg["name"], arg["role"]
            if role in ("in", "out"):
                arr = inputs[name] if role == "in" else outputs[name]
                if not arr.flags.c_contiguous or arr.dtype != self._dtype(name):
                    raise TypeError(f"{name} must be a C-contiguous {self._dtype(name)} array")
                values.append(arr.ctypes.data)
            elif role == "size":
                values.append(int(sizes[name]))
            else:
                values.append(arg["value"])
        self.function(*values)

    def call(
        self,
        inputs: Mapping[str, np.ndarray],
        sizes: Mapping[str, int],
        *,
        expected: Mapping[str, np.ndarray] | None = None,
        variant: int = 0,
    ) -> dict[str, np.ndarray]:
        """Allocate poisoned outputs of ``expected``'s shapes (default: the reference's), call."""
        if expected is None:
            expected = self.expected(inputs, sizes)
        outputs = self.allocate(expected, variant)
        self.run(inputs, outputs, sizes)
        return outputs

    def compare(
        self, outputs: Mapping[str, np.ndarray], expected: Mapping[str, np.ndarray]
    ) -> str | None:
        """None when every output has the declared dtype and shape and is within tolerance."""
        for name in self.outputs:
            out, ref = outputs[name], expected[name]
            if out.dtype != self._dtype(name):
                return f"{name}: dtype {out.dtype}, declared {self._dtype(name)}"
            reason = check_output(out, ref, self.rtol, self.atol)
            if reason:
                return f"{name}: {reason}"
        return None


def _sizes_text(sizes: Mapping[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sizes.items())


def check_inputs_unchanged(kernel: Kernel, sizes: Mapping[str, int], seed: int) -> str | None:
    """Hash every input before and after one call; a kernel must not write its inputs."""
    inputs = kernel.make_inputs(rng(seed), sizes)
    expected = kernel.expected(inputs, sizes)
    before = {k: input_hash(v) for k, v in inputs.items()}
    kernel.call(inputs, sizes, expected=expected)
    changed = [k for k, v in inputs.items() if input_hash(v) != before[k]]
    if changed:
        return (
            f"the kernel wrote its input {', '.join(changed)} ({_sizes_text(sizes)}, seed {seed}): "
            "inputs are read-only"
        )
    return None


def check_case(kernel: Kernel, sizes: Mapping[str, int], seed: int) -> str | None:
    """One call with NaN-poisoned outputs: dtype, shape, finite and within tolerance."""
    inputs = kernel.make_inputs(rng(seed), sizes)
    expected = kernel.expected(inputs, sizes)
    outputs = kernel.call(inputs, sizes, expected=expected)
    reason = kernel.compare(outputs, expected)
    return f"{reason} ({_sizes_text(sizes)}, seed {seed})" if reason else None


def check_same_address(
    kernel: Kernel, sizes: Mapping[str, int], seed: int, second: int
) -> str | None:
    """Call, overwrite the inputs in place with seed ``second``'s data, call again.

    The second call gets the same input and output addresses and must match the new
    reference: a cache keyed on addresses returns the old result.
    """
    inputs = kernel.make_inputs(rng(seed), sizes)
    first = kernel.expected(inputs, sizes)
    outputs = kernel.allocate(first)
    kernel.run(inputs, outputs, sizes)
    reason = kernel.compare(outputs, first)
    if reason:
        return f"first call ({_sizes_text(sizes)}, seed {seed}): {reason}"
    fresh = kernel.make_inputs(rng(second), sizes)
    new = kernel.expected(fresh, sizes)
    for name, arr in inputs.items():
        np.copyto(arr, fresh[name])
    for arr in outputs.values():
        poison(arr)
    kernel.run(inputs, outputs, sizes)
    reason = kernel.compare(outputs, new)
    if reason is None:
        return None
    stale = kernel.compare(outputs, first) is None
    return (
        f"after the inputs were overwritten in place with seed {second}'s data "
        f"({_sizes_text(sizes)}): {reason}"
        + ("; the output is the previous call's (a cache keyed on addresses?)" if stale else "")
    )


def check_repeat(kernel: Kernel, sizes: Mapping[str, int], seed: int) -> str | None:
    """The same inputs three times, outputs poisoned differently: correct every time."""
    inputs = kernel.make_inputs(rng(seed), sizes)
    expected = kernel.expected(inputs, sizes)
    outputs = kernel.allocate(expected)
    for variant in range(len(POISON_FLOATS)):
        for arr in outputs.values():
            poison(arr, variant)
        kernel.run(inputs, outputs, sizes)
        reason = kernel.compare(outputs, expected)
        if reason:
            return (
                f"call {variant + 1} on the same inputs ({_sizes_text(sizes)}, seed {seed}), "
                f"outputs poisoned with pattern {variant}: {reason}"
            )
    return None


def positions(size: int, count: int) -> np.ndarray:
    """``count`` evenly spaced flat indices into ``size`` elements, first and last included."""
    key = (size, count)
    if key not in _POSITIONS:
        spots = np.linspace(0, size - 1, count) if size > 0 else np.zeros(0)
        _POSITIONS[key] = spots.round().astype(np.int64)
    return _POSITIONS[key]


def fingerprint(outputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A small float64 summary of each output, compared across runs by the output gate.

    Per output: the sum and the absolute sum of ``FINGERPRINT_SAMPLE`` evenly spaced
    elements (all of them in smaller outputs), then ``FINGERPRINT_VALUES`` values at fixed
    positions. It is computed inside the timed call, so it reads a bounded sample rather
    than the whole output: a full pass would cost as much as a memory-bound kernel and
    flatten every speedup. Every element of every timed call is still compared with the
    reference, untimed, by the workload's next ``setup()``.
    """
    result = {}
    for name, arr in outputs.items():
        flat = arr.reshape(-1)
        sample = flat[positions(flat.size, min(flat.size, FINGERPRINT_SAMPLE))].astype(np.float64)
        values = flat[positions(flat.size, FINGERPRINT_VALUES)].astype(np.float64)
        summary = [float(sample.sum()), float(np.abs(sample).sum())]
        result[name] = np.concatenate((summary, values)).astype(np.float64)
    return result
