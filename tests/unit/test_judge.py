"""The Judge agent: prompt contents, tolerant JSON parsing, and the harness's overrules."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from perfsmith.agents.judge import LLMJudge, enforce, parse_verdict
from perfsmith.core import (
    CandidateStatus,
    Comparison,
    Grade,
    HotSpot,
    Interval,
    JudgeContext,
    Measurement,
    Profile,
    Proposal,
    Reply,
    Task,
    Verdict,
    Workload,
)
from perfsmith.models.scripted import ScriptedModel

PATCH = (
    "diff --git a/src/pkg/search.py b/src/pkg/search.py\n"
    "--- a/src/pkg/search.py\n+++ b/src/pkg/search.py\n"
    "@@ -1,5 +1,2 @@\n def find(x, items):\n"
    "-    for item in items:\n-        if item == x:\n-            return True\n-    return False\n"
    "+    return x in items\n"
)
TASK = Task(repo="/nonexistent/repo", workload=Workload(file="bench/workload.py"), name="search")
KEEP = '{"decision": "keep", "bottleneck": "b", "next_step": "n", "suspicion": ""}'


def comparison(low: float, estimate: float, high: float) -> Comparison:
    return Comparison(
        baseline_s=(0.010, 0.011, 0.012, 0.010),
        candidate_s=(0.005, 0.006, 0.005, 0.006),
        speedup=Interval(estimate, low, high),
        threshold=1.05,
        significant=low > 1.05,
        slower=high < 1,
        processes=4,
    )


def measurement(status: CandidateStatus, reason: str = "a reason") -> Measurement:
    if status in ("faster", "not_significant", "slower"):
        return Measurement(
            status=status,
            reason=reason,
            patch=PATCH,
            grade=Grade(ok=True),
            comparison=comparison(1.8, 2.0, 2.2),
            profile=Profile((HotSpot("parse", "src/pkg/io.py:10", 0.6, 0.7, 50),), 1.0),
            flags=("timer_patch?",),
        )
    return Measurement(
        status=status,
        reason=reason,
        patch=PATCH,
        gate="tests" if status == "test_failed" else "",
        grade=Grade(ok=False, failed=("tests/test_s.py::test_order",), missing=("tests/t.py::m",))
        if status == "test_failed"
        else None,
    )


def judge_context(m: Measurement, history: tuple[str, ...] = ()) -> JudgeContext:
    return JudgeContext(
        task=TASK,
        measurement=m,
        proposal=Proposal(patch=PATCH, rationale="Use `in` on the list.", reply=Reply("...")),
        profile=Profile((HotSpot("find", "src/pkg/search.py:1", 0.8, 0.9, 1000),), 2.0),
        history=history,
    )


def scripted(tmp_path: Path, *replies: str) -> ScriptedModel:
    script = tmp_path / "script.yaml"
    script.write_text(yaml.safe_dump({"judge": list(replies)}), encoding="utf-8")
    return ScriptedModel(script, "judge")


# --- parsing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        KEEP,
        f"```json\n{KEEP}\n```",
        f"The change is sound.\n\n{KEEP}\n\nGood luck.",
        f"I checked {{x}} and {{'a': 1}} first.\n```json\n{KEEP}\n```",
        '{"decision": " KEEP ", "bottleneck": "b", "next_step": "n"}',
    ],
    ids=["bare", "fenced", "prose", "braces-in-prose", "case-and-missing-field"],
)
def test_parse_finds_the_first_json_object(text: str) -> None:
    reply = Reply(text)
    assert parse_verdict(reply) == Verdict("keep", "b", "n", "", reply=reply)


def test_parse_keeps_every_field_and_flattens_odd_values() -> None:
    text = (
        '{"decision": "discard", "bottleneck": "json.loads in load()", '
        '"next_step": ["parse once", "reuse the decoder"], "suspicion": null, "extra": 1}'
    )
    verdict = parse_verdict(Reply(text))
    assert verdict.decision == "discard"
    assert verdict.bottleneck == "json.loads in load()"
    assert verdict.next_step == "parse once; reuse the decoder"
    assert verdict.suspicion == ""
    assert verdict.overruled == ""


@pytest.mark.parametrize(
    "text", ["", "keep it!", "{'decision': 'keep'}", '{"decision": "keep",', "[1, 2]"]
)
def test_invalid_json_becomes_a_discard_with_the_reason(text: str) -> None:
    verdict = parse_verdict(Reply(text))
    assert verdict.decision == "discard"
    assert verdict.overruled.startswith("judge answer was not valid JSON: no JSON object found")
    assert verdict.reply == Reply(text)


@pytest.mark.parametrize("decision", ['"maybe"', "null", "1"])
def test_unknown_decision_becomes_a_discard_that_keeps_the_feedback(decision: str) -> None:
    text = f'{{"decision": {decision}, "bottleneck": "b", "next_step": "n"}}'
    verdict = parse_verdict(Reply(text))
    assert verdict.decision == "discard"
    assert "'decision' must be one of keep, discard, stop; got " + decision in verdict.overruled
    assert (verdict.bottleneck, verdict.next_step) == ("b", "n")


# --- enforce ------------------------------------------------------------------------------


def test_enforce_follows_keep_on_a_faster_candidate() -> None:
    verdict = Verdict("keep", "b", "n")
    assert enforce(verdict, measurement("faster")) is verdict


def test_enforce_overrules_keep_on_failed_tests() -> None:
    m = measurement("test_failed", "2 expected tests failed: tests/test_s.py::test_order, ...")
    verdict = enforce(Verdict("keep", "b", "n"), m)
    assert verdict.decision == "discard"
    assert verdict.overruled == (
        "judge said keep but the candidate failed the tests gate (test_failed): "
        "2 expected tests failed: tests/test_s.py::test_order, ..."
    )
    assert (verdict.bottleneck, verdict.next_step) == ("b", "n")


@pytest.mark.parametrize(
    ("status", "gate"),
    [("incorrect_output", "output"), ("rejected", "static"), ("workload_error", "workload")],
)
def test_enforce_names_the_gate_from_the_status(status: CandidateStatus, gate: str) -> None:
    verdict = enforce(Verdict("keep"), measurement(status))
    assert verdict.decision == "discard"
    assert f"failed the {gate} gate ({status})" in verdict.overruled


def test_enforce_overrules_keep_on_an_insignificant_or_slower_gain() -> None:
    reason = "speedup 1.03x [0.97x, 1.10x] does not clear 1.05x"
    verdict = enforce(Verdict("keep"), measurement("not_significant", reason))
    assert verdict.decision == "discard"
    assert verdict.overruled == f"judge said keep but its gain is not significant: {reason}"
    verdict = enforce(Verdict("keep"), measurement("slower", "0.8x"))
    assert verdict.overruled == "judge said keep but the candidate is significantly slower: 0.8x"


@pytest.mark.parametrize("decision", ["discard", "stop"])
def test_enforce_leaves_discard_and_stop_alone(decision: str) -> None:
    verdict = Verdict(decision)  # type: ignore[arg-type]
    assert enforce(verdict, measurement("test_failed")) is verdict


# --- review -------------------------------------------------------------------------------


def test_review_prompt_shows_diff_numbers_tests_profiles_and_history(tmp_path: Path) -> None:
    model = scripted(tmp_path, KEEP)
    history = ("#1 format_error: no block", "#2 faster 1.40x: use a set")
    LLMJudge(model).review(judge_context(measurement("faster", "significantly faster"), history))
    system, user = (m.content for m in model.received[0])
    assert '"decision"' in system and "ONE bottleneck" in system and "ONE next step" in system
    assert "memoises" in system and "hard-codes" in system and "patches timers" in system
    for expected in (
        "Status: faster",
        "Reason: significantly faster",
        "Speedup: 2.00x (95% interval 1.80x to 2.20x)",
        "low end exceeds 1.050x",
        "Samples: 4 baseline, 4 candidate, 4 worker processes per side.",
        "Median per call: baseline 10.5 ms, candidate 5.5 ms.",
        "every test that passed at baseline still passes",
        "Guard flags: timer_patch?",
        "Use `in` on the list.",
        "+    return x in items",
        "find  (src/pkg/search.py:1)",  # before
        "parse  (src/pkg/io.py:10)",  # after
        "#2 faster 1.40x: use a set",
    ):
        assert expected in user, expected


def test_review_prompt_lists_failing_tests(tmp_path: Path) -> None:
    model = scripted(tmp_path, KEEP)
    verdict = LLMJudge(model).review(judge_context(measurement("test_failed", "tests failed")))
    user = model.received[0][1].content
    assert "Status: test_failed (decided by the tests gate)" in user
    assert "FAILED: 1 failed, errored, skipped or xfailed, 1 missing from the report." in user
    assert "- tests/test_s.py::test_order" in user
    assert "- tests/t.py::m (missing)" in user
    assert "Timing: not measured" in user
    # The Judge said keep; the harness does not follow it.
    assert verdict.decision == "discard"
    assert verdict.overruled.startswith("judge said keep but the candidate failed the tests gate")
    assert verdict.reply is not None and verdict.reply.text == KEEP


def test_review_of_malformed_answer_is_a_discard(tmp_path: Path) -> None:
    model = scripted(tmp_path, "Looks good to me, keep it.")
    verdict = LLMJudge(model).review(judge_context(measurement("faster")))
    assert verdict.decision == "discard"
    assert verdict.overruled.startswith("judge answer was not valid JSON")


def test_review_can_veto_a_faster_candidate(tmp_path: Path) -> None:
    answer = (
        '{"decision": "discard", "bottleneck": "find", "next_step": "use a set", '
        '"suspicion": "caches results keyed on the workload input"}'
    )
    verdict = LLMJudge(scripted(tmp_path, answer)).review(judge_context(measurement("faster")))
    assert verdict.decision == "discard"
    assert verdict.suspicion == "caches results keyed on the workload input"
    assert verdict.overruled == ""


def test_long_diffs_are_truncated(tmp_path: Path) -> None:
    model = scripted(tmp_path, KEEP)
    LLMJudge(model, max_diff_chars=100).review(judge_context(measurement("faster")))
    assert "[diff truncated: " in model.received[0][1].content


def test_prompt_shows_reason_code_and_every_metric(tmp_path: Path) -> None:
    from perfsmith.core import MetricResult

    m = Measurement(
        status="quarantined",
        reason="warm gain vanishes cold",
        patch="diff --git a/x.py b/x.py\n",
        gate="plausibility",
        code="cache_suspected",
        metrics=(
            MetricResult("instructions", "instr", 2e6, 1e6, Interval(2.0, 2.0, 2.0), 1),
            MetricResult("energy", "J", 0.0, 0.0, None, 0, available=False, note="no RAPL"),
        ),
    )
    ctx = JudgeContext(
        task=Task(repo="/r", workload=Workload(file="w.py")),
        measurement=m,
        proposal=Proposal(patch=m.patch, rationale="", reply=Reply(text="")),
        profile=None,
        history=(),
    )
    user = LLMJudge(scripted(tmp_path, KEEP)).messages(ctx)[1].content
    assert "cache_suspected" in user
    assert "instructions: 2e+06 -> 1e+06 instr, 2.000x" in user
    assert "energy: unavailable (no RAPL)" in user
