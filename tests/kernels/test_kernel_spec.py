"""Kernel task folders: loading, validation errors, the signature and brief, and the
generated repository (layout, git base commit, expert patch, bench task)."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from perfsmith.bench.taskset import WORKLOAD_NAME, materialize
from perfsmith.errors import ConfigError
from perfsmith.kernels import (
    DTYPES,
    KernelArg,
    default_tolerance,
    expert_patch,
    is_kernel_task,
    load_kernel_task,
    to_bench_task,
    write_repo,
)
from perfsmith.kernels.repo import TEMPLATES
from tests.kernels.kernel_fixtures import FIXTURES, fixture_task

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_fixture_task_loads_with_defaults() -> None:
    task = fixture_task("rowsum")
    assert task.instance_id == "fixtures__rowsum"
    assert task.suite == "fixtures"
    assert task.function == "rowsum"
    assert task.args == (
        KernelArg("x", "in", "float32"),
        KernelArg("out", "out", "float32"),
        KernelArg("rows", "size"),
        KernelArg("cols", "size"),
    )
    assert task.visible == ({"rows": 8, "cols": 32}, {"rows": 64, "cols": 16})
    assert task.hidden == ({"rows": 3, "cols": 7}, {"rows": 37, "cols": 1531})
    assert task.timing == {"rows": 256, "cols": 4096}
    assert task.seeds == (1, 2, 3)
    assert (task.rtol, task.atol) == (1.0e-4, 1.0e-6)
    assert (task.kernel, task.expert, task.cuda_kernel, task.cuda_expert) == (
        "kernel.c",
        None,
        None,
        None,
    )
    assert task.expert_source() is None
    assert task.target == "latency"
    assert task.category == "row reduction"
    assert "void rowsum(" in task.kernel_source()


def test_suite_defaults_to_the_parent_folder_and_instance_id_may_be_explicit() -> None:
    assert load_kernel_task(FIXTURES / "rowsum").instance_id == "kernels__rowsum"
    vadd = fixture_task("vadd")
    assert vadd.instance_id == "fixtures__vadd"
    assert vadd.args[-1] == KernelArg("alpha", "scalar", "float32", 0.5)
    assert vadd.expert == "expert.c"
    assert "omp parallel" in (vadd.expert_source() or "")


def test_is_kernel_task(tmp_path: Path) -> None:
    assert is_kernel_task(FIXTURES / "vadd")
    assert not is_kernel_task(REPO_ROOT / "benchmarks" / "perfsmith-lite" / "csv-render")
    assert not is_kernel_task(tmp_path)
    (tmp_path / "task.yaml").write_text(": not yaml: [", encoding="utf-8")
    assert not is_kernel_task(tmp_path)


def test_signature_spells_every_role_and_dtype(tmp_path: Path) -> None:
    folder = _copy(tmp_path, "rowsum")
    _edit(
        folder,
        lambda m: m.update(
            function="mix",
            args=[
                {"name": "x", "role": "in", "dtype": "float64"},
                {"name": "idx", "role": "in", "dtype": "int32"},
                {"name": "mask", "role": "in", "dtype": "uint8"},
                {"name": "out", "role": "out", "dtype": "int64"},
                {"name": "bins", "role": "out", "dtype": "uint32"},
                {"name": "rows", "role": "size"},
                {"name": "cols", "role": "size"},
                {"name": "eps", "role": "scalar", "dtype": "float32", "value": 1.0e-5},
                {"name": "k", "role": "scalar", "dtype": "int32", "value": 3},
            ],
        ),
    )
    task = load_kernel_task(folder)
    assert task.signature() == (
        "void mix(const double *x, const int32_t *idx, const uint8_t *mask, int64_t *out, "
        "uint32_t *bins, int64_t rows, int64_t cols, float eps, int32_t k)"
    )
    assert (task.rtol, task.atol) == (0.0, 0.0)  # integer outputs only: exact
    assert task.args[-1].value == 3 and isinstance(task.args[-1].value, int)
    assert fixture_task("vadd").signature() == (
        "void vadd(const float *a, const float *b, float *out, int64_t n, float alpha)"
    )


def test_default_tolerances() -> None:
    assert default_tolerance("float32") == (1.0e-4, 1.0e-6)
    assert default_tolerance("float64") == (1.0e-10, 1.0e-12)
    for dtype in ("int32", "int64", "uint8", "uint32"):
        assert default_tolerance(dtype) == (0.0, 0.0)
    assert set(DTYPES) == {"float32", "float64", "int32", "int64", "uint8", "uint32"}
    assert DTYPES["float64"] == "double" and DTYPES["uint8"] == "uint8_t"
    with pytest.raises(ValueError, match="float16"):
        default_tolerance("float16")


def test_tolerance_from_yaml_and_loosest_output_dtype(tmp_path: Path) -> None:
    folder = _copy(tmp_path, "rowsum")
    _edit(folder, lambda m: m.update(tolerance={"rtol": 2.0e-3}))
    assert (load_kernel_task(folder).rtol, load_kernel_task(folder).atol) == (2.0e-3, 1.0e-6)

    def two_outputs(meta: dict[str, Any]) -> None:
        meta.pop("tolerance")
        meta["args"].insert(2, {"name": "total", "role": "out", "dtype": "float64"})

    _edit(folder, two_outputs)
    task = load_kernel_task(folder)
    assert (task.rtol, task.atol) == (1.0e-4, 1.0e-6)


def test_brief_and_public_spec_never_hold_hidden_shapes() -> None:
    task = fixture_task("rowsum")
    brief = task.brief()
    assert task.problem in brief
    assert task.signature() in brief
    assert "rows=8, cols=32" in brief and "rows=64, cols=16" in brief
    assert "1e-06 + 0.0001 * |ref|" in brief
    assert "1531" not in brief and "cols=7" not in brief and "37" not in brief
    public = task.spec_json(hidden=False)
    assert "hidden" not in public
    assert "1531" not in json.dumps(public)
    full = task.spec_json(hidden=True)
    assert full["hidden"] == [{"rows": 3, "cols": 7}, {"rows": 37, "cols": 1531}]
    assert full["signature"] == task.signature()
    assert full["args"][0] == {"name": "x", "role": "in", "dtype": "float32", "value": None}


def _copy(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / "suite" / name
    shutil.copytree(FIXTURES / name, folder)
    return folder


def _edit(folder: Path, change: Callable[[dict[str, Any]], Any]) -> None:
    path = folder / "task.yaml"
    meta = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(meta)
    path.write_text(yaml.safe_dump(meta, sort_keys=False), encoding="utf-8")


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda meta: meta.__setitem__(key, value)


def _arg(index: int, **fields: Any) -> Callable[[dict[str, Any]], None]:
    return lambda meta: meta["args"][index].update(fields)


def _hidden(index: int, shape: dict[str, int]) -> Callable[[dict[str, Any]], None]:
    return lambda meta: meta["shapes"]["hidden"].__setitem__(index, shape)


_MALFORMED: list[tuple[str, Callable[[dict[str, Any]], Any], list[str]]] = [
    ("no-function", lambda m: m.pop("function"), ["has no 'function'"]),
    ("no-args", lambda m: m.pop("args"), ["has no 'args'"]),
    ("no-timing", lambda m: m.pop("timing"), ["has no 'timing'"]),
    ("not-kernel", _set("kind", "python"), ["kind:", "'python'"]),
    ("unknown-key", _set("shape", {}), ["shape:", "not a key"]),
    ("bad-function", _set("function", "row sum"), ["function:", "not a C identifier"]),
    ("unknown-role", _arg(1, role="inout"), ["args[1].role", "unknown role 'inout'"]),
    ("unknown-dtype", _arg(0, dtype="float16"), ["args[0] (x).dtype", "'float16'"]),
    ("no-dtype", _arg(0, dtype=None), ["args[0] (x).dtype", "unknown dtype None"]),
    ("sized-dtype", _arg(2, dtype="int32"), ["args[2] (rows).dtype", "always int64"]),
    ("arg-key", _arg(0, shape=[3]), ["args[0].shape", "not a key of an argument"]),
    ("arg-name", _arg(0, name="in"), ["args[0].name", "'in'"]),
    ("dupe-name", _arg(1, name="x"), ["args:", "duplicate names x"]),
    ("no-out", lambda m: m["args"].pop(1), ["args:", "no argument has role 'out'"]),
    (
        "scalar-no-value",
        lambda m: m["args"].append({"name": "eps", "role": "scalar", "dtype": "float32"}),
        ["args[4] (eps).value", "None is not a number"],
    ),
    (
        "scalar-range",
        lambda m: m["args"].append({"name": "k", "role": "scalar", "dtype": "uint8", "value": 300}),
        ["args[4] (k).value", "does not fit in uint8"],
    ),
    ("shape-missing-size", _hidden(1, {"rows": 37}), ["shapes.hidden[1]", "lacks the size 'cols'"]),
    (
        "shape-extra-size",
        _hidden(0, {"rows": 3, "cols": 7, "depth": 2}),
        ["shapes.hidden[0]", "'depth' is not a size argument"],
    ),
    (
        "zero-size",
        _hidden(0, {"rows": 0, "cols": 7}),
        ["shapes.hidden[0].rows", "0 is not a positive"],
    ),
    (
        "negative-timing",
        _set("timing", {"rows": 4, "cols": -1}),
        ["timing.cols", "-1 is not a positive integer"],
    ),
    ("float-size", _hidden(0, {"rows": 2.5, "cols": 7}), ["shapes.hidden[0].rows", "2.5"]),
    (
        "no-visible",
        _set("shapes", {"hidden": [{"rows": 1, "cols": 1}]}),
        ["shapes.visible", "empty"],
    ),
    (
        "shapes-key",
        _set("shapes", {"visible": [{"rows": 1, "cols": 1}], "secret": []}),
        ["shapes.secret"],
    ),
    ("no-seeds", _set("seeds", []), ["seeds:", "non-negative integers"]),
    ("negative-seed", _set("seeds", [1, -2]), ["seeds:", "[1, -2]"]),
    ("dupe-seeds", _set("seeds", [1, 1]), ["seeds:", "duplicates"]),
    (
        "tolerance",
        _set("tolerance", {"rtol": -1.0}),
        ["tolerance.rtol", "-1.0 is not a number >= 0"],
    ),
    ("tolerance-key", _set("tolerance", {"rel": 1.0}), ["tolerance.rel"]),
    ("kernel-missing", _set("kernel", "fast.c"), ["kernel:", "fast.c is missing"]),
    ("expert-missing", _set("expert", "expert.c"), ["expert:", "expert.c is missing"]),
    (
        "cuda-missing",
        _set("cuda", {"kernel": "kernel.cu"}),
        ["cuda.kernel:", "kernel.cu is missing"],
    ),
    ("target", _set("target", "speed"), ["target:", "unknown target 'speed'"]),
    ("problem", _set("problem", "  "), ["problem:", "empty"]),
]


@pytest.mark.parametrize(
    ("change", "expected"), [c[1:] for c in _MALFORMED], ids=[c[0] for c in _MALFORMED]
)
def test_malformed_task_names_the_file_and_key(
    tmp_path: Path, change: Callable[[dict[str, Any]], Any], expected: list[str]
) -> None:
    folder = _copy(tmp_path, "rowsum")
    _edit(folder, change)
    with pytest.raises(ConfigError) as info:
        load_kernel_task(folder)
    message = info.value.message
    assert str(folder / "task.yaml") in message
    for part in expected:
        assert part in message, message
    assert info.value.hint is not None


def test_unreadable_or_non_mapping_yaml(tmp_path: Path) -> None:
    folder = _copy(tmp_path, "rowsum")
    (folder / "task.yaml").write_text("kind: [kernel\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="Cannot parse"):
        load_kernel_task(folder)
    (folder / "task.yaml").write_text("- kernel\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="is not a mapping"):
        load_kernel_task(folder)
    (folder / "task.yaml").unlink()
    with pytest.raises(ConfigError, match="Cannot read"):
        load_kernel_task(folder)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("import numpy as np\n\ndef make_inputs(rng, rows, cols):\n    return {}\n", "reference"),
        ("def reference(x, rows, cols):\n    return {}\n", "make_inputs"),
        ("def make_inputs(rng:\n", "not valid Python"),
        (None, "missing"),
    ],
    ids=["no-reference", "no-make-inputs", "syntax-error", "no-file"],
)
def test_reference_checked_by_parsing(tmp_path: Path, text: str | None, expected: str) -> None:
    folder = _copy(tmp_path, "rowsum")
    if text is None:
        (folder / "reference.py").unlink()
    else:
        (folder / "reference.py").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_kernel_task(folder)
    assert str(folder / "reference.py") in info.value.message
    assert expected in info.value.message


def test_reference_is_never_imported(tmp_path: Path) -> None:
    folder = _copy(tmp_path, "rowsum")
    marker = tmp_path / "imported"
    source = (folder / "reference.py").read_text(encoding="utf-8")
    side_effect = f"open({str(marker)!r}, 'w').close()\nraise SystemExit(3)\n"
    (folder / "reference.py").write_text(source + side_effect, encoding="utf-8")
    assert load_kernel_task(folder).function == "rowsum"
    assert not marker.exists()


def _git(repo: Path, *args: str) -> str:
    res = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, timeout=60
    )
    return res.stdout


def test_write_repo_layout_and_one_base_commit(tmp_path: Path) -> None:
    task = fixture_task("rowsum")
    repo = write_repo(task, tmp_path / "repo")
    tracked = sorted(_git(repo, "ls-files").split())
    assert tracked == sorted(
        [
            ".gitignore",
            "kernel.c",
            WORKLOAD_NAME,
            "tests/__init__.py",
            "tests/kernel_harness.py",
            "tests/kernel_reference.py",
            "tests/kernel_spec.json",
            "tests/test_kernel.py",
        ]
    )
    assert _git(repo, "rev-list", "--count", "HEAD").strip() == "1"
    assert _git(repo, "status", "--porcelain") == ""
    assert ".kernel-build/" in (repo / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert (repo / "kernel.c").read_text(encoding="utf-8") == task.kernel_source()
    assert (repo / "tests/kernel_reference.py").read_text(encoding="utf-8") == (
        task.reference_source()
    )
    spec = json.loads((repo / "tests/kernel_spec.json").read_text(encoding="utf-8"))
    assert spec == task.spec_json(hidden=True)
    for name, template in (
        ("tests/kernel_harness.py", "kernel_harness.py"),
        ("tests/test_kernel.py", "test_kernel.py"),
        (WORKLOAD_NAME, "workload.py"),
    ):
        assert (repo / name).read_bytes() == (TEMPLATES / template).read_bytes()

    other = write_repo(task, tmp_path / "other", source="/* mine */\n")
    assert (other / "kernel.c").read_text(encoding="utf-8") == "/* mine */\n"
    with pytest.raises(ConfigError, match="already exists"):
        write_repo(task, repo)


def test_expert_patch_applies_to_the_generated_repo(tmp_path: Path) -> None:
    task = fixture_task("vadd")
    patch = expert_patch(task)
    assert patch.startswith("diff --git a/kernel.c b/kernel.c\n")
    repo = write_repo(task, tmp_path / "repo")
    subprocess.run(
        ["git", "-C", str(repo), "apply", "-"], input=patch, text=True, check=True, timeout=60
    )
    assert (repo / "kernel.c").read_text(encoding="utf-8") == task.expert_source()
    assert expert_patch(fixture_task("rowsum")) == ""


def test_to_bench_task_writes_the_repo_once_and_refreshes_a_changed_task(tmp_path: Path) -> None:
    folder = _copy(tmp_path, "vadd")
    task = load_kernel_task(folder, "fixtures")
    cache = tmp_path / "cache"
    bench = to_bench_task(task, cache)
    repo = cache / "fixtures__vadd"
    assert bench.source.kind == "folder" and Path(bench.source.path) == repo
    assert bench.tests == ("tests",) and bench.pythonpath == (".",)
    assert bench.workload_code == (TEMPLATES / "workload.py").read_text(encoding="utf-8")
    assert bench.expert_patch == expert_patch(task)
    assert bench.problem == task.brief() and bench.category == "elementwise"
    assert bench.target == "latency" and bench.instance_id == "fixtures__vadd"
    head = _git(repo, "rev-parse", "HEAD")

    assert to_bench_task(task, cache) == bench
    assert _git(repo, "rev-parse", "HEAD") == head  # not written again

    (folder / "kernel.c").write_text(task.kernel_source() + "/* v2 */\n", encoding="utf-8")
    to_bench_task(task, cache)
    assert (repo / "kernel.c").read_text(encoding="utf-8").endswith("/* v2 */\n")
    assert sorted(p.name for p in cache.iterdir()) == ["fixtures__vadd"]

    work = materialize(bench, tmp_path / "work")
    assert (work / "kernel.c").read_text(encoding="utf-8").endswith("/* v2 */\n")
    assert (work / WORKLOAD_NAME).read_text(encoding="utf-8") == bench.workload_code


def test_templates_import_only_stdlib_numpy_and_pytest() -> None:
    base = set(sys.stdlib_module_names) | {"numpy", "pytest"}
    for path in sorted(TEMPLATES.glob("*.py")):
        # KernelBench problems are PyTorch models: their generated files import torch.
        allowed = base | {"torch"} if path.name.startswith("kernelbench_") else base
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                roots = set() if node.level else {(node.module or "").split(".")[0]}
            else:
                continue
            assert roots <= allowed, f"{path.name} imports {roots - allowed}"
