"""KernelBench problems: one ``class Model`` file becomes a generated repository.

A KernelBench problem (``KernelBench/level1/19_ReLU.py`` and its siblings) is a single
Python file: ``class Model(nn.Module)``, ``get_inputs()`` (the forward arguments),
``get_init_inputs()`` (the constructor arguments) and module-level size constants such
as ``batch_size = 16``. An answer defines ``class ModelNew`` with the same constructor and
forward, usually calling custom CUDA or C++ code built with
``torch.utils.cpp_extension.load_inline``.

perfsmith turns such a file into a small repository (docs/kernels.md, "KernelBench
problems") in the same cache folder as the C kernel tasks: ``reference_model.py`` (the
file as given), ``model_new.py`` (the only file a candidate may change; it starts as a
copy of ``Model`` renamed ``ModelNew``), protected tests that compare ``ModelNew`` with
``Model`` run in float64, and a workload that times ``ModelNew.forward``.

The file is parsed here, never imported: perfsmith itself does not import PyTorch. The
generated tests and workload do, so the entry points that generate a repository for a run
(``to_bench_task``, ``bench_task``, ``kernelbench_overrides``) first check that PyTorch is
installed and stop with one clear error when it is not (the optional extra
``perfsmith[kernelbench]`` installs it).

Sizes: every module-level constant that evaluates to an int (or a tuple of ints) of at
least ``MIN_SIZE`` is a size. The tests scale sizes down while a problem's inputs exceed
``INPUT_BUDGET`` elements (today's KernelBench files are sized for a large GPU), and run
hidden variants with every size halved and made odd, when the reference accepts them.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from perfsmith.bench.taskset import WORKLOAD_NAME, BenchTask, RepoSource
from perfsmith.errors import ConfigError
from perfsmith.kernels.repo import refresh_cached, run_overrides, write_files

__all__ = [
    "CANDIDATE_FILE",
    "INPUT_BUDGET",
    "KERNELBENCH_SETTINGS",
    "MIN_SIZE",
    "REFERENCE_FILE",
    "SEEDS",
    "TOLERANCES",
    "KernelBenchProblem",
    "SizeValue",
    "bench_task",
    "hidden_variants",
    "is_kernelbench_file",
    "kernelbench_overrides",
    "load_kernelbench",
    "model_new_source",
    "repo_files",
    "require_torch",
    "scale_value",
    "shrink_levels",
    "size_constants",
    "to_bench_task",
    "torch_available",
    "write_repo",
]

SizeValue = int | tuple[int, ...]
Scaling = Literal["half", "odd"]

CANDIDATE_FILE = "model_new.py"
REFERENCE_FILE = "reference_model.py"
SPEC_FILE = "tests/kernelbench_spec.json"
TEMPLATES = Path(__file__).resolve().parent / "templates"
GITIGNORE = ".torch-extensions/\n__pycache__/\n"
# Each seed gives other weights and other inputs (KernelBench checks 5 input sets with one
# set of weights; here every case also has its own weights).
SEEDS: tuple[int, ...] = (1, 2, 3)
# (rtol, atol) by output dtype. An element passes when it is finite and
# |out - ref| <= atol + rtol * (|ref| + rms(ref)), with ref the float64 reference and
# rms(ref) the root mean square of that whole output: errors are measured against the
# output's own scale, so a dot product that cancels to nearly zero is not held to a
# relative bound it cannot meet, and atol is only a floor for all-zero outputs.
# float32 1e-4 is KernelBench's own fp32 tolerance; the float32 PyTorch reference needs
# at most 2e-6 on the bundled problems (docs/kernels.md lists the numbers), and half
# precision arithmetic misses it by 5x or more.
TOLERANCES: MappingProxyType[str, tuple[float, float]] = MappingProxyType(
    {
        "float32": (1.0e-4, 1.0e-8),
        "float16": (1.0e-2, 1.0e-5),
        "bfloat16": (1.0e-2, 1.0e-5),
        "float64": (1.0e-10, 1.0e-14),
    }
)
# The tests halve every size while the problem's inputs exceed this many elements.
INPUT_BUDGET = 1 << 22
# Module-level ints below this are kept as they are (dims, kernel sizes, strides, groups).
MIN_SIZE = 16
# Fingerprints are sums over up to 4096 sampled output elements and 16 values, as for
# the C kernels; the tests and every timed call compare each element with float64.
# The mode stays "python": the candidate is a Python module (which may build CUDA or C++
# with load_inline), so the Coder gets the Python prompt and cProfile's profile of the
# workload; kernel mode's prompt, profile and checks are about a C kernel.c.
KERNELBENCH_SETTINGS: dict[str, Any] = {
    "mode": "python",
    "protected": ["*", f"!{CANDIDATE_FILE}"],
    "checks": {"rel_tol": 1e-3, "abs_tol": 1e-3},
}
_REQUIRED = ("get_inputs", "get_init_inputs")
_MAX_LEVELS = 64


def torch_available(python: str | None = None) -> bool:
    """Whether PyTorch can be imported, looked up without importing it.

    Args:
        python: the interpreter to ask (default: this one); another one is asked in a
            subprocess.

    Returns:
        True when ``torch`` is importable there.
    """
    if python is None or _same_interpreter(python):
        try:
            return importlib.util.find_spec("torch") is not None
        except (ImportError, ValueError):
            return False
    probe = "import importlib.util, sys; sys.exit(importlib.util.find_spec('torch') is None)"
    try:
        res = subprocess.run([python, "-c", probe], capture_output=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return res.returncode == 0


def _same_interpreter(python: str) -> bool:
    # Not resolved: a virtual environment's python is a link to the base interpreter, yet
    # it imports other packages.
    found = shutil.which(python) or python
    return os.path.abspath(found) == os.path.abspath(sys.executable)


def require_torch(python: str | None = None) -> None:
    """Stop with one clear error when PyTorch is not installed.

    Args:
        python: the interpreter that will run the tests and the workload (default: this
            one).

    Raises:
        ConfigError: PyTorch cannot be imported by that interpreter.
    """
    if not torch_available(python):
        where = "this interpreter" if python is None else python
        raise ConfigError(
            f"KernelBench tasks need PyTorch, and {where} cannot import it: the generated "
            "tests run Model and ModelNew with torch, and the workload times "
            "ModelNew.forward with it.",
            "pip install 'perfsmith[kernelbench]' (or torch for your platform, as pytorch.org "
            "says) in the environment that runs the tests, then try again.",
        )


def _parse(path: Path) -> ast.Module | None:
    try:
        return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
        return None


def _top_level_names(tree: ast.Module) -> tuple[set[str], set[str]]:
    classes = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    return classes, functions


def is_kernelbench_file(path: Path) -> bool:
    """Whether ``path`` is a KernelBench problem: a ``.py`` file defining, at top level,
    ``class Model``, ``get_inputs()`` and ``get_init_inputs()`` (parsed, not imported).

    Args:
        path: any path.

    Returns:
        True for a readable problem file; False otherwise.
    """
    path = Path(path)
    if path.suffix != ".py" or not path.is_file():
        return False
    tree = _parse(path)
    if tree is None:
        return False
    classes, functions = _top_level_names(tree)
    return "Model" in classes and all(name in functions for name in _REQUIRED)


@dataclass(frozen=True)
class KernelBenchProblem:
    """A KernelBench problem file, parsed.

    Attributes:
        instance_id: ``<suite>__<file stem>``, e.g. ``level1__19_ReLU``.
        suite: the suite's name (by default the name of the folder holding the file).
        path: the problem file.
        source: its text.
        constants: its module-level size constants (see ``size_constants``).
        description: the first paragraph of ``Model``'s docstring ("" if none).
        target: the metric that decides (always ``latency`` for KernelBench).
    """

    instance_id: str
    suite: str
    path: Path
    source: str
    constants: dict[str, SizeValue]
    description: str
    target: str = "latency"

    @property
    def name(self) -> str:
        """The file's stem, e.g. ``19_ReLU``."""
        return self.path.stem

    def levels(self) -> list[dict[str, Any]]:
        """The size levels the tests choose from, largest first: the sizes of each level
        (overrides of the constants) and its hidden variants (see ``shrink_levels``)."""
        return [
            {"base": _jsonable(base), "hidden": [_jsonable(v) for v in variants]}
            for base, variants in (
                (base, hidden_variants(self.constants, base))
                for base in shrink_levels(self.constants)
            )
        ]

    def spec_json(self) -> dict[str, Any]:
        """What ``tests/kernelbench_spec.json`` holds (hidden sizes included)."""
        return {
            "instance_id": self.instance_id,
            "seeds": list(SEEDS),
            "tolerance": {k: list(v) for k, v in TOLERANCES.items()},
            "input_budget": INPUT_BUDGET,
            "levels": self.levels(),
        }

    def brief(self) -> str:
        """What the Coder may see: the task, the rules, the reference and the tolerance.

        The hidden sizes are never part of it; it only says that other sizes are checked.
        """
        rtol, _ = TOLERANCES["float32"]
        lines = [
            f"KernelBench problem {self.name}: make ModelNew in {CANDIDATE_FILE} faster than "
            f"the PyTorch reference Model in {REFERENCE_FILE}."
            + (f" ({self.description})" if self.description else ""),
            "",
            f"Edit {CANDIDATE_FILE}, the only file you may change; it starts as a copy of Model. "
            "It must define class ModelNew(torch.nn.Module) with Model's constructor arguments "
            "and forward signature, and keep Model's parameters and buffers (same names, "
            "shapes and dtypes): the tests load the reference's weights into it with "
            "load_state_dict(strict=True), and the weights are random, not the default "
            "initialisation. Custom kernels usually come from "
            "torch.utils.cpp_extension.load_inline (CUDA or C++) or Triton.",
            "",
            f"The reference ({REFERENCE_FILE}):",
            "",
            "```python",
            self.source.rstrip("\n"),
            "```",
            "",
            "Checks: ModelNew's outputs against Model run in float64, on "
            f"{len(SEEDS)} seeds (other weights and inputs each), at the problem's sizes "
            f"(halved while its inputs exceed {INPUT_BUDGET} elements) and at other sizes "
            "that are not shown. Output dtypes and shapes must be the reference's and every "
            "value finite, within |out - ref| <= atol + rtol * (|ref| + rms(ref)) "
            f"(float32 outputs: rtol {rtol:g}; float16 and bfloat16: "
            f"{TOLERANCES['float16'][0]:g}); "
            "inputs and parameters must stay unchanged; a call must depend on the contents "
            "of its inputs and weights, not on their addresses.",
            "Timed: one ModelNew.forward at the problem's sizes, on the GPU when there is "
            "one (then with torch.cuda.synchronize()), else on the CPU.",
        ]
        return "\n".join(lines).strip() + "\n"


def _jsonable(sizes: dict[str, SizeValue]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in sizes.items()}


def load_kernelbench(path: Path, suite: str | None = None) -> KernelBenchProblem:
    """Read and check a KernelBench problem file (parsed, never imported).

    Args:
        path: the ``.py`` file.
        suite: the suite's name (default: the name of the file's folder); the instance id
            is ``<suite>__<file stem>``.

    Returns:
        The problem.

    Raises:
        ConfigError: the file is unreadable, not valid Python, or lacks ``class Model``,
            ``get_inputs()`` or ``get_init_inputs()`` at top level (the message names it).
    """
    path = Path(path)
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"Cannot read {path}: {exc}.", "Pass a KernelBench problem file."
        ) from exc
    try:
        tree = ast.parse(source, filename=str(path))
    except (SyntaxError, ValueError) as exc:
        raise ConfigError(f"{path} is not valid Python: {exc}", "Fix the file.") from exc
    classes, functions = _top_level_names(tree)
    missing = (["class Model"] if "Model" not in classes else []) + [
        f"{name}()" for name in _REQUIRED if name not in functions
    ]
    if missing:
        raise ConfigError(
            f"{path} is not a KernelBench problem: it defines no top-level {', '.join(missing)}.",
            "A KernelBench file defines class Model(nn.Module), get_inputs() (the forward "
            "arguments) and get_init_inputs() (the constructor arguments); see docs/kernels.md.",
        )
    suite = suite or path.resolve().parent.name
    model = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Model")
    doc = (ast.get_docstring(model) or "").strip().split("\n\n")[0]
    return KernelBenchProblem(
        instance_id=f"{suite}__{path.stem}",
        suite=suite,
        path=path,
        source=source,
        constants=size_constants(source),
        description=" ".join(doc.split()),
    )


def size_constants(source: str) -> dict[str, SizeValue]:
    """The module-level constants of a problem that are ints or tuples of ints.

    Only plain ``NAME = expression`` statements at top level count, where the expression
    is built from int literals, earlier constants, tuples and ``+ - * // % **``; bools,
    floats and anything else (calls, attributes) are left out, and a name assigned again
    later takes its last value (or drops out when that is not an int).

    Args:
        source: the problem file's text.

    Returns:
        name -> int or tuple of ints, in order of first assignment.

    Raises:
        SyntaxError: ``source`` is not valid Python.
    """
    tree = ast.parse(source)
    values: dict[str, SizeValue] = {}
    for node in tree.body:
        targets: list[ast.expr]
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            targets, value = [node.target], node.value
        elif isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        else:
            continue
        result = _evaluate(value, values) if value is not None else None
        for target in targets:
            if not isinstance(target, ast.Name):
                continue
            if isinstance(result, int) or (
                isinstance(result, tuple) and result and all(isinstance(v, int) for v in result)
            ):
                values[target.id] = result
            else:
                values.pop(target.id, None)
    return values


_BINOPS: dict[type[ast.operator], Any] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.FloorDiv: lambda a, b: a // b,
    ast.Mod: lambda a, b: a % b,
    ast.Pow: lambda a, b: a**b if 0 <= b <= 64 else None,
}


def _evaluate(node: ast.expr, names: dict[str, SizeValue]) -> SizeValue | None:
    """An int (or tuple of ints) expression's value, or None when it is anything else."""
    if isinstance(node, ast.Constant):
        value = node.value
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _evaluate(node.operand, names)
        if isinstance(inner, int):
            return -inner if isinstance(node.op, ast.USub) else inner
        return None
    if isinstance(node, ast.Tuple):
        items = [_evaluate(e, names) for e in node.elts]
        if all(isinstance(i, int) for i in items):
            return tuple(i for i in items if isinstance(i, int))
        return None
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = _evaluate(node.left, names), _evaluate(node.right, names)
        if not isinstance(left, int) or not isinstance(right, int):
            return None
        try:
            result = _BINOPS[type(node.op)](left, right)
        except ZeroDivisionError:
            return None
        # Sizes are int64: a file that builds larger numbers (a chain of powers) gets no
        # value, rather than an integer that grows without bound while it is read.
        return result if isinstance(result, int) and abs(result) <= 2**63 else None
    return None


def _is_size(value: int) -> bool:
    return value >= MIN_SIZE


def scale_value(value: SizeValue, how: Scaling) -> SizeValue:
    """One size constant scaled: ``half`` is ``v // 2``, ``odd`` is ``(v // 2) | 1``
    (odd and near half, so no power-of-two block size divides it). Ints below
    ``MIN_SIZE`` (dims, kernel sizes, strides) stay as they are; tuples scale element-wise.

    Args:
        value: an int or a tuple of ints.
        how: ``half`` or ``odd``.

    Returns:
        The scaled value, of the same kind.

    Raises:
        ValueError: ``how`` is neither.
    """
    if how not in ("half", "odd"):
        raise ValueError(f"unknown scaling {how!r}; use 'half' or 'odd'")
    if isinstance(value, tuple):
        return tuple(_scale_int(v, how) for v in value)
    return _scale_int(value, how)


def _scale_int(value: int, how: Scaling) -> int:
    if not _is_size(value):
        return value
    half = value // 2
    return half | 1 if how == "odd" else half


def _scalable(constants: dict[str, SizeValue]) -> dict[str, SizeValue]:
    def big(v: SizeValue) -> bool:
        return any(_is_size(x) for x in v) if isinstance(v, tuple) else _is_size(v)

    return {k: v for k, v in constants.items() if big(v)}


def _apply(sizes: dict[str, SizeValue], how: Scaling) -> dict[str, SizeValue]:
    return {k: scale_value(v, how) for k, v in sizes.items()}


def shrink_levels(constants: dict[str, SizeValue]) -> list[dict[str, SizeValue]]:
    """The sizes the tests may run a problem at, largest first.

    Level 0 is the problem as written (no overrides); each next level halves every size
    constant of the one before, until nothing changes. The tests take the first level
    whose inputs fit ``INPUT_BUDGET`` elements.

    Args:
        constants: the problem's size constants (``size_constants``).

    Returns:
        A list of override dicts (name -> value), the first one empty.
    """
    sizes = _scalable(constants)
    levels: list[dict[str, SizeValue]] = [{}]
    current = dict(sizes)
    for _ in range(_MAX_LEVELS):
        smaller = _apply(current, "half")
        if smaller == current:
            break
        levels.append(smaller)
        current = smaller
    return levels


def hidden_variants(
    constants: dict[str, SizeValue], base: dict[str, SizeValue]
) -> list[dict[str, SizeValue]]:
    """The hidden size variants of one level: every size halved, then made odd.

    Args:
        constants: the problem's size constants.
        base: the level's overrides (``{}`` for the problem's own sizes).

    Returns:
        Override dicts, each different from the level's sizes and from the others (a
        problem without size constants has none).
    """
    sizes = {**_scalable(constants), **base}
    variants: list[dict[str, SizeValue]] = []
    for how in ("half", "odd"):
        variant = _apply(sizes, how)
        if variant != sizes and variant not in variants:
            variants.append(variant)
    return variants


def model_new_source(source: str) -> str:
    """The starting ``model_new.py``: the problem with ``class Model`` renamed ``ModelNew``.

    Inside the class every use of the name ``Model`` (``super(Model, self)``) follows the
    rename; ``get_inputs`` and ``get_init_inputs`` are left out (the tests take them from
    the reference); imports, helpers and constants stay, since ``forward`` may use them.

    Args:
        source: the problem file's text.

    Returns:
        Python source defining ``ModelNew``.

    Raises:
        ValueError: ``source`` defines no top-level ``class Model``.
        SyntaxError: ``source`` is not valid Python.
    """
    tree = ast.parse(source)
    model = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Model"), None)
    if model is None:
        raise ValueError("the source defines no top-level class Model")
    lines = source.splitlines(keepends=True)
    # (line index, start byte, end byte): the uses of the name inside the class, applied
    # from the end so that earlier offsets stay valid (ast reports UTF-8 byte columns).
    edits = sorted(
        (
            (node.lineno - 1, node.col_offset, node.end_col_offset)
            for node in ast.walk(model)
            if isinstance(node, ast.Name) and node.id == "Model" and node.end_col_offset
        ),
        reverse=True,
    )
    for line, begin, end in edits:
        raw = lines[line].encode("utf-8")
        lines[line] = (raw[:begin] + b"ModelNew" + raw[end:]).decode("utf-8")
    header = model.lineno - 1
    lines[header] = _CLASS_MODEL.sub(r"\1ModelNew", lines[header], count=1)
    drop: set[int] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name in _REQUIRED:
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            drop.update(range(first - 1, node.end_lineno or node.lineno))
    kept = "".join(text for i, text in enumerate(lines) if i not in drop)
    kept = _BLANK_RUNS.sub("\n\n\n", kept).strip("\n")
    return _MODEL_NEW_HEADER + kept + "\n"


_CLASS_MODEL = re.compile(r"^(\s*class\s+)Model\b")
_BLANK_RUNS = re.compile(r"\n{4,}")


_MODEL_NEW_HEADER = (
    f"# ModelNew: the faster drop-in for Model in {REFERENCE_FILE}. This is the only file\n"
    "# you may change. Keep Model's constructor arguments, forward signature and parameters\n"
    "# (names and shapes): the tests load the reference's weights into ModelNew.\n"
)


def _template(name: str) -> str:
    return (TEMPLATES / name).read_text(encoding="utf-8")


def repo_files(problem: KernelBenchProblem) -> dict[str, str]:
    """Every file of the generated repository, by path, the workload included.

    Args:
        problem: the problem.

    Returns:
        path relative to the repository -> content.
    """
    spec = json.dumps(problem.spec_json(), indent=2) + "\n"
    return {
        REFERENCE_FILE: problem.source,
        CANDIDATE_FILE: model_new_source(problem.source),
        ".gitignore": GITIGNORE,
        WORKLOAD_NAME: _template("kernelbench_workload.py"),
        "tests/__init__.py": "",
        "tests/kernelbench_harness.py": _template("kernelbench_harness.py"),
        SPEC_FILE: spec,
        "tests/test_model.py": _template("kernelbench_test_model.py"),
    }


def write_repo(problem: KernelBenchProblem, dest: Path) -> Path:
    """Write the generated repository into ``dest`` (a new folder) as one git base commit.

    This needs no PyTorch (nothing is run); ``to_bench_task`` checks for it first.

    Args:
        problem: the problem.
        dest: where the repository goes; it must not exist yet.

    Returns:
        ``dest``.

    Raises:
        ConfigError: ``dest`` exists.
    """
    dest = Path(dest)
    if dest.exists():
        raise ConfigError(f"{dest} already exists.", "Give write_repo a new folder.")
    return write_files(repo_files(problem), dest, problem.instance_id, problem.suite)


def to_bench_task(
    problem: KernelBenchProblem, cache: Path, *, python: str | None = None
) -> BenchTask:
    """The problem as a bench task whose repository is a folder under ``cache``.

    The repository is written into ``cache/<instance_id>`` when it is missing or differs
    from what the problem generates now (a new folder is renamed into place, so
    concurrent callers never see half of one).

    Args:
        problem: the problem.
        cache: a folder for generated repositories.
        python: the interpreter that will run the tests (default: this one).

    Returns:
        A BenchTask: folder source, the generated workload, tests ``("tests",)``, no
        expert patch, target latency and the brief as its problem.

    Raises:
        ConfigError: PyTorch is not installed there (nothing is generated then).
    """
    require_torch(python)
    files = repo_files(problem)
    folder = Path(cache) / problem.instance_id
    refresh_cached(folder, files, lambda fresh: write_repo(problem, fresh))
    return BenchTask(
        instance_id=problem.instance_id,
        suite=problem.suite,
        source=RepoSource("folder", str(folder)),
        workload_code=files[WORKLOAD_NAME],
        tests=("tests",),
        target="latency",
        pythonpath=(".",),
        problem=problem.brief(),
        category="kernelbench",
    )


def _cache_root() -> Path:
    from perfsmith.kernels.mode import cache_root

    return cache_root()


def bench_task(
    path: Path, suite: str, cache: Path | None = None, *, python: str | None = None
) -> BenchTask:
    """A KernelBench file as a task-set entry, its repository generated into the cache
    (``<cache>/kernels/<instance_id>``, beside the C kernel tasks).

    Args:
        path: the problem file.
        suite: the suite's name.
        cache: the cache root (default: ``$PERFSMITH_CACHE`` or ``~/.cache/perfsmith``).
        python: the interpreter that will run the tests (default: this one).

    Raises:
        ConfigError: PyTorch is missing there, or the file is not a KernelBench problem.
    """
    problem = load_kernelbench(path, suite)  # a file that is no problem says so first
    task = to_bench_task(problem, (cache or _cache_root()) / "kernels", python=python)
    return dataclasses.replace(task, config=copy.deepcopy(KERNELBENCH_SETTINGS))


def kernelbench_overrides(
    path: Path, cache: Path | None = None, *, python: str | None = None
) -> tuple[Path, dict[str, Any]]:
    """The repository to optimize for a KernelBench file and the settings it implies.

    Args:
        path: the problem file.
        cache: the cache root (default: ``$PERFSMITH_CACHE`` or ``~/.cache/perfsmith``).
        python: the interpreter that will run the tests (default: this one).

    Raises:
        ConfigError: PyTorch is missing there, or the file is not a KernelBench problem.
    """
    path = Path(path)
    task = bench_task(path, path.resolve().parent.name, cache, python=python)
    return run_overrides(task)
