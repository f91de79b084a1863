"""The loop's steps as plain functions: setup, baseline, propose, evaluate, judge, finalize.

Each step takes the Runtime (resources) and the state (data) and returns a partial
state update. ``loop/graph.py`` wires them into a LangGraph StateGraph.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from perfsmith.agents.judge import enforce
from perfsmith.core import (
    CoderContext,
    Interval,
    JudgeContext,
    Measurement,
    MetricResult,
    Proposal,
    Reply,
    Verdict,
)
from perfsmith.diffs import touched_paths
from perfsmith.loop.budget import Spend
from perfsmith.loop.runtime import Runtime, best_public
from perfsmith.loop.state import (
    LoopState,
    measurement_from_dict,
    measurement_to_dict,
    profile_from_dict,
    profile_to_dict,
)
from perfsmith.measure.evaluator import Baseline
from perfsmith.trajectory import atomic_write, step_dir, utc_now

# Statuses decided before any test or timing ran: the harness explains them itself and
# the Judge is not asked (it would only cost money).
HARNESS_ONLY = ("format_error", "rejected", "noop", "apply_failed")


def spend_of(state: LoopState) -> Spend:
    return Spend(
        iterations=state.get("iteration", 0),
        evaluations=state.get("evaluations", 0),
        tokens=state.get("tokens", 0),
        usd=state.get("usd", 0.0),
        elapsed_s=state.get("elapsed_s", 0.0),
        since_improvement=state.get("since_improvement", 0),
    )


# ------------------------------------------------------------------------ steps
def setup(rt: Runtime, state: LoopState) -> LoopState:
    """Copy the repository into a workspace; nothing ever runs in the user's tree."""
    rt.base()
    rt.emit({"kind": "setup", "workspace": str(rt.base().root)})
    return LoopState()


def baseline(rt: Runtime, state: LoopState) -> LoopState:
    """Run the base's tests, record its output, time and profile it."""
    rt.emit({"kind": "baseline_start"})
    out = rt.run_dir / "baseline"
    b = rt.evaluator().establish_baseline(out)
    data = {**b.to_dict(), "tests": len(b.expected_tests), "profile": profile_to_dict(b.profile)}
    rt.emit({"kind": "baseline", **{k: data[k] for k in ("tests", "median_s", "samples", "noise")}})
    return LoopState(baseline=data)


def _baseline_obj(state: LoopState) -> Baseline:
    b = state.get("baseline") or {}
    return Baseline.from_dict(b, profile_from_dict(b.get("profile")))


def _current_profile(state: LoopState) -> dict[str, Any] | None:
    best = state.get("best")
    if best and best.get("profile"):
        return dict(best["profile"])
    b = state.get("baseline") or {}
    prof = b.get("profile")
    return dict(prof) if prof else None


def _interval(d: dict[str, Any] | None) -> Interval | None:
    return None if not d else Interval(**d)


def propose(rt: Runtime, state: LoopState) -> LoopState:
    """Ask the Coder for the next candidate (after checking the budget)."""
    reason = rt.budget.exhausted(spend_of(state))
    if reason is not None:
        return LoopState(exit_status=reason)
    index = len(state.get("steps", [])) + 1
    best = state.get("best") or {}
    base_files = rt.base_files()
    files = {**base_files, **best.get("files", {})}
    ctx = CoderContext(
        task=rt.task,
        files=files,
        profile=profile_from_dict(_current_profile(state)),
        baseline_s=(state.get("baseline") or {}).get("median_s", 0.0),
        best_speedup=_interval(best.get("speedup")),
        history=list(state.get("history", [])),
        feedback=state.get("feedback", ""),
        base_files=base_files,
    )
    rt.emit({"kind": "propose", "step": index})
    started = utc_now()
    proposal = rt.coder.propose(ctx)
    folder = step_dir(rt.run_dir, index)
    _write_exchange(folder, "coder", proposal)
    update = LoopState(
        iteration=state.get("iteration", 0) + 1,
        coder_calls=state.get("coder_calls", 0) + 1,
        tokens=state.get("tokens", 0) + proposal.reply.usage.total_tokens,
        usd=state.get("usd", 0.0) + proposal.reply.cost_usd,
    )
    if proposal.error:
        errors = state.get("format_errors", 0) + 1
        record = {
            "index": index,
            "status": "format_error",
            "gate": "parse",
            "reason": proposal.error,
            "rationale": proposal.rationale,
            "cost_usd": proposal.reply.cost_usd,
            "tokens": proposal.reply.usage.total_tokens,
            "usage": {"coder": usage_record(proposal.reply), "judge": None},
            "started": started,
            "kept": False,
            "artifacts": _artifacts(rt.run_dir, folder),
        }
        update |= LoopState(
            format_errors=errors,
            feedback="Your last answer could not be applied: " + proposal.error,
            history=[
                *state.get("history", []),
                f"step {index}: format_error: {proposal.error[:160]}",
            ],
            steps=[*state.get("steps", []), record],
            pending=None,
            since_improvement=state.get("since_improvement", 0) + 1,
        )
        rt.emit({"kind": "step", **record})
        if errors >= rt.config.max_format_errors:
            update["exit_status"] = "format_errors"
        return update
    update["format_errors"] = 0
    update["pending"] = {
        "index": index,
        "patch": proposal.patch,
        "rationale": proposal.rationale,
        "cost_usd": proposal.reply.cost_usd,
        "tokens": proposal.reply.usage.total_tokens,
        "usage": {"coder": usage_record(proposal.reply)},
        "started": started,
    }
    return update


def _write_exchange(folder: Path, who: str, p: Proposal | Verdict) -> None:
    if isinstance(p, Proposal):
        prompt = "\n\n".join(f"## {m.role}\n\n{m.content}" for m in p.messages)
        atomic_write(folder / f"{who}_prompt.md", prompt + "\n")
        atomic_write(folder / f"{who}_reply.md", p.reply.text + "\n")
    elif p.reply is not None:
        atomic_write(folder / f"{who}_reply.md", p.reply.text + "\n")


def _artifacts(run_dir: Path, folder: Path) -> dict[str, str]:
    return {
        f.name: f.relative_to(run_dir).as_posix() for f in sorted(folder.iterdir()) if f.is_file()
    }


def evaluate(rt: Runtime, state: LoopState) -> LoopState:
    """Run the gate pipeline on the pending candidate."""
    pending = dict(state.get("pending") or {})
    index = pending["index"]
    rt.emit({"kind": "evaluate", "step": index})
    m = rt.evaluator().evaluate(
        rt.task,
        pending["patch"],
        baseline=_baseline_obj(state),
        out_dir=step_dir(rt.run_dir, index),
    )
    pending["measurement"] = measurement_to_dict(m)
    return LoopState(pending=pending, evaluations=state.get("evaluations", 0) + 1)


def judge(rt: Runtime, state: LoopState) -> LoopState:
    """Let the Judge read the evidence, then keep or discard the candidate."""
    pending = dict(state.get("pending") or {})
    index = pending["index"]
    m = measurement_from_dict(pending["measurement"])
    update = LoopState()
    if m.status in HARNESS_ONLY:
        verdict = Verdict(decision="discard", next_step="")
    else:
        ctx = JudgeContext(
            task=rt.task,
            measurement=m,
            proposal=Proposal(
                patch=m.patch, rationale=pending.get("rationale", ""), reply=Reply(text="")
            ),
            profile=profile_from_dict(_current_profile(state)),
            history=list(state.get("history", [])),
        )
        verdict = enforce(rt.judge.review(ctx), m)
        _write_exchange(step_dir(rt.run_dir, index), "judge", verdict)
        if verdict.reply is not None:
            update["tokens"] = state.get("tokens", 0) + verdict.reply.usage.total_tokens
            update["usd"] = state.get("usd", 0.0) + verdict.reply.cost_usd
        update["judge_calls"] = state.get("judge_calls", 0) + 1
    best = state.get("best")
    decider = m.metrics[0] if m.metrics else None  # the target's metric comes first
    speedup = decider.speedup if decider is not None else None
    keep = (
        m.status == "faster"
        and speedup is not None
        and verdict.decision != "discard"
        and (best is None or speedup.estimate > best["speedup"]["estimate"])
    )
    if keep and speedup is not None and decider is not None and m.comparison is not None:
        update["best"] = {
            "step": index,
            "patch": m.patch,
            "files": _files_after(rt, m.patch),
            "speedup": {
                "estimate": speedup.estimate,
                "low": speedup.low,
                "high": speedup.high,
                "confidence": speedup.confidence,
            },
            "metric": decider.name,
            "n": decider.n,
            "threshold": m.comparison.threshold,
            "profile": profile_to_dict(m.profile),
        }
        update["since_improvement"] = 0
    else:
        update["since_improvement"] = state.get("since_improvement", 0) + 1
    record = step_record(index, pending, m, verdict, keep, rt.run_dir)
    update["steps"] = [*state.get("steps", []), record]
    update["history"] = [*state.get("history", []), history_line(record)]
    update["feedback"] = feedback_for(m, verdict, keep)
    update["pending"] = None
    if verdict.decision == "stop":
        update["exit_status"] = "completed"
    rt.emit({"kind": "step", **record})
    return update


def _files_after(rt: Runtime, patch: str) -> dict[str, str]:
    """Contents of the files ``patch`` touches once applied to the base."""
    scratch = rt.base().clone("scratch")
    try:
        result = scratch.apply_patch(patch)
        if not result.ok:
            return {}
        out = {}
        for path in touched_paths(patch):
            try:
                out[path] = scratch.read_file(path)
            except (OSError, UnicodeDecodeError):
                continue
        return out
    finally:
        scratch.close()


def step_record(
    index: int,
    pending: dict[str, Any],
    m: Measurement,
    verdict: Verdict,
    kept: bool,
    run_dir: Path,
) -> dict[str, Any]:
    """The trajectory entry of one candidate."""
    comp = m.comparison
    return {
        "index": index,
        "status": m.status,
        "gate": m.gate,
        "reason": m.reason,
        "rationale": pending.get("rationale", ""),
        "kept": kept,
        "speedup": None
        if comp is None
        else {
            "estimate": comp.speedup.estimate,
            "low": comp.speedup.low,
            "high": comp.speedup.high,
            "confidence": comp.speedup.confidence,
            "threshold": comp.threshold,
            "n": comp.processes,
            "baseline_samples": len(comp.baseline_s),
            "candidate_samples": len(comp.candidate_s),
            "p_value": comp.p_value,
            "decided": comp.decided,
        },
        "code": m.code,
        "metrics": [metric_record(x) for x in m.metrics],
        "tests": None
        if m.grade is None
        else {"ok": m.grade.ok, "failed": list(m.grade.failed), "missing": list(m.grade.missing)},
        "flags": list(m.flags),
        "verdict": {
            "decision": verdict.decision,
            "bottleneck": verdict.bottleneck,
            "next_step": verdict.next_step,
            "suspicion": verdict.suspicion,
            "overruled": verdict.overruled,
        },
        "cost_usd": pending.get("cost_usd", 0.0)
        + (verdict.reply.cost_usd if verdict.reply else 0.0),
        "tokens": pending.get("tokens", 0)
        + (verdict.reply.usage.total_tokens if verdict.reply else 0),
        "usage": {
            "coder": (pending.get("usage") or {}).get("coder"),
            "judge": None if verdict.reply is None else usage_record(verdict.reply),
        },
        "started": pending.get("started"),
        "duration_s": round(m.duration_s, 3),
        "inner_s": round(m.inner_s, 3),
        "artifacts": _artifacts(run_dir, step_dir(run_dir, index)),
    }


def usage_record(reply: Reply) -> dict[str, Any]:
    """One model call's spend as the trajectory stores it (format 2)."""
    return {
        "model": reply.model,
        "prompt_tokens": reply.usage.prompt_tokens,
        "completion_tokens": reply.usage.completion_tokens,
        "cost_usd": reply.cost_usd,
        "latency_s": round(reply.latency_s, 3),
    }


def metric_record(x: MetricResult) -> dict[str, Any]:
    """A metric as the trajectory stores it."""
    return {
        "name": x.name,
        "unit": x.unit,
        "baseline": x.baseline,
        "candidate": x.candidate,
        "speedup": None if x.speedup is None else asdict(x.speedup),
        "n": x.n,
        "available": x.available,
        "note": x.note,
    }


def history_line(record: dict[str, Any]) -> str:
    s = record.get("speedup")
    num = f" {s['estimate']:.2f}x [{s['low']:.2f}, {s['high']:.2f}]" if s else ""
    kept = " KEPT" if record.get("kept") else ""
    idea = (record.get("rationale") or "").strip().splitlines()
    first = idea[0][:120] if idea else ""
    code = f" ({record['code']})" if record.get("code") not in (None, "", "ok") else ""
    return f"step {record['index']}: {record['status']}{code}{num}{kept} - {first}"


def feedback_for(m: Measurement, verdict: Verdict, kept: bool) -> str:
    """What the Coder reads about its last attempt."""
    parts = []
    if kept:
        parts.append(f"Your last candidate was KEPT: {m.reason}.")
    else:
        parts.append(f"Your last candidate was discarded ({m.status}): {m.reason}.")
    if m.grade and not m.grade.ok:
        failing = [*m.grade.failed, *m.grade.missing]
        parts.append("Failing tests: " + ", ".join(failing[:20]))
        if m.tests and m.tests.output_tail:
            parts.append("Test output (tail):\n" + m.tests.output_tail[-1500:])
    if verdict.overruled:
        parts.append("Note: " + verdict.overruled)
    if verdict.bottleneck:
        parts.append("Judge - bottleneck: " + verdict.bottleneck)
    if verdict.next_step:
        parts.append("Judge - next step: " + verdict.next_step)
    if verdict.suspicion:
        parts.append("Judge - suspicion: " + verdict.suspicion)
    return "\n".join(parts)


def finalize(rt: Runtime, state: LoopState) -> LoopState:
    """Write best.patch and report.md; record the exit status."""
    from perfsmith.loop.report import write_report

    status = state.get("exit_status") or "completed"
    best = state.get("best")
    if best:
        atomic_write(rt.run_dir / "best.patch", best["patch"])
    final = LoopState(**{**state, "exit_status": status})
    write_report(rt.run_dir, rt, final)
    rt.emit({"kind": "finished", "exit_status": status, "best": best_public(best)})
    return LoopState(exit_status=status)
