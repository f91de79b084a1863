"""Kernel task folders: ``task.yaml``, ``reference.py`` and the C (or CUDA) kernels.

A kernel task asks for a faster implementation of one compute kernel that stays correct
against a float64 NumPy reference (see docs/kernels.md). ``load_kernel_task`` reads and
validates a task folder without importing its reference (it is only parsed), so a broken
or hostile ``reference.py`` cannot run on the machine that loads the suite.
"""

from __future__ import annotations

import ast
import keyword
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import yaml

from perfsmith.core import Target
from perfsmith.errors import ConfigError
from perfsmith.kernels.cost import COST_KEYS, KernelCost, check_cost, evaluate_cost

__all__ = [
    "DTYPES",
    "ROLES",
    "KernelArg",
    "KernelCost",
    "KernelTask",
    "default_tolerance",
    "is_kernel_task",
    "load_kernel_task",
]

Role = Literal["in", "out", "size", "scalar"]
ROLES: tuple[Role, ...] = ("in", "out", "size", "scalar")
DTYPES: Mapping[str, str] = MappingProxyType(
    {
        "float32": "float",
        "float64": "double",
        "int32": "int32_t",
        "int64": "int64_t",
        "uint8": "uint8_t",
        "uint32": "uint32_t",
    }
)
FLOAT_DTYPES = frozenset({"float32", "float64"})
TASK_FILE = "task.yaml"
REFERENCE_FILE = "reference.py"
_TARGETS: tuple[str, ...] = typing.get_args(Target)
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_C_KEYWORDS = frozenset(
    {"auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else",
     "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long", "register",
     "restrict", "return", "short", "signed", "sizeof", "static", "struct", "switch",
     "typedef", "union", "unsigned", "void", "volatile", "while", "bool", "true", "false"}
)  # fmt: skip
_KEYS = frozenset(
    {"kind", "instance_id", "category", "problem", "function", "args", "shapes", "timing",
     "seeds", "tolerance", "kernel", "expert", "cuda", "target", "cost"}
)  # fmt: skip
_TOLERANCES: Mapping[str, tuple[float, float]] = MappingProxyType(
    {"float32": (1.0e-4, 1.0e-6), "float64": (1.0e-10, 1.0e-12)}
)


def default_tolerance(dtype: str) -> tuple[float, float]:
    """The default ``(rtol, atol)`` for outputs of one dtype (integers must be exact).

    Args:
        dtype: one of ``DTYPES``.

    Returns:
        ``(1e-4, 1e-6)`` for float32, ``(1e-10, 1e-12)`` for float64, ``(0.0, 0.0)`` for
        the integer dtypes.

    Raises:
        ValueError: ``dtype`` is not one of ``DTYPES``.
    """
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; use one of {', '.join(DTYPES)}")
    return _TOLERANCES.get(dtype, (0.0, 0.0))


@dataclass(frozen=True)
class KernelArg:
    """One parameter of the kernel's C function, in order.

    Attributes:
        name: the C parameter name; for ``size`` the key of the shape dicts.
        role: ``in`` (``const T *``), ``out`` (``T *``), ``size`` (``int64_t``) or
            ``scalar`` (a constant ``T`` with ``value``).
        dtype: the element type of arrays and scalars (``None`` for sizes).
        value: the constant passed for a ``scalar``.
    """

    name: str
    role: Role
    dtype: str | None = None
    value: float | int | None = None

    def c_decl(self) -> str:
        """The parameter as C declares it, e.g. ``const float *x`` or ``int64_t rows``."""
        if self.role == "size":
            return f"int64_t {self.name}"
        ctype = DTYPES[self.dtype or ""]
        if self.role == "in":
            return f"const {ctype} *{self.name}"
        if self.role == "out":
            return f"{ctype} *{self.name}"
        return f"{ctype} {self.name}"

    def to_json(self) -> dict[str, Any]:
        """The argument as ``tests/kernel_spec.json`` stores it."""
        return {"name": self.name, "role": self.role, "dtype": self.dtype, "value": self.value}


@dataclass(frozen=True)
class KernelTask:
    """A validated kernel task folder (see docs/kernels.md).

    ``kernel``, ``expert``, ``cuda_kernel`` and ``cuda_expert`` are file names relative to
    ``folder``; ``visible``, ``hidden`` and ``timing`` map each ``size`` argument's name to
    a positive int. ``cost_flops`` and ``cost_bytes`` are the ``cost`` expressions over the
    size names (None where the task declares none); ``cost()`` evaluates them.
    """

    instance_id: str
    suite: str
    folder: Path
    function: str
    args: tuple[KernelArg, ...]
    visible: tuple[dict[str, int], ...]
    hidden: tuple[dict[str, int], ...]
    timing: dict[str, int]
    seeds: tuple[int, ...]
    rtol: float
    atol: float
    kernel: str
    expert: str | None
    cuda_kernel: str | None
    cuda_expert: str | None
    problem: str
    category: str | None
    target: str
    cost_flops: str | None = None
    cost_bytes: str | None = None

    def size_names(self) -> tuple[str, ...]:
        """The ``size`` arguments' names, in signature order."""
        return tuple(a.name for a in self.args if a.role == "size")

    def cost(self, shape: Mapping[str, int] | None = None) -> KernelCost:
        """The least work of one call at ``shape`` (default: the timing shape).

        Args:
            shape: a value for each size name.

        Returns:
            The declared flops and bytes at ``shape``; None for what the task leaves out.

        Raises:
            ConfigError: an expression cannot be evaluated at ``shape`` (it divides by
                zero, overflows or is negative there); the message names the task and the
                expression.
        """
        sizes = dict(self.timing if shape is None else shape)
        values: dict[str, float | None] = {}
        for key, expression in zip(COST_KEYS, (self.cost_flops, self.cost_bytes), strict=True):
            if expression is None:
                values[key] = None
                continue
            try:
                values[key] = evaluate_cost(expression, sizes)
            except ValueError as exc:
                raise ConfigError(
                    f"{self.instance_id}: cost.{key} {expression!r} at "
                    f"{_shape_text(sizes, tuple(sizes))}: {exc}.",
                    "Fix the expression in the task's task.yaml (see docs/kernels.md).",
                ) from None
        return KernelCost(flops=values["flops"], bytes=values["bytes"])

    def signature(self) -> str:
        """The C prototype, e.g. ``void softmax(const float *x, float *out, int64_t rows)``."""
        params = ", ".join(a.c_decl() for a in self.args)
        return f"void {self.function}({params})"

    def kernel_source(self) -> str:
        """The text of the starting C kernel."""
        return (self.folder / self.kernel).read_text(encoding="utf-8")

    def expert_source(self) -> str | None:
        """The text of the expert C kernel, or None when the task has none."""
        if self.expert is None:
            return None
        return (self.folder / self.expert).read_text(encoding="utf-8")

    def reference_source(self) -> str:
        """The text of ``reference.py``."""
        return (self.folder / REFERENCE_FILE).read_text(encoding="utf-8")

    def spec_json(self, *, hidden: bool) -> dict[str, Any]:
        """What ``tests/kernel_spec.json`` holds; ``hidden=False`` leaves the hidden shapes out.

        Args:
            hidden: include the hidden shapes (the generated tests need them; anything a
                Coder may read must not have them).

        Returns:
            A JSON-able dict: instance id, function, signature, args, shapes, timing
            shape, seeds and tolerance.
        """
        spec: dict[str, Any] = {
            "instance_id": self.instance_id,
            "function": self.function,
            "signature": self.signature(),
            "args": [a.to_json() for a in self.args],
            "visible": [dict(s) for s in self.visible],
            "timing": dict(self.timing),
            "seeds": list(self.seeds),
            "rtol": self.rtol,
            "atol": self.atol,
        }
        if hidden:
            spec["hidden"] = [dict(s) for s in self.hidden]
        return spec

    def brief(self) -> str:
        """What the Coder may see: the problem, the signature, visible shapes and tolerance.

        Hidden shapes are never part of it; it only says that other shapes are checked.
        """
        lines = [self.problem.strip(), "", "Edit kernel.c. It must define:", ""]
        lines += [f"    {self.signature()};", ""]
        for arg in self.args:
            lines.append(f"- {arg.name}: {_describe(arg)}")
        shapes = "; ".join(_shape_text(s, self.size_names()) for s in self.visible)
        lines += [
            "",
            f"Example shapes (visible): {shapes}.",
            f"Timed at: {_shape_text(self.timing, self.size_names())}.",
            "The tests also check other shapes, which are not shown.",
            f"Outputs must satisfy |out - ref| <= {self.atol:g} + {self.rtol:g} * |ref| "
            "against a float64 reference"
            + (" (exact: integer outputs)." if self.rtol == 0 and self.atol == 0 else "."),
            "Build: cc -g -O3 -march=native -fopenmp -fPIC -std=c11 (C11, OpenMP available).",
            "The kernel must be a pure function of its arguments: no static or global writable "
            "data, never write the inputs, fill every output element.",
        ]
        return "\n".join(lines).strip() + "\n"


def _describe(arg: KernelArg) -> str:
    if arg.role == "in":
        return f"input array of {arg.dtype} (read only)"
    if arg.role == "out":
        return f"output array of {arg.dtype}, every element to be written"
    if arg.role == "size":
        return "size (int64_t)"
    return f"constant {arg.dtype} = {arg.value!r}"


def _shape_text(shape: Mapping[str, int], names: tuple[str, ...]) -> str:
    return ", ".join(f"{n}={shape[n]}" for n in names)


def is_kernel_task(folder: Path) -> bool:
    """Whether ``folder`` holds a ``task.yaml`` with ``kind: kernel``.

    Args:
        folder: a task folder.

    Returns:
        True for a kernel task; False when there is no readable mapping with that kind.
    """
    path = folder / TASK_FILE
    try:
        meta = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    return isinstance(meta, dict) and meta.get("kind") == "kernel"


def load_kernel_task(folder: Path, suite: str | None = None) -> KernelTask:
    """Read and validate a kernel task folder.

    Args:
        folder: the folder holding ``task.yaml``, ``reference.py`` and the kernels.
        suite: the suite's name (default: the name of ``folder``'s parent); the default
            instance id is ``<suite>__<folder name>``.

    Returns:
        The task.

    Raises:
        ConfigError: the YAML is unreadable or malformed (the message names the file and
            the key), ``reference.py`` lacks ``make_inputs`` or ``reference``, or a named
            kernel file is missing.
    """
    folder = Path(folder)
    where = folder / TASK_FILE
    suite = suite or folder.resolve().parent.name
    try:
        meta = yaml.safe_load(where.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"Cannot read {where}: {exc}.", "Each kernel task needs task.yaml."
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"Cannot parse {where}: {exc}", "Fix the YAML.") from exc
    if not isinstance(meta, dict):
        raise ConfigError(f"{where} is not a mapping.", "See docs/kernels.md for the format.")
    return _Loader(where, meta).task(folder, suite)


class _Loader:
    """Validation of one task.yaml; every error names the file and the key."""

    def __init__(self, where: Path, meta: dict[str, Any]) -> None:
        self.where, self.meta = where, meta

    def fail(self, key: str, problem: str, hint: str) -> ConfigError:
        return ConfigError(f"{self.where}: {key}: {problem}", hint)

    def require(self, key: str) -> Any:
        if key not in self.meta or self.meta[key] is None:
            raise ConfigError(
                f"{self.where} has no {key!r}.", "See docs/kernels.md for the keys of task.yaml."
            )
        return self.meta[key]

    def task(self, folder: Path, suite: str) -> KernelTask:
        meta = self.meta
        if meta.get("kind") != "kernel":
            raise self.fail("kind", f"is {meta.get('kind')!r}, not 'kernel'.", "Add kind: kernel.")
        unknown = sorted(set(map(str, meta)) - _KEYS)
        if unknown:
            raise self.fail(
                unknown[0],
                "is not a key of a kernel task.",
                f"Use only {', '.join(sorted(_KEYS))}.",
            )
        function = self.require("function")
        if not isinstance(function, str) or not _is_c_name(function):
            raise self.fail("function", f"{function!r} is not a C identifier.", "Name the symbol.")
        args = self.args()
        sizes = tuple(a.name for a in args if a.role == "size")
        visible, hidden = self.shapes(sizes)
        timing = self.shape("timing", self.require("timing"), sizes)
        seeds = self.seeds()
        rtol, atol = self.tolerance(args)
        kernel = self.file(folder, "kernel", meta.get("kernel", "kernel.c"))
        expert = self.file(folder, "expert", meta["expert"]) if meta.get("expert") else None
        cuda_kernel, cuda_expert = self.cuda(folder)
        self.reference(folder / REFERENCE_FILE)
        target = meta.get("target", "latency")
        if target not in _TARGETS:
            raise self.fail("target", f"unknown target {target!r}.", f"Use one of {_TARGETS}.")
        problem = self.require("problem")
        if not isinstance(problem, str) or not problem.strip():
            raise self.fail("problem", "is empty.", "Say what the kernel computes.")
        category = meta.get("category")
        cost_flops, cost_bytes = self.cost(sizes, timing)
        return KernelTask(
            instance_id=str(meta.get("instance_id") or f"{suite}__{folder.name}"),
            suite=suite,
            folder=folder,
            function=function,
            args=args,
            visible=visible,
            hidden=hidden,
            timing=timing,
            seeds=seeds,
            rtol=rtol,
            atol=atol,
            kernel=kernel,
            expert=expert,
            cuda_kernel=cuda_kernel,
            cuda_expert=cuda_expert,
            problem=problem.strip(),
            category=None if category is None else str(category),
            target=str(target),
            cost_flops=cost_flops,
            cost_bytes=cost_bytes,
        )

    def args(self) -> tuple[KernelArg, ...]:
        raw = self.require("args")
        if not isinstance(raw, list) or not raw:
            raise self.fail("args", "must be a non-empty list.", "List the C parameters in order.")
        args: list[KernelArg] = []
        for i, item in enumerate(raw):
            args.append(self.arg(f"args[{i}]", item))
        names = [a.name for a in args]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise self.fail("args", f"duplicate names {', '.join(dupes)}.", "Rename them.")
        if not any(a.role == "out" for a in args):
            raise self.fail("args", "no argument has role 'out'.", "Declare the output array.")
        if not any(a.role == "in" for a in args):
            raise self.fail("args", "no argument has role 'in'.", "Declare the input arrays.")
        return tuple(args)

    def arg(self, key: str, item: Any) -> KernelArg:
        if not isinstance(item, dict):
            raise self.fail(key, "is not a mapping.", "Use {name: x, role: in, dtype: float32}.")
        extra = sorted(set(map(str, item)) - {"name", "role", "dtype", "value"})
        if extra:
            raise self.fail(f"{key}.{extra[0]}", "is not a key of an argument.", _ARG_HINT)
        name = item.get("name")
        if not isinstance(name, str) or not _is_c_name(name) or keyword.iskeyword(name):
            raise self.fail(f"{key}.name", f"{name!r} is not a usable C identifier.", _ARG_HINT)
        role = item.get("role")
        if role not in ROLES:
            raise self.fail(f"{key}.role", f"unknown role {role!r}.", f"Use one of {ROLES}.")
        dtype = item.get("dtype")
        value = item.get("value")
        where = f"{key} ({name})"
        if role == "size":
            if dtype not in (None, "int64"):
                raise self.fail(f"{where}.dtype", "a size is always int64.", "Drop the dtype.")
            if value is not None:
                raise self.fail(f"{where}.value", "a size takes its value from the shape.", "")
            return KernelArg(name, "size")
        if dtype not in DTYPES:
            raise self.fail(
                f"{where}.dtype", f"unknown dtype {dtype!r}.", f"Use one of {', '.join(DTYPES)}."
            )
        if role != "scalar":
            if value is not None:
                raise self.fail(f"{where}.value", "only a scalar has a value.", "Drop it.")
            return KernelArg(name, role, str(dtype))
        return KernelArg(
            name, "scalar", str(dtype), self.scalar(f"{where}.value", str(dtype), value)
        )

    def scalar(self, key: str, dtype: str, value: Any) -> float | int:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, f"{value!r} is not a number.", "Give the scalar's value.")
        if dtype in FLOAT_DTYPES:
            return float(value)
        if not isinstance(value, int):
            raise self.fail(key, f"{value!r} is not an integer ({dtype}).", "Use an integer.")
        lo, hi = _INT_RANGES[dtype]
        if not lo <= value <= hi:
            raise self.fail(key, f"{value} does not fit in {dtype}.", "Use a smaller value.")
        return value

    def shapes(self, sizes: tuple[str, ...]) -> tuple[tuple[dict[str, int], ...], ...]:
        raw = self.require("shapes")
        if not isinstance(raw, dict):
            raise self.fail(
                "shapes", "is not a mapping.", "Use shapes: {visible: [...], hidden: [...]}."
            )
        extra = sorted(set(map(str, raw)) - {"visible", "hidden"})
        if extra:
            raise self.fail(f"shapes.{extra[0]}", "is not visible or hidden.", "")
        out = []
        for kind in ("visible", "hidden"):
            items = raw.get(kind) or []
            if not isinstance(items, list):
                raise self.fail(f"shapes.{kind}", "is not a list.", "List shape mappings.")
            out.append(
                tuple(self.shape(f"shapes.{kind}[{i}]", s, sizes) for i, s in enumerate(items))
            )
        if not out[0]:
            raise self.fail("shapes.visible", "is empty.", "Give at least one visible shape.")
        return out[0], out[1]

    def shape(self, key: str, shape: Any, sizes: tuple[str, ...]) -> dict[str, int]:
        if not isinstance(shape, dict):
            raise self.fail(key, "is not a mapping of sizes.", "Use {rows: 64, cols: 1000}.")
        missing = [s for s in sizes if s not in shape]
        if missing:
            raise self.fail(
                key, f"lacks the size {missing[0]!r}.", f"Give every size argument: {sizes}."
            )
        extra = sorted(set(map(str, shape)) - set(sizes))
        if extra:
            raise self.fail(key, f"{extra[0]!r} is not a size argument.", f"Sizes: {sizes}.")
        for name in sizes:
            value = shape[name]
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise self.fail(
                    f"{key}.{name}", f"{value!r} is not a positive integer.", "Sizes are >= 1."
                )
        return {name: int(shape[name]) for name in sizes}

    def seeds(self) -> tuple[int, ...]:
        raw = self.require("seeds")
        ok = (
            isinstance(raw, list)
            and raw
            and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in raw)
        )
        if not ok:
            raise self.fail("seeds", f"{raw!r} is not a list of non-negative integers.", "")
        if len(set(raw)) != len(raw):
            raise self.fail("seeds", "has duplicates.", "Give distinct seeds.")
        return tuple(int(s) for s in raw)

    def tolerance(self, args: tuple[KernelArg, ...]) -> tuple[float, float]:
        outs = [a.dtype or "" for a in args if a.role == "out"]
        # The loosest output dtype decides the default: a float32 output is never held to
        # float64 precision because another output is float64.
        rtol, atol = max((default_tolerance(d) for d in outs), key=lambda t: t[0])
        raw = self.meta.get("tolerance")
        if raw is None:
            return rtol, atol
        if not isinstance(raw, dict):
            raise self.fail("tolerance", "is not a mapping.", "Use {rtol: 1.0e-4, atol: 1.0e-6}.")
        extra = sorted(set(map(str, raw)) - {"rtol", "atol"})
        if extra:
            raise self.fail(f"tolerance.{extra[0]}", "is not rtol or atol.", "")
        values = {"rtol": rtol, "atol": atol}
        for key in ("rtol", "atol"):
            value = raw.get(key, values[key])
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise self.fail(f"tolerance.{key}", f"{value!r} is not a number >= 0.", "")
            values[key] = float(value)
        return values["rtol"], values["atol"]

    def cost(self, sizes: tuple[str, ...], timing: dict[str, int]) -> tuple[str | None, str | None]:
        """The ``cost`` expressions, checked and evaluated once at the timing shape."""
        raw = self.meta.get("cost")
        if raw is None:
            return None, None
        if not isinstance(raw, dict) or not raw:
            raise self.fail("cost", "is not a mapping.", _COST_HINT)
        extra = sorted(set(map(str, raw)) - set(COST_KEYS))
        if extra:
            raise self.fail(f"cost.{extra[0]}", "is not flops or bytes.", _COST_HINT)
        found: dict[str, str | None] = {}
        for key in COST_KEYS:
            expression = raw.get(key)
            if expression is None:
                found[key] = None
                continue
            if isinstance(expression, bool) or not isinstance(expression, str | int | float):
                raise self.fail(f"cost.{key}", f"{expression!r} is not an expression.", _COST_HINT)
            text = str(expression)
            try:
                check_cost(text, sizes)
                evaluate_cost(text, timing)
            except ValueError as exc:
                raise self.fail(f"cost.{key}", f"{text!r} {exc}.", _COST_HINT) from None
            found[key] = text
        return found["flops"], found["bytes"]

    def file(self, folder: Path, key: str, name: Any) -> str:
        if not isinstance(name, str) or not name:
            raise self.fail(key, f"{name!r} is not a file name.", "Name a file in the task folder.")
        path = folder / name
        if not path.is_file():
            raise self.fail(key, f"the file {path} is missing.", "Add it or fix the name.")
        return name

    def cuda(self, folder: Path) -> tuple[str | None, str | None]:
        raw = self.meta.get("cuda")
        if raw is None:
            return None, None
        if not isinstance(raw, dict):
            raise self.fail("cuda", "is not a mapping.", "Use cuda: {kernel: kernel.cu}.")
        extra = sorted(set(map(str, raw)) - {"kernel", "expert"})
        if extra:
            raise self.fail(f"cuda.{extra[0]}", "is not kernel or expert.", "")
        kernel = self.file(folder, "cuda.kernel", raw["kernel"]) if raw.get("kernel") else None
        expert = self.file(folder, "cuda.expert", raw["expert"]) if raw.get("expert") else None
        return kernel, expert

    def reference(self, path: Path) -> None:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        except OSError as exc:
            raise ConfigError(
                f"{path} is missing ({exc.strerror}).",
                "Add reference.py with make_inputs(rng, **sizes) and reference(**inputs, **sizes).",
            ) from exc
        except (SyntaxError, UnicodeDecodeError, ValueError) as exc:
            raise ConfigError(f"{path} is not valid Python: {exc}", "Fix it.") from exc
        defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        for name in ("make_inputs", "reference"):
            if name not in defined:
                raise ConfigError(
                    f"{path}: {name}: no top-level function of that name.",
                    "Define make_inputs(rng, **sizes) and reference(**inputs, **sizes).",
                )


_COST_HINT = (
    'Use cost: {flops: "2*m*n*k", bytes: "4*(m*k + k*n + m*n)"}: arithmetic over the size '
    "names with numbers, + - * / // **, parentheses, min and max (see docs/kernels.md)."
)
_ARG_HINT = "Use {name: x, role: in|out|size|scalar, dtype: float32, value: 1.0 (scalars)}."
_INT_RANGES: Mapping[str, tuple[int, int]] = MappingProxyType(
    {
        "int32": (-(2**31), 2**31 - 1),
        "int64": (-(2**63), 2**63 - 1),
        "uint8": (0, 2**8 - 1),
        "uint32": (0, 2**32 - 1),
    }
)


def _is_c_name(name: str) -> bool:
    return bool(_IDENT.match(name)) and name not in _C_KEYWORDS
