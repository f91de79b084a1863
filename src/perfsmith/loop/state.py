"""The loop's state: plain JSON-friendly data, checkpointed after every node.

Objects that hold resources (sandboxes, models) live in the Runtime, never here, so
a run can resume in a new process from the last checkpoint.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, TypedDict

from perfsmith.core import (
    Comparison,
    Grade,
    HotSpot,
    Interval,
    Measurement,
    MetricResult,
    Profile,
    TestReport,
)


class LoopState(TypedDict, total=False):
    run_id: str
    iteration: int  # Coder proposals so far
    evaluations: int
    tokens: int
    usd: float
    elapsed_s: float
    since_improvement: int
    format_errors: int  # malformed answers in a row
    coder_calls: int
    judge_calls: int
    baseline: dict[str, Any] | None
    best: dict[str, Any] | None
    history: list[str]
    feedback: str
    pending: dict[str, Any] | None
    steps: list[dict[str, Any]]
    exit_status: str | None
    error: str


def initial_state(run_id: str) -> LoopState:
    return LoopState(
        run_id=run_id,
        iteration=0,
        evaluations=0,
        tokens=0,
        usd=0.0,
        elapsed_s=0.0,
        since_improvement=0,
        format_errors=0,
        coder_calls=0,
        judge_calls=0,
        baseline=None,
        best=None,
        history=[],
        feedback="",
        pending=None,
        steps=[],
        exit_status=None,
        error="",
    )


def profile_to_dict(p: Profile | None) -> dict[str, Any] | None:
    return None if p is None else asdict(p)


def profile_from_dict(d: dict[str, Any] | None) -> Profile | None:
    if d is None:
        return None
    return Profile(
        hotspots=tuple(HotSpot(**h) for h in d["hotspots"]),
        total_s=d["total_s"],
        raw_path=d.get("raw_path", ""),
        summary=d.get("summary", ""),
    )


def measurement_to_dict(m: Measurement) -> dict[str, Any]:
    d = asdict(m)
    d["flags"] = list(m.flags)
    d["artifacts"] = dict(m.artifacts)
    return d


def _metric_from_dict(d: dict[str, Any]) -> MetricResult:
    sp = d.get("speedup")
    return MetricResult(**{**d, "speedup": None if sp is None else Interval(**sp)})


def measurement_from_dict(d: dict[str, Any]) -> Measurement:
    grade = d.get("grade")
    tests = d.get("tests")
    comp = d.get("comparison")
    return Measurement(
        status=d["status"],
        reason=d["reason"],
        patch=d["patch"],
        gate=d.get("gate", ""),
        grade=None
        if grade is None
        else Grade(ok=grade["ok"], failed=tuple(grade["failed"]), missing=tuple(grade["missing"])),
        tests=None if tests is None else TestReport(**tests),
        comparison=None
        if comp is None
        else Comparison(
            baseline_s=tuple(comp["baseline_s"]),
            candidate_s=tuple(comp["candidate_s"]),
            speedup=Interval(**comp["speedup"]),
            threshold=comp["threshold"],
            significant=comp["significant"],
            slower=comp["slower"],
            processes=comp["processes"],
            p_value=comp.get("p_value", 1.0),
            decided=comp.get("decided", True),
        ),
        profile=profile_from_dict(d.get("profile")),
        metrics=tuple(_metric_from_dict(x) for x in d.get("metrics", ())),
        code=d.get("code", ""),
        flags=tuple(d.get("flags", ())),
        artifacts=dict(d.get("artifacts", {})),
        duration_s=d.get("duration_s", 0.0),
        inner_s=d.get("inner_s", 0.0),
    )
