"""Kernel mode end to end: `optimize --kernel` with a scripted Coder, and the kernel suite
scored through `perfsmith bench` (real gcc, real pytest, real timing workers)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from perfsmith.bench.taskset import load_tasks
from perfsmith.kernels.mode import kernel_overrides, task_settings
from perfsmith.kernels.spec import load_kernel_task
from perfsmith.measure.guards import is_protected

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "benchmarks" / "kernels-lite"
FIXTURES = ROOT / "tests" / "fixtures" / "kernels"
FAST = {
    "timing": {"rounds": 4, "values": 2, "warmups": 0, "min_time_s": 0.02},
    "checks": {"hidden_variants": 1},
}


def tree_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def replace_block(path: str, old: str, new: str) -> str:
    return f"{path}\n<<<<<<< SEARCH\n{old}\n=======\n{new}\n>>>>>>> REPLACE\n"


def judge(decision: str) -> str:
    return json.dumps(
        {"decision": decision, "bottleneck": "the loop order", "next_step": "", "suspicion": ""}
    )


def cli(*args: str | Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "COLUMNS": "200", **env},
        check=False,
    )


@pytest.fixture
def setup(tmp_path: Path) -> tuple[dict[str, str], Path]:
    (tmp_path / "fast.yaml").write_text(yaml.safe_dump(FAST))
    return {"PERFSMITH_CACHE": str(tmp_path / "cache")}, tmp_path / "fast.yaml"


def test_kernel_overrides_protect_everything_but_the_kernel(tmp_path: Path) -> None:
    repo, overrides = kernel_overrides(SUITE / "softmax", tmp_path)
    assert (repo / "kernel.c").is_file() and (repo / ".git").is_dir()
    assert overrides["workload"] == "perfsmith_workload.py" and overrides["tests"] == ["tests"]
    assert "softmax" in overrides["brief"] and "int64_t" in overrides["brief"]
    assert overrides["checks"] == task_settings(load_kernel_task(SUITE / "softmax"))["checks"]
    protected = overrides["protected"]
    assert not is_protected("kernel.c", protected)
    for path in ("tests/kernel_harness.py", "perfsmith_workload.py", ".gitignore",
                 ".kernel-build/x/kernel.so", "numpy.py", "helper.h"):  # fmt: skip
        assert is_protected(path, protected), path
    again, _ = kernel_overrides(SUITE / "softmax", tmp_path)
    assert again == repo  # generated once, reused


def test_the_kernel_suite_loads_as_a_task_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERFSMITH_CACHE", str(tmp_path))
    name, tasks = load_tasks(SUITE)
    assert name == "kernels-lite" and len(tasks) >= 8
    for task in tasks:
        assert task.instance_id.startswith("kernels-lite__")
        assert task.expert_patch.startswith("diff --git a/kernel.c b/kernel.c")
        folder = SUITE / task.instance_id.split("__", 1)[1]
        assert task.config == task_settings(load_kernel_task(folder)) and task.tests == ("tests",)
        assert Path(task.source.path, "tests", "kernel_harness.py").is_file()
        assert "hidden" not in task.problem.lower() or "never" in task.problem.lower()


@pytest.mark.slow
def test_scripted_kernel_run_rejects_a_harness_edit_then_keeps_a_faster_kernel(
    setup: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    env, fast = setup
    task = SUITE / "matmul"
    before = tree_digest(task)
    naive = (task / "kernel.c").read_text().rstrip("\n")
    expert = (task / "expert.c").read_text().rstrip("\n")
    script = tmp_path / "script.yaml"
    cheat = "Shadow NumPy so the reference agrees with anything.\n\n" + replace_block(
        "numpy.py", "", "def allclose(*args, **kwargs):\n    return True"
    )
    better = "Block the loops and parallelise.\n\n" + replace_block("kernel.c", naive, expert)
    script.write_text(yaml.safe_dump({"coder": [cheat, better], "judge": [judge("keep")]}))
    runs = tmp_path / "runs"
    res = cli(BIN / "optimize", "--kernel", task, "--model", f"scripted:{script}",
              "--config", fast, "--runs-dir", runs, "--run-id", "k", "--budget-iterations", "2",
              env=env)  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    traj = json.loads((runs / "k" / "trajectory.json").read_text())
    first, second = traj["steps"]
    assert (first["status"], first["code"]) == ("rejected", "protected_path")
    assert second["status"] == "faster" and second["kept"]
    assert second["speedup"]["low"] > second["speedup"]["threshold"] > 1.0
    assert traj["info"]["best"]["step"] == 2
    best = (runs / "k" / "best.patch").read_text()
    assert best.startswith("diff --git a/kernel.c b/kernel.c") and "tests/" not in best
    assert tree_digest(task) == before  # the task folder is never written
    prompt = (runs / "k" / "steps" / "001" / "coder_prompt.md").read_text()
    assert "void matmul(" in prompt and "kernel.c" in prompt
    # The Coder reads valgrind's line profile of the kernel and the CPU, not cProfile's.
    assert "Native profile of one matmul call at m=448, n=448, k=448" in prompt
    hot = re.search(r"\n\s+11 \|\s+(\d+\.\d)% .*\| +acc \+= a\[i \* k \+ p\]", prompt)
    assert hot and float(hot.group(1)) > 50, prompt[-4000:]  # the inner loop's line, annotated
    assert "SIMD:" in prompt and "Caches: L1d" in prompt


def test_kernel_with_a_repository_is_refused(setup: tuple[dict[str, str], Path]) -> None:
    env, _ = setup
    res = cli(BIN / "optimize", ROOT / "examples" / "logstats", "--kernel", SUITE / "matmul",
              "--model", "scripted:x.yaml", env=env)  # fmt: skip
    assert res.returncode == 2
    assert "--kernel names the whole task" in res.stderr


def test_a_folder_that_is_not_a_kernel_task_is_refused(
    setup: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    env, _ = setup
    res = cli(BIN / "optimize", "--kernel", tmp_path, "--model", "scripted:x.yaml", env=env)
    assert res.returncode == 2 and "task.yaml" in res.stderr


@pytest.mark.docker
@pytest.mark.slow
def test_kernel_checks_build_and_pass_inside_a_docker_sandbox(tmp_path: Path) -> None:
    """The sandbox image gets the C toolchain (headers, libgcc, libgomp) for kernel tasks;
    ``--sandbox docker`` refuses to fall back, so this ran in containers."""
    from tests.sandbox.docker_helpers import client_or_skip

    client_or_skip()
    (tmp_path / "fast.yaml").write_text(yaml.safe_dump(FAST))
    runs = tmp_path / "gold"
    res = cli(BIN / "perfsmith", "bench", "eval", FIXTURES, "--gold", "--task", "fixtures__vadd",
              "--task", "kernels__rowsum", "--config", tmp_path / "fast.yaml",
              "--runs-dir", runs, "--sandbox", "docker",
              env={"PERFSMITH_CACHE": str(tmp_path / "cache")})  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    results = {
        r["instance_id"]: r
        for r in map(json.loads, (runs / "results.jsonl").read_text().splitlines())
    }
    vadd, rowsum = results["fixtures__vadd"], results["kernels__rowsum"]
    assert vadd["status"] != "error" and vadd["correct"] is True, vadd  # built and checked
    # rowsum has no expert kernel: its baseline still built and passed inside the container
    assert (rowsum["status"], rowsum["reason"]) == ("no_expert", "the task has no expert patch")
