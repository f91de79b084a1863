"""The built-in suite benchmarks/perfsmith-lite: well-formed, and every expert patch is a
verified, significant gain (gold validation through the real command)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from perfsmith.bench.taskset import load_tasks
from perfsmith.diffs import touched_paths
from perfsmith.measure import guards

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "benchmarks" / "perfsmith-lite"
BIN = Path(sys.executable).parent


def test_the_suite_is_well_formed() -> None:
    name, tasks = load_tasks(SUITE)
    assert name == "perfsmith-lite"
    assert len(tasks) >= 12
    assert len({t.category for t in tasks}) >= 10  # spread over different classes
    for t in tasks:
        assert t.instance_id.startswith("perfsmith-lite__")
        assert t.problem and t.category and t.tests, t.instance_id
        assert "def setup" in t.workload_code and "def workload" in t.workload_code
        assert "PERFSMITH_SEED" in t.workload_code, f"{t.instance_id}: no hidden variants"
        touched = touched_paths(t.expert_patch)
        assert touched, t.instance_id
        protected = [p for p in touched if guards.is_protected(p, tuple(guards_defaults()))]
        assert protected == [], f"{t.instance_id}: the expert patch edits {protected}"
        repo = Path(t.source.path)
        assert (repo / "tests").is_dir() and (repo / "README.md").is_file(), t.instance_id
        assert len(list((repo / "tests").glob("test_*.py"))) >= 1
        assert not list(repo.rglob("__pycache__")), f"{t.instance_id}: stray caches"


def guards_defaults() -> tuple[str, ...]:
    from perfsmith.config import DEFAULT_PROTECTED

    return DEFAULT_PROTECTED


@pytest.mark.slow
def test_gold_every_expert_patch_passes_and_is_significantly_faster(tmp_path: Path) -> None:
    runs = tmp_path / "gold"
    res = subprocess.run(
        [str(BIN / "perfsmith"), "bench", "eval", str(SUITE), "--gold", "--workers", "2",
         "--runs-dir", str(runs)],
        capture_output=True, text=True, timeout=1500, check=False,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    results = [json.loads(x) for x in (runs / "results.jsonl").read_text().splitlines()]
    _, tasks = load_tasks(SUITE)
    assert sorted(r["instance_id"] for r in results) == sorted(t.instance_id for t in tasks)
    bad = [
        (r["instance_id"], r["status"], r.get("expert_ci_low"), r["reason"][:200])
        for r in results
        if not (r["correct"] and r["status"] == "faster" and r["expert_ci_low"] > 1.2)
    ]
    assert bad == []
    report = (runs / "report.md").read_text()
    for r in results:
        assert r["instance_id"] in report
        assert f"n={r['expert_n']}" in report
