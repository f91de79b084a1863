"""The Judge agent: reads a measured candidate and names one bottleneck and one next step."""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from perfsmith.agents.coder import (
    HISTORY_LINES,
    code_fence,
    describe_workload,
    format_seconds,
    format_speedup,
    machine_text,
    system_template,
)
from perfsmith.core import (
    CandidateStatus,
    Decision,
    JudgeContext,
    Measurement,
    Message,
    MetricResult,
    Mode,
    Model,
    Profile,
    Reply,
    Verdict,
)
from perfsmith.prompts import render

DECISIONS: tuple[Decision, ...] = ("keep", "discard", "stop")
KERNEL_SOURCES = 3  # annotated functions shown per native profile

# The gate that decides each failing status, for messages when Measurement.gate is empty.
_STATUS_GATE: Mapping[CandidateStatus, str] = {
    "test_failed": "tests",
    "incorrect_output": "output",
    "workload_error": "workload",
    "apply_failed": "apply",
    "rejected": "static",
    "noop": "static",
    "format_error": "parse",
}


def _metric_line(x: MetricResult) -> str:
    if not x.available:
        return f"{x.name}: unavailable ({x.note})"
    if x.speedup is None:
        return f"{x.name}: {x.baseline:.4g} -> {x.candidate:.4g} {x.unit}"
    s = x.speedup
    return (
        f"{x.name}: {x.baseline:.4g} -> {x.candidate:.4g} {x.unit}, "
        f"{s.estimate:.3f}x [{s.low:.3f}, {s.high:.3f}], n={x.n}"
        + (f" ({x.note})" if x.note else "")
    )


def profile_text(profile: Profile | None, mode: Mode) -> str:
    """A profile as the Judge reads it: the hot spots, and for a kernel task the summary
    and the hottest functions of kernel.c annotated per line."""
    if profile is None:
        return ""
    if mode != "kernel":
        return profile.as_text()
    parts = [profile.as_text()]
    for spot in [h for h in profile.hotspots if h.source.strip()][:KERNEL_SOURCES]:
        source = spot.source.rstrip("\n")
        fence = code_fence(source)
        parts.append(f"{spot.function} ({spot.location}):\n{fence}\n{source}\n{fence}")
    return "\n\n".join(parts)


class LLMJudge:
    """A Judge backed by a chat model that answers with one JSON object.

    Attributes:
        model: The chat model.
        max_diff_chars: How many characters of the diff a prompt may hold.
        machine: The CPU description a kernel task's prompt shows; None: this machine's.
    """

    def __init__(
        self, model: Model, *, max_diff_chars: int = 40_000, machine: str | None = None
    ) -> None:
        self.model = model
        self.max_diff_chars = max_diff_chars
        self.machine = machine

    def messages(self, ctx: JudgeContext) -> tuple[Message, ...]:
        """The system and user messages for one review.

        Args:
            ctx: The measured candidate, its proposal, the profile and the history.

        Returns:
            The two messages, rendered from ``judge/system.j2`` (``system_kernel.j2`` for
            a kernel task) and ``judge/user.j2``.
        """
        m = ctx.measurement
        diff = (m.patch or ctx.proposal.patch).rstrip("\n")
        if len(diff) > self.max_diff_chars:
            hidden = len(diff) - self.max_diff_chars
            diff = diff[: self.max_diff_chars] + f"\n[diff truncated: {hidden} more characters]"
        history = list(ctx.history)
        mode = ctx.task.mode
        kernel = mode == "kernel"
        if kernel and self.machine is None:
            self.machine = machine_text(None)
        user = render(
            "judge/user.j2",
            mode=mode,
            machine=self.machine if kernel else "",
            brief=ctx.task.brief.strip() if kernel else "",
            task_name=ctx.task.name,
            target=ctx.task.target,
            workload=describe_workload(ctx.task.workload),
            status=m.status,
            gate=m.gate,
            code=m.code,
            reason=m.reason,
            timing=_timing(m),
            metrics=[_metric_line(x) for x in m.metrics],
            tests=_tests_line(m),
            failing=_failing(m),
            flags=list(m.flags),
            rationale=ctx.proposal.rationale.strip(),
            diff=diff or "(empty)",
            diff_fence=code_fence(diff),
            profile_before=profile_text(ctx.profile, mode),
            profile_after=profile_text(m.profile, mode),
            history=history[-HISTORY_LINES:],
            history_skipped=max(0, len(history) - HISTORY_LINES),
        )
        return (
            Message("system", render(system_template("judge", ctx.task))),
            Message("user", user),
        )

    def review(self, ctx: JudgeContext) -> Verdict:
        """Ask the model for a verdict, then apply the harness's rules with ``enforce``.

        A malformed answer never raises: it becomes a ``discard`` with the parse error in
        ``overruled``. Model errors (network, auth, an exhausted script) do raise.

        Args:
            ctx: The measured candidate and what led to it.

        Returns:
            The verdict, with the model's reply attached.
        """
        reply = self.model.query(self.messages(ctx))
        return enforce(parse_verdict(reply), ctx.measurement)


def _timing(m: Measurement) -> dict[str, Any] | None:
    c = m.comparison
    if c is None:
        return None
    return {
        "speedup": format_speedup(c.speedup),
        "threshold": f"{c.threshold:.3f}x",
        "baseline_samples": len(c.baseline_s),
        "candidate_samples": len(c.candidate_s),
        "processes": c.processes,
        "baseline_median": format_seconds(statistics.median(c.baseline_s))
        if c.baseline_s
        else "n/a",
        "candidate_median": format_seconds(statistics.median(c.candidate_s))
        if c.candidate_s
        else "n/a",
    }


def _tests_line(m: Measurement) -> str:
    g = m.grade
    if g is None:
        return "not graded (an earlier gate decided)."
    if g.ok:
        return "every test that passed at baseline still passes."
    parts = []
    if g.failed:
        parts.append(f"{len(g.failed)} failed, errored, skipped or xfailed")
    if g.missing:
        parts.append(f"{len(g.missing)} missing from the report")
    return "FAILED: " + ", ".join(parts or ["the grade is not ok"]) + "."


def _failing(m: Measurement, limit: int = 20) -> list[str]:
    if m.grade is None:
        return []
    ids = [*m.grade.failed, *(f"{t} (missing)" for t in m.grade.missing)]
    if len(ids) > limit:
        return [*ids[:limit], f"... and {len(ids) - limit} more"]
    return ids


def _first_object(text: str) -> dict[str, Any] | None:
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            value, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            value = None
        if isinstance(value, dict):
            return value
        start = text.find("{", start + 1)
    return None


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "; ".join(_as_text(v) for v in value)
    return value.strip() if isinstance(value, str) else json.dumps(value)


def parse_verdict(reply: Reply) -> Verdict:
    """Turn a Judge's answer into a Verdict, never raising on malformed text.

    The first JSON object in the text is used, wherever it sits (inside a ```json fence,
    after prose). No object, or a missing or unknown ``decision``, gives ``discard`` with
    the problem in ``overruled``.

    Args:
        reply: The model's reply.

    Returns:
        The verdict, with ``reply`` attached.
    """
    obj = _first_object(reply.text)
    if obj is None:
        snippet = reply.text.strip().replace("\n", " ")[:200]
        return Verdict(
            decision="discard",
            reply=reply,
            overruled=f"judge answer was not valid JSON: no JSON object found in {snippet!r}",
        )
    fields = {k: _as_text(obj.get(k)) for k in ("bottleneck", "next_step", "suspicion")}
    raw = obj.get("decision")
    decision = raw.strip().lower() if isinstance(raw, str) else None
    for allowed in DECISIONS:
        if decision == allowed:
            return Verdict(decision=allowed, reply=reply, **fields)
    return Verdict(
        decision="discard",
        reply=reply,
        overruled=(
            "judge answer was not valid JSON for a verdict: 'decision' must be one of "
            f"keep, discard, stop; got {json.dumps(raw)}"
        ),
        **fields,
    )


def enforce(verdict: Verdict, m: Measurement) -> Verdict:
    """Overrule a ``keep`` that the measurement does not support.

    Only a candidate whose status is ``faster`` (every gate passed, the gain significant)
    may be kept; any other ``keep`` becomes ``discard`` with the reason in ``overruled``.
    ``discard`` and ``stop`` pass unchanged (the loop decides what ``stop`` promotes).

    Args:
        verdict: The Judge's verdict.
        m: The measurement of the same candidate.

    Returns:
        The verdict the harness acts on.
    """
    if verdict.decision != "keep" or m.status == "faster":
        return verdict
    if not m.passed_gates:
        gate = m.gate or _STATUS_GATE.get(m.status, m.status)
        why = f"the candidate failed the {gate} gate ({m.status}): {m.reason}"
    elif m.status == "slower":
        why = f"the candidate is significantly slower: {m.reason}"
    else:
        why = f"its gain is not significant: {m.reason}"
    note = f"judge said keep but {why}"
    if verdict.overruled:
        note = f"{verdict.overruled}; {note}"
    return replace(verdict, decision="discard", overruled=note)
