"""KernelBench problems: file detection, size scaling, the generated repository, and (with
PyTorch) its checks against real problems and against candidates that cheat.

The parts that need no PyTorch run everywhere. The generated tests and workload need an
interpreter with torch and pytest: the one named by ``PERFSMITH_TEST_PYTHON``, else this
one when it has torch; without either those tests are skipped. perfsmith itself only
generates the repositories here (it never imports torch), so a separate environment works:

    python3 -m venv /tmp/torchvenv && /tmp/torchvenv/bin/pip install torch pytest
    export PERFSMITH_TEST_PYTHON=/tmp/torchvenv/bin/python
    .venv/bin/pytest tests/kernels/test_kernelbench.py
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from perfsmith.bench.taskset import load_tasks
from perfsmith.errors import ConfigError
from perfsmith.kernels import kernelbench as kb
from perfsmith.measure.guards import is_protected
from tests.kernels.kernel_fixtures import CheckRun, run_tests

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "kernelbench"
MATMUL = FIXTURES / "1_Square_matrix_multiplication_.py"
RELU = FIXTURES / "19_ReLU.py"
SUM = FIXTURES / "47_Sum_reduction_over_a_dimension.py"
GEMM = FIXTURES / "12_Gemm_Multiply_LeakyReLU.py"
MSE = FIXTURES / "94_MSELoss.py"
BIN = Path(sys.executable).parent
_COUNTER = itertools.count()


def _torch_python() -> str | None:
    explicit = os.environ.get("PERFSMITH_TEST_PYTHON")
    if explicit:
        return explicit
    return sys.executable if importlib.util.find_spec("torch") is not None else None


TORCH_PYTHON = _torch_python()
needs_torch = pytest.mark.skipif(
    TORCH_PYTHON is None,
    reason="needs PyTorch: set PERFSMITH_TEST_PYTHON to an interpreter with torch and pytest",
)


@pytest.fixture
def no_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``torch`` unimportable for this interpreter's look-ups."""
    monkeypatch.setitem(sys.modules, "torch", None)  # find_spec then answers None


# ---------------------------------------------------------------- detection and parsing


def test_kernelbench_files_are_recognised_without_importing_them(tmp_path: Path) -> None:
    for path in (MATMUL, RELU, SUM, GEMM, MSE):
        assert kb.is_kernelbench_file(path), path
    never = tmp_path / "never_run.py"
    never.write_text(
        "raise SystemExit('imported')\nclass Model: pass\n"
        "def get_inputs(): pass\ndef get_init_inputs(): pass\n"
    )
    assert kb.is_kernelbench_file(never)  # parsed only: the raise never runs
    cases = {
        "no_init.py": "class Model: pass\ndef get_inputs(): pass\n",
        "no_model.py": "class Other: pass\ndef get_inputs(): pass\ndef get_init_inputs(): pass\n",
        "nested.py": "def f():\n    class Model: pass\ndef get_inputs(): pass\n"
        "def get_init_inputs(): pass\n",
        "broken.py": "class Model(:\n",
        "model.txt": "class Model: pass\ndef get_inputs(): pass\ndef get_init_inputs(): pass\n",
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        assert not kb.is_kernelbench_file(tmp_path / name), name
    assert not kb.is_kernelbench_file(tmp_path)
    assert not kb.is_kernelbench_file(tmp_path / "missing.py")
    assert not kb.is_kernelbench_file(ROOT / "benchmarks" / "kernels-lite" / "softmax")


def test_load_kernelbench_names_what_is_missing(tmp_path: Path) -> None:
    problem = kb.load_kernelbench(RELU)
    assert problem.instance_id == "kernelbench__19_ReLU" and problem.suite == "kernelbench"
    assert problem.constants == {"batch_size": 16, "dim": 16384}
    assert problem.description == "Simple model that performs a ReLU activation."
    assert kb.load_kernelbench(RELU, "level1").instance_id == "level1__19_ReLU"
    bad = tmp_path / "bad.py"
    bad.write_text("class Model: pass\ndef get_inputs(): pass\n")
    with pytest.raises(ConfigError, match=r"no top-level get_init_inputs\(\)"):
        kb.load_kernelbench(bad)
    bad.write_text("def get_inputs(): pass\n")
    with pytest.raises(ConfigError, match=r"class Model, get_init_inputs\(\)"):
        kb.load_kernelbench(bad)
    bad.write_text("class Model(:\n")
    with pytest.raises(ConfigError, match="not valid Python"):
        kb.load_kernelbench(bad)


def test_size_constants_evaluate_int_expressions_only() -> None:
    source = """
import torch
N = 2048 * 2
M = N // 4 + 1
shape = (M, 3, 2 ** 10)
dim = 1
neg = -5
scale = 2.0
flag = True
batch: int = 64
made = torch.randn(3)
unknown = other + 1
div = N // 0
later = 7
later = 'now a string'
a = b = 32
odd = (1, 2.5)
"""
    assert kb.size_constants(source) == {
        "N": 4096,
        "M": 1025,
        "shape": (1025, 3, 1024),
        "dim": 1,
        "neg": -5,
        "batch": 64,
        "a": 32,
        "b": 32,
    }
    assert kb.size_constants("def f():\n    hidden = 64\n") == {}
    assert kb.size_constants("x = 2 ** 1000\n") == {}  # exponents past 64 are not sizes
    # A chain of powers would build ever larger integers while the file is read.
    chain = "a = 2 ** 64\nb = a ** 64\nc = b ** 64\nd = c ** 64\n"
    assert kb.size_constants(chain) == {}


def test_scale_value_halves_and_makes_odd_only_sizes() -> None:
    assert kb.scale_value(16384, "half") == 8192
    assert kb.scale_value(16384, "odd") == 8193
    assert kb.scale_value(1025, "half") == 512 and kb.scale_value(1025, "odd") == 513
    assert kb.scale_value(16, "half") == 8 and kb.scale_value(16, "odd") == 9
    for small in (0, 1, 3, 15, -64):  # axes, kernel sizes, strides stay
        assert kb.scale_value(small, "half") == small == kb.scale_value(small, "odd")
    assert kb.scale_value((4096, 3, 64), "odd") == (2049, 3, 33)
    with pytest.raises(ValueError, match="unknown scaling"):
        kb.scale_value(64, "third")  # type: ignore[arg-type]


def test_shrink_levels_halve_until_nothing_changes() -> None:
    constants: dict[str, kb.SizeValue] = {"N": 2048, "dim": 1, "shape": (64, 3)}
    levels = kb.shrink_levels(constants)
    assert levels[0] == {}
    assert levels[1] == {"N": 1024, "shape": (32, 3)}
    assert levels[-1] == {"N": 8, "shape": (8, 3)}
    assert [lv["N"] for lv in levels[1:]] == [1024, 512, 256, 128, 64, 32, 16, 8]
    assert all("dim" not in lv for lv in levels)
    assert kb.shrink_levels({"dim": 1, "k": 3}) == [{}]
    assert kb.shrink_levels({}) == [{}]


def test_hidden_variants_differ_from_their_level_and_from_each_other() -> None:
    constants: dict[str, kb.SizeValue] = {"batch_size": 16, "dim": 16384, "axis": 1}
    assert kb.hidden_variants(constants, {}) == [
        {"batch_size": 8, "dim": 8192},
        {"batch_size": 9, "dim": 8193},
    ]
    assert kb.hidden_variants(constants, {"batch_size": 8, "dim": 4096}) == [
        {"batch_size": 8, "dim": 2048},
        {"batch_size": 8, "dim": 2049},
    ]
    assert kb.hidden_variants({"k": 3}, {}) == []  # no sizes: nothing to vary
    assert kb.hidden_variants({"n": 16}, {"n": 8}) == []  # 8 is no size any more


def test_problem_levels_and_spec_are_json_and_keep_the_hidden_sizes() -> None:
    problem = kb.load_kernelbench(MSE)
    levels = problem.levels()
    assert levels[0] == {
        "base": {},
        "hidden": [
            {"batch_size": 16384, "input_shape": [16384]},
            {"batch_size": 16385, "input_shape": [16385]},
        ],
    }
    assert levels[5]["base"] == {"batch_size": 1024, "input_shape": [1024]}
    spec = problem.spec_json()
    assert json.loads(json.dumps(spec)) == spec
    assert spec["seeds"] == list(kb.SEEDS) and spec["input_budget"] == kb.INPUT_BUDGET
    assert spec["tolerance"]["float32"] == [1.0e-4, 1.0e-8]


def test_model_new_source_renames_model_and_drops_the_input_functions() -> None:
    source = (
        "import torch\nimport torch.nn as nn\n\n"
        "@some.decorator\nclass  Model(nn.Module):\n"
        "    def __init__(self):\n        super(Model, self).__init__()\n"
        "        self.twin = Model.__name__\n\n"
        "    def forward(self, x):  # Model stays in comments\n        return x * K\n\n"
        "K = 4\n\n\n\n"
        "@decorated\ndef get_inputs():\n    return [torch.randn(K)]\n\n"
        "def get_init_inputs():\n    return []\n\n"
        "def helper():\n    return Model\n"
    )
    new = kb.model_new_source(source)
    compile(new, "model_new.py", "exec")
    assert "class  ModelNew(nn.Module):" in new and "super(ModelNew, self)" in new
    assert "ModelNew.__name__" in new and "# Model stays in comments" in new
    assert "get_inputs" not in new and "get_init_inputs" not in new and "@decorated" not in new
    assert "K = 4" in new and "return Model\n" in new  # outside the class: untouched
    assert "\n\n\n\n" not in new
    assert new.startswith("# ModelNew: the faster drop-in")
    for path in (MATMUL, RELU, SUM, GEMM, MSE):
        text = kb.model_new_source(path.read_text())
        compile(text, path.name, "exec")
        assert "class ModelNew(nn.Module):" in text and "class Model(" not in text
    with pytest.raises(ValueError, match="no top-level class Model"):
        kb.model_new_source("def get_inputs(): pass\n")


# ---------------------------------------------------------------- torch missing


def test_torch_available_asks_another_interpreter_in_a_subprocess(tmp_path: Path) -> None:
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    assert not kb.torch_available(str(fake))
    assert kb.torch_available(sys.executable) == (importlib.util.find_spec("torch") is not None)
    assert not kb.torch_available(str(tmp_path / "missing-python"))


def test_without_torch_nothing_is_generated_and_the_error_says_what_to_install(
    tmp_path: Path, no_torch: None
) -> None:
    problem = kb.load_kernelbench(RELU)  # parsing needs no torch
    cache = tmp_path / "cache"
    for attempt in (
        lambda: kb.to_bench_task(problem, cache),
        lambda: kb.bench_task(RELU, "level1", cache),
        lambda: kb.kernelbench_overrides(RELU, cache),
    ):
        with pytest.raises(ConfigError) as info:
            attempt()
        assert "KernelBench tasks need PyTorch" in info.value.message
        assert "pip install 'perfsmith[kernelbench]'" in info.value.hint
    assert not cache.exists()
    not_a_problem = tmp_path / "helper.py"
    not_a_problem.write_text("def get_inputs(): pass\n")
    with pytest.raises(ConfigError, match="is not a KernelBench problem"):
        kb.kernelbench_overrides(not_a_problem, cache)


def test_a_suite_of_kernelbench_files_without_torch_stops_with_the_same_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_torch: None
) -> None:
    monkeypatch.setenv("PERFSMITH_CACHE", str(tmp_path))
    with pytest.raises(ConfigError, match="KernelBench tasks need PyTorch"):
        load_tasks(FIXTURES)
    assert not (tmp_path / "kernels").exists()


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None, reason="torch is installed")
def test_optimize_kernel_with_a_kernelbench_file_refuses_without_torch(tmp_path: Path) -> None:
    res = subprocess.run(
        [str(BIN / "optimize"), "--kernel", str(RELU), "--model", "scripted:x.yaml"],
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "COLUMNS": "200", "PERFSMITH_CACHE": str(tmp_path / "cache")},
    )  # fmt: skip
    assert res.returncode == 2, res.stderr[-2000:]
    assert "KernelBench tasks need PyTorch" in res.stderr
    assert "perfsmith[kernelbench]" in res.stderr
    assert not (tmp_path / "cache").exists()


# ---------------------------------------------------------------- the generated repository


def test_generated_repository_layout_and_protection(tmp_path: Path) -> None:
    problem = kb.load_kernelbench(GEMM)
    repo = kb.write_repo(problem, tmp_path / "repo")
    expected = {
        "reference_model.py", "model_new.py", ".gitignore", "perfsmith_workload.py",
        "tests/__init__.py", "tests/kernelbench_harness.py", "tests/kernelbench_spec.json",
        "tests/test_model.py",
    }  # fmt: skip
    files = {
        p.relative_to(repo).as_posix()
        for p in repo.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(repo).parts
    }
    assert files == expected
    assert (repo / "reference_model.py").read_text() == GEMM.read_text()
    assert "class ModelNew(nn.Module):" in (repo / "model_new.py").read_text()
    status = subprocess.run(
        ["git", "-C", str(repo), "status", "--porcelain"], capture_output=True, text=True
    )
    assert status.returncode == 0 and status.stdout == ""  # one clean base commit
    protected = kb.KERNELBENCH_SETTINGS["protected"]
    assert not is_protected("model_new.py", protected)
    for path in (*sorted(expected - {"model_new.py"}), "conftest.py", "torch.py",
                 "tests/conftest.py", ".torch-extensions/x/x.so", "helper.cu"):  # fmt: skip
        assert is_protected(path, protected), path
    spec = json.loads((repo / "tests" / "kernelbench_spec.json").read_text())
    assert spec["levels"][0]["hidden"][1] == {
        "batch_size": 65,
        "in_features": 513,
        "out_features": 257,
    }
    with pytest.raises(ConfigError, match="already exists"):
        kb.write_repo(problem, repo)


def test_the_brief_shows_the_reference_and_rules_but_no_hidden_size() -> None:
    problem = kb.load_kernelbench(RELU)
    brief = problem.brief()
    assert RELU.read_text().rstrip("\n") in brief
    assert "model_new.py" in brief and "load_state_dict(strict=True)" in brief
    assert "other sizes that are not shown" in brief
    levels = problem.levels()
    hidden = {v for level in levels for sizes in level["hidden"] for v in sizes.values()}
    assert {8192, 8193} <= hidden
    for value in hidden:
        if not re.search(rf"\b{value}\b", RELU.read_text()):
            assert not re.search(rf"\b{value}\b", brief), value


def test_to_bench_task_caches_and_rewrites_when_the_source_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kb, "torch_available", lambda python=None: True)
    source = tmp_path / "level1" / "19_ReLU.py"
    source.parent.mkdir()
    shutil.copy(RELU, source)
    cache = tmp_path / "cache"
    task = kb.bench_task(source, "level1", cache)
    folder = Path(task.source.path)
    assert folder == cache / "kernels" / "level1__19_ReLU"
    assert task.config == kb.KERNELBENCH_SETTINGS and task.config is not kb.KERNELBENCH_SETTINGS
    assert task.tests == ("tests",) and task.workload_code.startswith('"""Time ModelNew')
    assert task.expert_patch == "" and task.category == "kernelbench"
    head = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"],
                          capture_output=True, text=True).stdout  # fmt: skip
    again = kb.bench_task(source, "level1", cache)
    assert again == task
    assert subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"],
                          capture_output=True, text=True).stdout == head  # fmt: skip
    source.write_text(source.read_text().replace("dim = 16384", "dim = 4096"))
    kb.bench_task(source, "level1", cache)
    assert "dim = 4096" in (folder / "reference_model.py").read_text()
    leftovers = [p.name for p in (cache / "kernels").iterdir() if p.name.startswith(".")]
    assert leftovers == []
    repo, overrides = kb.kernelbench_overrides(source, cache)
    assert repo == folder and overrides["workload"] == "perfsmith_workload.py"
    assert overrides["protected"] == ["*", "!model_new.py"] and overrides["mode"] == "python"
    assert "dim = 4096" in overrides["brief"]


def test_a_folder_of_kernelbench_files_is_a_suite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kb, "torch_available", lambda python=None: True)
    monkeypatch.setenv("PERFSMITH_CACHE", str(tmp_path))
    name, tasks = load_tasks(FIXTURES)
    assert name == "kernelbench"
    assert [t.instance_id for t in tasks] == sorted(
        f"kernelbench__{p.stem}" for p in FIXTURES.glob("*.py")
    )
    for task in tasks:
        assert Path(task.source.path, "tests", "kernelbench_harness.py").is_file()
        assert task.config["protected"] == ["*", "!model_new.py"]


# ---------------------------------------------------------------- with PyTorch


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each fixture problem's generated repository (copied before a test changes it)."""
    base = tmp_path_factory.mktemp("kernelbench")
    return {
        path.stem: kb.write_repo(kb.load_kernelbench(path), base / path.stem)
        for path in (MATMUL, RELU, SUM, GEMM, MSE)
    }


def with_model_new(repos: dict[str, Path], name: str, tmp_path: Path, source: str | None) -> Path:
    repo = tmp_path / f"{name}-{next(_COUNTER)}"
    shutil.copytree(repos[name], repo)
    if source is not None:
        (repo / "model_new.py").write_text(source)
    return repo


def run_checks(repo: Path) -> CheckRun:
    """Run the repository's tests the way perfsmith does, with the torch interpreter."""
    assert TORCH_PYTHON is not None
    return run_tests(repo, repo.parent, python=TORCH_PYTHON, timeout_s=600)


CASES = [f"{size}-seed{seed}" for size in ("problem", "hidden1", "hidden2") for seed in kb.SEEDS]


@needs_torch
@pytest.mark.slow
@pytest.mark.parametrize("name", [p.stem for p in (MATMUL, RELU, SUM, GEMM, MSE)])
def test_the_starting_model_new_passes_every_check(
    repos: dict[str, Path], tmp_path: Path, name: str
) -> None:
    run = run_checks(with_model_new(repos, name, tmp_path, None))
    assert run.failed() == set(), run.messages
    expected = {"test_model_new_loads"}
    expected |= {f"test_matches_reference[{c}]" for c in CASES}
    expected |= {f"test_{t}[{s}]" for t in ("same_address_new_content", "repeat")
                 for s in ("problem", "hidden1", "hidden2")}  # fmt: skip
    assert run.passed() == expected


RELU_IN_PLACE = """import torch
import torch.nn as nn

class ModelNew(nn.Module):
    def forward(self, x):
        return torch.relu_(x)  # right values, written over the input
"""

RELU_HALF = """import torch
import torch.nn as nn

class ModelNew(nn.Module):
    def forward(self, x):
        return torch.relu(x.half()).float()
"""

RELU_SUBCLASS = """import torch
import torch.nn as nn

class Lazy(torch.Tensor):
    pass

class ModelNew(nn.Module):
    def forward(self, x):
        return torch.relu(x).as_subclass(Lazy)
"""

# Patches torch.relu when imported: a reference run after this import would agree.
RELU_PATCHES_TORCH = """import torch
import torch.nn as nn

torch.relu = lambda x: torch.zeros_like(x)

class ModelNew(nn.Module):
    def forward(self, x):
        return torch.relu(x)
"""

# Right only at the problem's own sizes.
RELU_FIXED_SIZE = """import torch
import torch.nn as nn

class ModelNew(nn.Module):
    def forward(self, x):
        return torch.relu(x.view(16, 16384))
"""

MATMUL_POINTER_CACHE = """import torch
import torch.nn as nn

class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.cache = {}

    def forward(self, A, B):
        key = (A.data_ptr(), B.data_ptr(), tuple(A.shape), tuple(B.shape))
        if key not in self.cache:
            self.cache[key] = torch.matmul(A, B)
        return self.cache[key]
"""

MATMUL_HALF = """import torch
import torch.nn as nn

class ModelNew(nn.Module):
    def forward(self, A, B):
        return torch.matmul(A.half(), B.half()).float()
"""

# Allocates the output and never writes it (the stale-memory hack).
SUM_EMPTY = """import torch
import torch.nn as nn

class ModelNew(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        shape = list(x.shape)
        shape[self.dim] = 1
        return torch.empty(shape, dtype=x.dtype, device=x.device)
"""

# Keeps its own copy of the weights it was built with; load_state_dict never reaches it.
GEMM_OWN_WEIGHTS = """import torch
import torch.nn as nn

class ModelNew(nn.Module):
    def __init__(self, in_features, out_features, multiplier, negative_slope):
        super().__init__()
        self.gemm = nn.Linear(in_features, out_features)
        self.multiplier = multiplier
        self.negative_slope = negative_slope
        self.weight_copy = self.gemm.weight.detach().clone()
        self.bias_copy = self.gemm.bias.detach().clone()

    def forward(self, x):
        y = torch.nn.functional.linear(x, self.weight_copy, self.bias_copy) * self.multiplier
        return torch.nn.functional.leaky_relu(y, self.negative_slope)
"""

GEMM_RENAMED = """import torch
import torch.nn as nn

class ModelNew(nn.Module):
    def __init__(self, in_features, out_features, multiplier, negative_slope):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        self.multiplier = multiplier
        self.negative_slope = negative_slope

    def forward(self, x):
        y = self.linear(x) * self.multiplier
        return torch.nn.functional.leaky_relu(y, self.negative_slope)
"""

# Right for its first two calls, then replays the last result: within what the tests ask
# of one instance, so only the workload's check of every timed call can see it.
SUM_GOES_STALE = """import torch
import torch.nn as nn

class ModelNew(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.dim = dim
        self.calls = 0
        self.last = None

    def forward(self, x):
        self.calls += 1
        if self.calls <= 2 or self.last is None:
            self.last = torch.sum(x, dim=self.dim, keepdim=True)
        return self.last
"""

ALL_CASES = {f"test_matches_reference[{c}]" for c in CASES}
HIDDEN_CASES = {c for c in ALL_CASES if "hidden" in c}

# name: (problem, model_new.py, tests that must fail (a subset), words of every message)
EXPLOITS = {
    "writes its input": (RELU.stem, RELU_IN_PLACE, ALL_CASES, "changed its input tensor 0"),
    "computes in half": (RELU.stem, RELU_HALF, ALL_CASES, "elements wrong"),
    "returns a tensor subclass": (RELU.stem, RELU_SUBCLASS, ALL_CASES, "not a torch.Tensor"),
    "patches torch at import": (RELU.stem, RELU_PATCHES_TORCH, ALL_CASES, "elements wrong"),
    "hard-codes the sizes": (RELU.stem, RELU_FIXED_SIZE, HIDDEN_CASES, "not shown"),
    "caches by address": (
        MATMUL.stem,
        MATMUL_POINTER_CACHE,
        {f"test_same_address_new_content[{s}]" for s in ("problem", "hidden1", "hidden2")},
        "same tensors with new contents",
    ),
    "matmul in half": (MATMUL.stem, MATMUL_HALF, ALL_CASES, "elements wrong"),
    "never writes its output": (SUM.stem, SUM_EMPTY, ALL_CASES, "wrong"),
    "keeps its own weights": (GEMM.stem, GEMM_OWN_WEIGHTS, ALL_CASES, "elements wrong"),
    "renames the parameters": (GEMM.stem, GEMM_RENAMED, {"test_model_new_loads"}, "linear.weight"),
}


@needs_torch
@pytest.mark.slow
@pytest.mark.parametrize("exploit", list(EXPLOITS))
def test_a_cheating_model_new_is_caught(
    repos: dict[str, Path], tmp_path: Path, exploit: str
) -> None:
    name, source, must_fail, words = EXPLOITS[exploit]
    run = run_checks(with_model_new(repos, name, tmp_path, source))
    assert must_fail <= run.failed(), (run.failed(), run.output[-3000:])
    for test in must_fail:
        assert words in run.messages[test], run.messages[test]
    if exploit == "hard-codes the sizes":
        assert {c for c in ALL_CASES if "problem" in c} <= run.passed()
        for test in HIDDEN_CASES:  # what fails at a hidden size does not say the size
            for number in ("8192", "8193", "65536", "73737"):
                assert number not in run.messages[test], run.messages[test]


WORKLOAD_DRIVER = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("perfsmith_workload", "perfsmith_workload.py")
w = importlib.util.module_from_spec(spec)
spec.loader.exec_module(w)
calls, prints = int(sys.argv[1]), []
variant = w.variants()[int(sys.argv[2])] if len(sys.argv) > 2 else None
try:
    for _ in range(calls):
        w.setup(variant) if variant is not None else w.setup()
        prints.append(w.workload())
    w.setup()
    print(json.dumps({"ok": True, "prints": prints, "variants": w.variants()}))
except Exception as exc:
    print(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}", "calls": len(prints)}))
"""


def drive_workload(repo: Path, calls: int, *extra: str, seed: str = "5") -> dict[str, object]:
    assert TORCH_PYTHON is not None
    res = subprocess.run(
        [TORCH_PYTHON, "-c", WORKLOAD_DRIVER, str(calls), *extra],
        cwd=repo, env={**os.environ, "PERFSMITH_SEED": seed},
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    result: dict[str, object] = json.loads(res.stdout.strip().splitlines()[-1])
    return result


@needs_torch
@pytest.mark.slow
def test_the_workload_times_fresh_inputs_and_checks_every_call(
    repos: dict[str, Path], tmp_path: Path
) -> None:
    repo = with_model_new(repos, SUM.stem, tmp_path, None)
    first = drive_workload(repo, 3)
    assert first["ok"], first
    prints = first["prints"]
    assert isinstance(prints, list) and len(prints) == 3
    assert set(prints[0]) == {"out0"} and len(prints[0]["out0"]) == 2 + 16
    assert prints[0] != prints[1]  # new inputs on every call
    assert drive_workload(repo, 3)["prints"] == prints  # the same seed, the same values
    assert drive_workload(repo, 3, seed="6")["prints"] != prints
    assert first["variants"] == [
        {"batch_size": 8, "dim1": 128, "dim2": 128},
        {"batch_size": 9, "dim1": 129, "dim2": 129},
    ]
    odd = drive_workload(repo, 2, "1")
    assert odd["ok"], odd
    stale = with_model_new(repos, SUM.stem, tmp_path, SUM_GOES_STALE)
    caught = drive_workload(stale, 4)
    assert not caught["ok"] and caught["calls"] == 3, caught
    assert "KernelMismatch: timed call 3" in str(caught["error"])
    assert "does not match the float64 reference" in str(caught["error"])
    writes = drive_workload(with_model_new(repos, RELU.stem, tmp_path, RELU_IN_PLACE), 2)
    assert not writes["ok"] and "changed its input tensor 0" in str(writes["error"])


@needs_torch
@pytest.mark.slow
def test_a_model_new_that_goes_stale_after_two_calls_passes_the_tests_but_not_the_workload(
    repos: dict[str, Path], tmp_path: Path
) -> None:
    """Why every timed call is checked: the tests call one instance at most twice."""
    run = run_checks(with_model_new(repos, SUM.stem, tmp_path, SUM_GOES_STALE))
    assert run.failed() == set(), run.messages
    assert not drive_workload(with_model_new(repos, SUM.stem, tmp_path, SUM_GOES_STALE), 4)["ok"]


# Its float64 run fails (a plain float32 tensor attribute that .double() does not convert)
# and it rejects odd widths, so the "odd" hidden variant is skipped.
PICKY_PROBLEM = """import torch
import torch.nn as nn

class Model(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.w = torch.eye(width) * 3.0

    def forward(self, x):
        if x.shape[1] % 2:
            raise ValueError("needs an even width")
        return x @ self.w

batch = 32
width = 64

def get_inputs():
    return [torch.randn(batch, width)]

def get_init_inputs():
    return [width]
"""


@needs_torch
@pytest.mark.slow
def test_sizes_the_reference_rejects_are_skipped_and_float32_stands_in_for_float64(
    tmp_path: Path,
) -> None:
    source = tmp_path / "suite" / "picky.py"
    source.parent.mkdir()
    source.write_text(PICKY_PROBLEM)
    repo = kb.write_repo(kb.load_kernelbench(source), tmp_path / "repo")
    run = run_checks(repo)
    assert run.failed() == set(), run.messages
    skipped = {t for t, o in run.outcomes.items() if o == "skipped"}
    assert skipped == {c for c in run.outcomes if "hidden2" in c}
    assert {f"test_matches_reference[problem-seed{s}]" for s in kb.SEEDS} <= run.passed()
    assert {f"test_matches_reference[hidden1-seed{s}]" for s in kb.SEEDS} <= run.passed()
    probe = (
        "import sys; sys.path.insert(0, '.')\n"
        "from tests import kernelbench_harness as h\n"
        "spec = h.load_spec(); ref = h.load_reference()\n"
        "case = h.make_case(ref, spec, h.size_cases(ref, spec)[0], 1)\n"
        "print(case.problem, case.expected.float64, case.expected.dtypes)\n"
    )
    assert TORCH_PYTHON is not None
    res = subprocess.run([TORCH_PYTHON, "-c", probe], cwd=repo, capture_output=True, text=True)
    assert res.stdout.split() == ["None", "False", "[torch.float32]"], res.stderr[-2000:]
    wrong = with_model_new({"repo": repo}, "repo", tmp_path, PICKY_PROBLEM.replace(
        "class Model(", "class ModelNew(").replace("x @ self.w", "x @ self.w + 1e-3"))  # fmt: skip
    assert {f"test_matches_reference[problem-seed{s}]" for s in kb.SEEDS} <= run_checks(
        wrong
    ).failed()
