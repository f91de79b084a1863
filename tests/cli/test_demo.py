"""The offline demo, end to end through the installed `optimize` command."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.treehash import tree_hash

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _git_copy(example: str, dest: Path) -> Path:
    repo = dest / example
    shutil.copytree(ROOT / "examples" / example, repo, ignore=shutil.ignore_patterns("__pycache__"))
    git = ["git", "-c", "user.name=u", "-c", "user.email=u@u", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "-C", str(repo), "add", "-A"], check=True)
    subprocess.run([*git, "-C", str(repo), "commit", "-qm", "base"], check=True)
    (repo / "NOTES.txt").write_text("an uncommitted file the user is working on\n")
    return repo


@pytest.mark.slow
@pytest.mark.parametrize(
    ("example", "sandbox"),
    [
        ("logstats", "local"),
        ("textsearch", "local"),
        # The same verdicts in a container (logstats: tests/cli/test_docker_runs.py).
        pytest.param("textsearch", "docker", marks=pytest.mark.docker),
    ],
)
def test_demo_run_end_to_end(tmp_path: Path, example: str, sandbox: str) -> None:
    if sandbox == "docker":
        from tests.sandbox.docker_helpers import client_or_skip

        client_or_skip()
    repo = _git_copy(example, tmp_path)
    before = tree_hash(repo)
    runs = tmp_path / "runs"
    res = subprocess.run(
        [
            str(BIN / "optimize"),
            str(repo),
            "--model",
            f"scripted:{ROOT / 'examples' / example / 'demo.yaml'}",
            "--runs-dir",
            str(runs),
            "--run-id",
            "demo",
            "--sandbox",
            sandbox,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )
    assert res.returncode == 0, res.stderr
    run = runs / "demo"
    assert tree_hash(repo) == before

    patch = (run / "best.patch").read_text()
    assert patch.startswith("diff --git") and "+" in patch
    assert (
        subprocess.run(
            ["git", "-C", str(repo), "apply", "--check", str(run / "best.patch")], check=False
        ).returncode
        == 0
    )

    report = (run / "report.md").read_text()
    assert "significant speedup" in report
    assert "95% CI" in report and "worker processes per side" in report
    assert "fingerprint" in report

    traj = json.loads((run / "trajectory.json").read_text())
    assert traj["format"] == "perfsmith.trajectory/2"
    statuses = [s["status"] for s in traj["steps"]]
    assert statuses == ["test_failed", "faster", "faster"]
    assert traj["steps"][0]["tests"]["failed"]
    assert traj["steps"][1]["kept"]
    best = traj["info"]["best"]
    assert best["step"] in (2, 3)
    assert best["speedup"]["low"] > best["threshold"] >= 1.05
    assert best["speedup"]["estimate"] >= 2.0
    assert best["n"] >= 4
    assert traj["info"]["fingerprint"]["id"]
    assert traj["info"]["fingerprint"]["sandbox"].startswith(sandbox)
    for step in traj["steps"]:
        for rel in step["artifacts"].values():
            assert (run / rel).is_file()
    run_json = json.loads((run / "run.json").read_text())
    assert run_json["exit_status"] == "completed"

    # Nothing that only the discarded first attempt added reaches best.patch.
    def added(step: int) -> set[str]:
        text = (run / "steps" / f"{step:03d}" / "patch.diff").read_text()
        return {ln for ln in text.splitlines() if ln.startswith("+") and not ln.startswith("+++")}

    only_discarded = added(1) - added(2) - added(3)
    assert only_discarded
    assert not only_discarded & set(patch.splitlines())
