"""benchmarks/kernels-lite: every starting and expert kernel passes the generated checks, and
expert kernels are significantly faster through the same gold scoring as any task set."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from perfsmith.kernels.repo import write_repo
from perfsmith.kernels.spec import load_kernel_task

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "benchmarks" / "kernels-lite"
TASKS = sorted(p.name for p in SUITE.iterdir() if (p / "task.yaml").is_file())
# Scored in CI: one kernel (about 100 s on two cores; the scripted run in test_kernel_mode
# shows matmul's expert faster through the loop). `perfsmith bench eval
# benchmarks/kernels-lite --gold` scores the whole suite.
GOLD = ("kernels-lite__softmax",)
FAST = {
    "timing": {"rounds": 4, "values": 2, "warmups": 0, "min_time_s": 0.02},
    "checks": {"hidden_variants": 1},
}


def test_the_suite_has_the_promised_kernels() -> None:
    assert len(TASKS) >= 8
    for name in ("matmul", "softmax", "layernorm", "reduction", "conv1d", "conv2d",
                 "stencil", "prefix_scan", "histogram"):  # fmt: skip
        assert name in TASKS
    for name in TASKS:
        task = load_kernel_task(SUITE / name)
        assert task.expert and task.hidden and len(task.seeds) >= 2, name
        assert task.instance_id == f"kernels-lite__{name}"


@pytest.mark.parametrize("which", ["kernel", "expert"])
@pytest.mark.parametrize("name", TASKS)
def test_each_kernel_passes_every_generated_check(name: str, which: str, tmp_path: Path) -> None:
    task = load_kernel_task(SUITE / name)
    source = task.kernel_source() if which == "kernel" else task.expert_source()
    repo = write_repo(task, tmp_path / "repo", source=source)
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(repo)},
        check=False,
    )
    assert res.returncode == 0, res.stdout[-3000:]
    assert " passed" in res.stdout and "failed" not in res.stdout


@pytest.mark.slow
def test_gold_expert_kernels_are_correct_and_significantly_faster(tmp_path: Path) -> None:
    (tmp_path / "fast.yaml").write_text(yaml.safe_dump(FAST))
    runs = tmp_path / "gold"
    argv = [str(BIN / "perfsmith"), "bench", "eval", str(SUITE), "--gold",
            "--config", str(tmp_path / "fast.yaml"), "--runs-dir", str(runs)]  # fmt: skip
    for instance in GOLD:
        argv += ["--task", instance]
    res = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=1200,
        env={**os.environ, "PERFSMITH_CACHE": str(tmp_path / "cache"), "COLUMNS": "200"},
        check=False,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    results = [json.loads(x) for x in (runs / "results.jsonl").read_text().splitlines()]
    assert sorted(r["instance_id"] for r in results) == sorted(GOLD)
    for r in results:
        assert (r["status"], r["correct"]) == ("faster", True), r
        assert r["speedup_ci_low"] > 1.2, r  # the interval's low end, not the point
    report = json.loads((runs / "report.json").read_text())
    fast = report["summary"]["fast_p"]
    assert fast["fast_1"] == fast["fast_1.1"] == 1.0  # every expert above 1.1x: fast_1.1 is 1
