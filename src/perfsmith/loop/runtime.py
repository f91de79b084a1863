"""The Runtime: resources of one run (workspace, evaluator, agents) and its records.

Never checkpointed: a resumed run builds a new Runtime from ``config.yaml``.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfsmith import __version__
from perfsmith.config import RunConfig
from perfsmith.core import Coder, Judge, Task
from perfsmith.loop.budget import Budget
from perfsmith.loop.state import LoopState
from perfsmith.measure import guards
from perfsmith.measure.evaluator import PipelineEvaluator
from perfsmith.sandbox.factory import Choice, open_base
from perfsmith.sandbox.local import LocalSandbox
from perfsmith.trajectory import save_trajectory, utc_now, write_json

Event = dict[str, Any]
MAX_EDITABLE_FILES = 400
SOURCE_SUFFIXES = frozenset({".py", ".c", ".h", ".cu", ".cuh", ".cc", ".cpp", ".hpp"})


@dataclass
class Runtime:
    """Resources of one run: never checkpointed, rebuilt on resume."""

    config: RunConfig
    run_dir: Path
    coder: Coder
    judge: Judge
    coder_model: str
    judge_model: str
    fingerprint: dict[str, Any]
    clock: Callable[[], float] = time.monotonic
    emit: Callable[[Event], None] = lambda event: None
    sandbox: Choice = field(default_factory=lambda: Choice("local"))
    _work: Path | None = None
    _base: LocalSandbox | None = None
    _evaluator: PipelineEvaluator | None = None
    _base_files: dict[str, str] | None = None
    started: str = field(default_factory=utc_now)

    @property
    def task(self) -> Task:
        return self.config.to_task()

    @property
    def budget(self) -> Budget:
        b = self.config.budget
        return Budget(
            iterations=b.iterations,
            evaluations=b.evaluations,
            tokens=b.tokens,
            usd=b.usd,
            time_s=b.time_s,
            patience=b.patience,
        )

    def base(self) -> LocalSandbox:
        """The pristine workspace, created on first use (also after a resume)."""
        if self._base is None:
            self._work = Path(tempfile.mkdtemp(prefix="perfsmith-"))
            self._base = open_base(
                self.sandbox,
                Path(self.config.repo),
                self._work,
                python=self.config.python,
                docker=self.config.docker,
                notify=lambda line: self.emit({"kind": "note", "text": line}),
            )
        return self._base

    def evaluator(self) -> PipelineEvaluator:
        if self._evaluator is None:
            self._evaluator = PipelineEvaluator.from_config(self.base(), self.config)
        return self._evaluator

    def base_files(self) -> dict[str, str]:
        """Source files the Coder may edit (Python, C, CUDA), as they are in the base."""
        if self._base_files is None:
            base = self.base()
            files: dict[str, str] = {}
            sources = (p for p in base.root.rglob("*") if p.suffix in SOURCE_SUFFIXES)
            for path in sorted(sources):
                rel = path.relative_to(base.root).as_posix()
                if rel.startswith(".git/") or guards.is_protected(rel, self.task.protected):
                    continue
                try:
                    files[rel] = path.read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError):
                    continue
                if len(files) >= MAX_EDITABLE_FILES:
                    break
            self._base_files = files
        return self._base_files

    def close(self) -> None:
        if self._base is not None:
            self._base.close()
        if self._work is not None:
            shutil.rmtree(self._work, ignore_errors=True)
        self._base = None
        self._evaluator = None
        self._work = None

    # ---------------------------------------------------------------- recording
    def save(self, state: LoopState) -> None:
        """Write trajectory.json and run.json atomically (after every step)."""
        save_trajectory(
            self.run_dir,
            task=task_dict(self.task),
            info=self.info(state),
            steps=list(state.get("steps", [])),
        )
        write_json(self.run_dir / "run.json", self.run_json(state))

    def info(self, state: LoopState) -> dict[str, Any]:
        return {
            "run_id": state.get("run_id", ""),
            "perfsmith_version": __version__,
            "coder_model": self.coder_model,
            "judge_model": self.judge_model,
            "fingerprint": self.fingerprint,
            "exit_status": state.get("exit_status"),
            "error": state.get("error", ""),
            "baseline": _baseline_public(state.get("baseline")),
            "best": best_public(state.get("best")),
            "totals": {
                "iterations": state.get("iteration", 0),
                "evaluations": state.get("evaluations", 0),
                "tokens": state.get("tokens", 0),
                "cost_usd": round(state.get("usd", 0.0), 6),
                "elapsed_s": round(state.get("elapsed_s", 0.0), 3),
            },
        }

    def run_json(self, state: LoopState) -> dict[str, Any]:
        exit_status = state.get("exit_status")
        return {
            "format": "perfsmith.run/1",
            "run_id": state.get("run_id", ""),
            "perfsmith_version": __version__,
            "started": self.started,
            "finished": utc_now() if exit_status else None,
            "exit_status": exit_status,
            "repo": self.config.repo,
            "fingerprint": self.fingerprint,
        }


def task_dict(task: Task) -> dict[str, Any]:
    return {
        "name": task.name,
        "repo": task.repo,
        "workload": task.workload.file or " ".join(task.workload.command or ()),
        "tests": list(task.tests),
        "target": task.target,
        "protected": list(task.protected),
    }


def _baseline_public(b: dict[str, Any] | None) -> dict[str, Any] | None:
    if b is None:
        return None
    return {k: b[k] for k in ("median_s", "samples", "tests", "noise") if k in b}


def best_public(b: dict[str, Any] | None) -> dict[str, Any] | None:
    if b is None:
        return None
    return {k: b[k] for k in ("step", "speedup", "n", "threshold") if k in b}
