"""Helpers to run the real loop (real sandbox, pytest, pyperf, LangGraph) on a tiny repo."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from perfsmith.loop.driver import OptimizeRequest, run_optimize

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "tinyrepo"

FAST_TIMING = {"rounds": 4, "values": 2, "warmups": 0, "min_time_s": 0.02}

# Edits against tests/fixtures/tinyrepo/tiny/core.py.
HALF_PAUSE = """Halve the pause.

tiny/core.py
<<<<<<< SEARCH
    time.sleep(0.02)
=======
    time.sleep(0.005)
>>>>>>> REPLACE
"""
BREAK_TOTAL = """Skip the loop entirely.

tiny/core.py
<<<<<<< SEARCH
    for v in values:
        result += v
    return result
=======
    return result
>>>>>>> REPLACE
"""
MALFORMED = """I will optimize it.

tiny/core.py
<<<<<<< SEARCH
    this line is not in the file
=======
    pass
>>>>>>> REPLACE
"""
COMMENT_ONLY = """Document it.

tiny/core.py
<<<<<<< SEARCH
def label(values):
=======
def label(values):  # cheap already
>>>>>>> REPLACE
"""


def judge(decision: str, bottleneck: str = "the sleep", next_step: str = "remove it") -> str:
    return json.dumps(
        {"decision": decision, "bottleneck": bottleneck, "next_step": next_step, "suspicion": ""}
    )


def tiny_repo(tmp_path: Path) -> Path:
    """A fresh git repository copied from the tiny fixture."""
    repo = tmp_path / "tinyrepo"
    shutil.copytree(FIXTURE, repo, ignore=shutil.ignore_patterns("__pycache__"))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "-C", str(repo), "add", "-A"], check=True)
    subprocess.run([*git, "-C", str(repo), "commit", "-qm", "init"], check=True)
    return repo


@dataclass
class LoopRun:
    code: int
    run_dir: Path
    output: str

    @property
    def trajectory(self) -> dict[str, Any]:
        return dict(json.loads((self.run_dir / "trajectory.json").read_text()))

    @property
    def steps(self) -> list[dict[str, Any]]:
        return list(self.trajectory["steps"])

    @property
    def exit_status(self) -> str:
        return str(self.trajectory["info"]["exit_status"])


def write_script(path: Path, coder: list[Any], judge_replies: list[Any]) -> Path:
    path.write_text(yaml.safe_dump({"coder": coder, "judge": judge_replies}))
    return path


@pytest.fixture
def run_loop(tmp_path: Path) -> Callable[..., LoopRun]:
    def run(
        coder: list[Any],
        judge_replies: list[Any],
        *,
        budget: dict[str, Any] | None = None,
        clock: Callable[[], float] | None = None,
        repo: Path | None = None,
        **overrides: Any,
    ) -> LoopRun:
        repo = repo or tiny_repo(tmp_path)
        script = write_script(tmp_path / "script.yaml", coder, judge_replies)
        runs = tmp_path / "runs"
        buf = io.StringIO()
        request = OptimizeRequest(
            repo=repo,
            overrides={
                "model": f"scripted:{script}",
                "timing": dict(FAST_TIMING),
                "budget": {"iterations": 10, **(budget or {})},
                **overrides,
            },
            runs_dir=runs,
            run_id="run",
        )
        code = run_optimize(request, console=Console(file=buf, width=200), clock=clock)
        return LoopRun(code=code, run_dir=runs / "run", output=buf.getvalue())

    return run
