"""report.md: what a person reads first when a run ends."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from perfsmith.trajectory import atomic_write

if TYPE_CHECKING:
    from perfsmith.loop.runtime import Runtime
    from perfsmith.loop.state import LoopState

EXIT_TEXT = {
    "completed": "the Judge ended the run",
    "budget_iterations": "the iteration budget ran out",
    "budget_evaluations": "the evaluation budget ran out",
    "budget_tokens": "the token budget ran out",
    "budget_usd": "the dollar budget ran out",
    "budget_time": "the time budget ran out",
    "patience": "too many attempts in a row brought no new best",
    "format_errors": "the model's answers could not be applied too many times in a row",
    "interrupted": "it was interrupted (resumable)",
    "error": "an error stopped it",
}


def speedup_text(s: dict[str, Any]) -> str:
    """``2.41x (95% CI 2.20-2.63, n=6 worker processes per side)``."""
    conf = round(100 * float(s.get("confidence", 0.95)))
    return (
        f"{s['estimate']:.2f}x ({conf}% CI {s['low']:.2f}-{s['high']:.2f}, "
        f"n={s.get('n', '?')} worker processes per side)"
    )


def render_report(rt: Runtime, state: LoopState) -> str:
    """The Markdown report of a run."""
    info = rt.info(state)
    task = rt.task
    base = state.get("baseline") or {}
    best = state.get("best")
    status = state.get("exit_status") or "completed"
    fp = info["fingerprint"]
    lines = [
        f"# perfsmith run {info['run_id']}",
        "",
        f"- Repository: `{task.repo}`",
        f"- Workload: `{task.workload.file or ' '.join(task.workload.command or ())}`"
        f" · target: {task.target}",
        f"- Models: coder `{info['coder_model']}`, judge `{info['judge_model']}`",
        f"- Stopped because {EXIT_TEXT.get(status, status)} (`{status}`).",
        f"- Machine: {fp.get('cpu')} · {fp.get('cpus')} CPUs · {fp.get('python')} · "
        f"kernel {fp.get('kernel')} · sandbox {fp.get('sandbox')} (fingerprint `{fp.get('id')}`)",
        "",
        "## Result",
        "",
    ]
    if base:
        lines.append(
            f"Baseline: {base.get('median_s', 0.0) * 1e3:.2f} ms per workload call "
            f"(median of {base.get('samples', 0)} values), {base.get('tests', 0)} tests passing; "
            f"A/A noise floor {base.get('noise', 0.0):.1%}."
        )
        lines.append("")
    if best:
        best_sp = {**best["speedup"], "n": best.get("n")}
        lines += [
            f"**Best: step {best['step']}, significant speedup {speedup_text(best_sp)}**; "
            f"faster means the interval's low end exceeds {best.get('threshold', 0):.2f}.",
            "",
            "The patch is in `best.patch` (apply with `git apply best.patch`).",
        ]
    else:
        lines.append("No candidate was significantly faster than the baseline; nothing to apply.")
    lines += [
        "",
        "## Steps",
        "",
        "| step | status | speedup (95% CI) | tests | judge | kept | cost |",
        "|---:|---|---|---|---|:-:|---:|",
    ]
    for s in state.get("steps", []):
        sp: dict[str, Any] | None = s.get("speedup")
        sp_text = (
            f"{sp['estimate']:.2f}x [{sp['low']:.2f}, {sp['high']:.2f}] n={sp['n']}" if sp else ""
        )
        tests: dict[str, Any] | None = s.get("tests")
        t_text = (
            ""
            if tests is None
            else (
                "pass" if tests["ok"] else f"{len(tests['failed']) + len(tests['missing'])} failing"
            )
        )
        verdict = (s.get("verdict") or {}).get("decision", "")
        lines.append(
            f"| {s['index']} | {s['status']} | {sp_text} | {t_text} | {verdict} | "
            f"{'yes' if s.get('kept') else ''} | ${s.get('cost_usd', 0.0):.4f} |"
        )
    totals = info["totals"]
    lines += [
        "",
        f"Totals: {totals['iterations']} proposals, {totals['evaluations']} evaluations, "
        f"{totals['tokens']} tokens, ${totals['cost_usd']:.4f}, {totals['elapsed_s']:.1f} s.",
        "",
        "## Step details",
        "",
    ]
    for s in state.get("steps", []):
        lines.append(f"### Step {s['index']}: {s['status']}")
        lines.append("")
        if s.get("rationale"):
            lines.append("> " + s["rationale"].strip().replace("\n", "\n> "))
            lines.append("")
        lines.append(f"- Verdict of the harness: {s['reason']}")
        v = s.get("verdict") or {}
        for key in ("bottleneck", "next_step", "suspicion", "overruled"):
            if v.get(key):
                lines.append(f"- Judge {key.replace('_', ' ')}: {v[key]}")
        lines.append("")
    return "\n".join(lines) + "\n"


def write_report(run_dir: Path, rt: Runtime, state: LoopState) -> None:
    atomic_write(run_dir / "report.md", render_report(rt, state))
