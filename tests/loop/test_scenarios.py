"""The loop end to end on a tiny repository: real sandbox, pytest, pyperf and LangGraph.

Only the model is scripted. The tiny repository's slow path is a sleep, so the
speedups asserted here are large and unmistakable on a noisy machine.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from tests.loop.helpers import (
    BREAK_TOTAL,
    COMMENT_ONLY,
    HALF_PAUSE,
    MALFORMED,
    LoopRun,
    judge,
)

pytestmark = pytest.mark.slow


def test_malformed_edit_gets_feedback_then_recovers(run_loop: Callable[..., LoopRun]) -> None:
    run = run_loop([MALFORMED, HALF_PAUSE], [judge("stop")])
    assert run.code == 0
    first, second = run.steps
    assert first["status"] == "format_error"
    assert "not found" in first["reason"].lower()
    prompt = (run.run_dir / "steps" / "002" / "coder_prompt.md").read_text()
    assert "could not be applied" in prompt
    assert "this line is not in the file" in prompt or "not found" in prompt.lower()
    assert second["status"] == "faster" and second["kept"]
    assert second["speedup"]["low"] > 1.05
    assert run.exit_status == "completed"
    assert (run.run_dir / "best.patch").read_text().count("time.sleep(0.005)") == 1


def test_test_breaking_candidate_is_discarded_and_named(run_loop: Callable[..., LoopRun]) -> None:
    run = run_loop([BREAK_TOTAL, HALF_PAUSE], [judge("discard"), judge("stop")])
    broken, fixed = run.steps
    assert broken["status"] == "test_failed" and not broken["kept"]
    assert any("test_total" in t for t in broken["tests"]["failed"])
    prompt = (run.run_dir / "steps" / "002" / "coder_prompt.md").read_text()
    assert "test_total" in prompt
    assert fixed["kept"]
    # The discarded edit is not part of the best patch.
    assert "for v in values" not in (run.run_dir / "best.patch").read_text()


def test_judge_keep_on_failed_candidate_is_overruled(run_loop: Callable[..., LoopRun]) -> None:
    run = run_loop([BREAK_TOTAL], [judge("keep")], budget={"iterations": 1})
    (step,) = run.steps
    assert step["status"] == "test_failed"
    assert step["verdict"]["decision"] == "discard"
    assert "keep" in step["verdict"]["overruled"]
    assert not step["kept"]
    assert not (run.run_dir / "best.patch").exists()
    assert run.exit_status == "budget_iterations"


def test_budget_iterations(run_loop: Callable[..., LoopRun]) -> None:
    run = run_loop([COMMENT_ONLY] * 3, [], budget={"iterations": 2, "patience": None})
    assert [s["status"] for s in run.steps] == ["noop", "noop"]
    assert run.exit_status == "budget_iterations"


def test_budget_dollars_from_scripted_cost(run_loop: Callable[..., LoopRun]) -> None:
    paid = {"text": COMMENT_ONLY, "cost_usd": 0.6, "prompt_tokens": 100, "completion_tokens": 50}
    run = run_loop([paid] * 4, [], budget={"usd": 1.0, "patience": None})
    assert len(run.steps) == 2
    assert run.exit_status == "budget_usd"
    totals = run.trajectory["info"]["totals"]
    assert totals["cost_usd"] == pytest.approx(1.2)
    assert totals["tokens"] == 300


def test_budget_wall_clock_with_injected_clock(run_loop: Callable[..., LoopRun]) -> None:
    ticks = itertools.count(step=1000.0)
    run = run_loop(
        [HALF_PAUSE], [judge("stop")], budget={"time_s": 1500}, clock=lambda: next(ticks)
    )
    assert run.steps == []
    assert run.exit_status == "budget_time"


def test_patience_stops_after_attempts_without_improvement(
    run_loop: Callable[..., LoopRun],
) -> None:
    run = run_loop([COMMENT_ONLY] * 5, [], budget={"patience": 2})
    assert len(run.steps) == 2
    assert run.exit_status == "patience"
