"""``perfsmith review RUN``: a run or a batch laid out in the terminal with rich.

Everything a run folder provides (task names, rationales, reasons, test output, diffs) is
escaped before it meets rich's markup, since trajectories routinely contain ``[brackets]``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table

from perfsmith.errors import ConfigError
from perfsmith.loop.report import EXIT_TEXT
from perfsmith.review.fmt import agent_tokens, duration, grade_text, money, num
from perfsmith.review.runs import Batch, Run, interval_text

__all__ = ["show"]

RATIONALE_LINES = 6
FAILURE_LINES = 6
PROFILE_LINES = 10
GOOD = frozenset({"faster", "completed"})
CLASS_STYLE = {"at_or_above_expert": "green", "incorrect": "red"}
BAD = frozenset({"test_failed", "format_error", "apply_failed", "rejected", "error", "crashed"})


def show(entry: Run | Batch, console: Console, *, step: int | None = None) -> None:
    """Print a run (summary, step table, step details) or a batch (summary, task table).

    Args:
        entry: A run or batch, as ``perfsmith.review.runs.load_folder`` opens it.
        console: Where to print.
        step: Show only this step's details (runs only).

    Raises:
        RunNotFound: The run has no step ``step``.
        ConfigError: ``step`` was given for a batch.
    """
    if isinstance(entry, Batch):
        if step is not None:
            raise ConfigError(
                f"{entry.id} is a batch of {len(entry.results)} tasks; --step applies to one run.",
                "Review a task's agent run with --step instead: "
                f"perfsmith review {_shown(entry.path)}/tasks/<instance_id>/agent --step {step}",
            )
        _show_batch(entry, console)
        return
    chosen = [entry.step(step)] if step is not None else list(entry.steps)
    console.print(_run_summary(entry))
    if entry.steps:
        console.print(_step_table(entry))
    else:
        console.print("[dim]No steps recorded yet.[/]")
    for record in chosen:
        console.print(_step_panel(entry, record))


def _e(value: Any) -> str:
    return escape(str(value))


def _style(status: str) -> str:
    if status in GOOD:
        return "green"
    if status in BAD or status.endswith("errors") or status == "interrupted":
        return "red"
    return "yellow"


def _status(status: str) -> str:
    return f"[{_style(status)}]{_e(status)}[/]"


def _shown(path: Path) -> str:
    """A path relative to the working directory when it lies inside it (shorter to retype)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _fields(rows: Iterable[tuple[str, str]]) -> Table:
    """Label / value rows; values are markup the caller has already escaped."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for label, value in rows:
        grid.add_row(label, value)
    return grid


def _models(info: Mapping[str, Any]) -> str:
    coder, judge = str(info.get("coder_model") or ""), str(info.get("judge_model") or "")
    if not coder and not judge:
        return "-"
    if coder == judge or not judge:
        return _e(coder or judge)
    return f"Coder {_e(coder or '-')} · Judge {_e(judge)}"


def _best(run: Run) -> str:
    best = run.best
    if not best:
        return "no step beat the baseline beyond its noise"
    headline = _e(interval_text(best.get("speedup"), best.get("n")))
    return (
        f"[bold green]{headline}[/] at step {_e(best.get('step', '-'))}; "
        f"threshold {num(best.get('threshold'), '.2f', 'x')}"
    )


def _baseline(base: Mapping[str, Any]) -> str:
    median = base.get("median_s")
    ms = num(median * 1e3 if isinstance(median, int | float) else None, ".2f", " ms")
    return (
        f"{ms} median ({num(base.get('samples'), 'd')} samples), "
        f"{num(base.get('tests'), 'd')} tests; A/A noise {num(base.get('noise'), '.1%')}"
    )


def _run_summary(run: Run) -> Panel:
    info, task, fp, totals = run.info, run.task, run.fingerprint, run.totals
    status = run.exit_status
    meaning = EXIT_TEXT.get(status, "still running" if status == "running" else "")
    machine = (fp.get("cpu", "?"), f"{fp.get('cpus', '?')} CPUs", fp.get("python", "?"),
               f"sandbox {fp.get('sandbox', '?')}", f"id {fp.get('id', '?')}")  # fmt: skip
    rows = {
        "Task": _e(run.title),
        "Repo": _e(task.get("repo") or "-"),
        "Workload": _e(task.get("workload") or task.get("workload_cmd") or "-"),
        "Target": _e(task.get("target") or "-"),
        "Model": _models(info),
        "Status": _status(status) + (f" — {_e(meaning)}" if meaning else ""),
        "Error": f"[red]{_e(info['error'])}[/]" if info.get("error") else "",
        "Best": _best(run),
        "Baseline": _baseline(info["baseline"]) if info.get("baseline") else "",
        "Spend": f"{money(totals.get('cost_usd'))} · {num(totals.get('tokens'), ',d')} tokens"
        f" · {duration(totals.get('elapsed_s'))} elapsed",
        "Machine": " · ".join(_e(x) for x in machine) if fp else "",
        "Format": f"[yellow]upgraded from {_e(run.source_format)}[/] (an older perfsmith wrote "
        "it; the Coder/Judge token split and step start times were not recorded)"
        if run.upgraded
        else "",
    }
    grid = _fields((label, value) for label, value in rows.items() if value)
    return Panel(grid, title=f"[bold]run {_e(run.id)}[/]", title_align="left")


def _tokens(step: Mapping[str, Any]) -> str:
    usage = step.get("usage") or {}
    parts = [
        f"{agent} {spent:,}"
        for agent in ("coder", "judge")
        if (spent := agent_tokens(usage.get(agent))) is not None
    ]
    return " / ".join(parts) if parts else num(step.get("tokens"), ",d")


def _tests(step: Mapping[str, Any]) -> str:
    text = grade_text(step.get("tests"))
    return text if text == "-" else f"[{'green' if text == 'pass' else 'red'}]{text}[/]"


def _step_table(run: Run) -> Table:
    table = Table(title="Steps", title_justify="left")
    for name in ("#", "Status", "Gate", "Speedup", "Tests", "Judge", "Kept", "Cost", "Tokens"):
        table.add_column(name, justify="right" if name in {"#", "Cost", "Tokens"} else "left")
    for step in run.steps:
        table.add_row(
            str(step["index"]),
            _status(str(step["status"])),
            _e(step["gate"] or "-"),
            _e(interval_text(step["speedup"])),
            _tests(step),
            _e(step["verdict"]["decision"] or "-"),
            "[green]yes[/]" if step["kept"] else "",
            money(step["cost_usd"]),
            _tokens(step),
        )
    return table


def _first_lines(text: str, count: int) -> str:
    lines = text.strip().splitlines()
    shown = _e("\n".join(lines[:count]))
    rest = len(lines) - count
    return shown + (f"\n[dim]… {rest} more line{'s' if rest > 1 else ''}[/]" if rest > 0 else "")


def _last_lines(text: str, count: int) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return _e("\n".join(lines[-count:]))


def _section(parts: list[RenderableType], title: str, *body: RenderableType) -> None:
    """Append a titled block, with a blank line between blocks."""
    parts += [("\n" if parts else "") + f"[bold underline]{title}[/]", *body]


def _step_panel(run: Run, step: dict[str, Any]) -> Panel:
    status = str(step["status"])
    parts: list[RenderableType] = []
    if step["rationale"]:
        _section(parts, "Coder", _first_lines(str(step["rationale"]), RATIONALE_LINES))
    unapplied = status == "format_error"
    harness = [("Gate", _e(step["gate"]))] if step["gate"] else []
    if not unapplied:
        harness.append(("Reason", _e(step["reason"] or "-")))
    harness.append(("Code", _e(step["code"] or "-")))
    if step["flags"]:
        harness.append(("Flags", f"[yellow]{_e(', '.join(map(str, step['flags'])))}[/]"))
    _section(parts, "Harness", _fields(harness))
    patch = run.patch(step)
    if unapplied:
        _section(
            parts,
            "No diff: the Coder's answer could not be applied",
            f"[red]{_e(step['reason'] or 'no reason recorded')}[/]",
        )
    elif patch.strip():
        _section(parts, "Diff", Syntax(patch.rstrip("\n"), "diff", word_wrap=True))
    else:
        _section(parts, "Diff", "[dim]no diff recorded[/]")
    failures = run.failures(step)
    if failures:
        _section(parts, f"Failing tests ({len(failures)})")
        for test_id, message in failures.items():
            parts += [f"[red]✗ {_e(test_id)}[/]", _last_lines(message, FAILURE_LINES)]
    profile = run.profile_lines(step, limit=PROFILE_LINES)
    if profile:
        _section(parts, "Profile (top)", _e("\n".join(profile)))
    verdict = {k: v for k, v in step["verdict"].items() if v}
    if verdict:
        rows = ((key.replace("_", " ").capitalize(), _e(v)) for key, v in verdict.items())
        _section(parts, "Judge", _fields(rows))
    title = f"[bold]step {_e(step['index'])}[/] · {_status(status)}"
    if step["speedup"]:
        title += f" · {_e(interval_text(step['speedup']))}"
    return Panel(Group(*parts), title=title, title_align="left")


def _share(value: Any) -> str:
    return num(value, ".1%")


def _batch_summary(batch: Batch) -> Panel:
    s = batch.summary
    ci = s.get("hmean_sr_ci")
    hmean = num(s.get("hmean_sr"), ".3f")
    if isinstance(ci, list | tuple) and len(ci) == 2:
        hmean += f" [{ci[0]:.3f}, {ci[1]:.3f}] (95% bootstrap over tasks)"
    fast = " · ".join(f"{_e(k)} {_share(v)}" for k, v in (s.get("fast_p") or {}).items())
    props = (s.get("proportions") or {}).items()
    unscorable = ", ".join(map(str, s.get("tasks_unscorable") or []))
    rows = {
        "Suite": _e(batch.title),
        "Model": _e(batch.model or "-"),
        "Status": _status(batch.exit_status),
        "Scope": _e(s.get("scope") or "-"),
        "Hmean SR": f"[bold]{_e(hmean)}[/]",
        "Gmean SR": num(s.get("gmean_sr"), ".3f"),
        "fast_p": fast or "-",
        "Outcomes": " · ".join(f"{_e(k.replace('_', ' '))} {_share(v)}" for k, v in props),
        "Correct": _share(s.get("correct_rate")),
        "Spend": f"{money(s.get('cost_usd_total'), 2)} total, "
        f"{money(s.get('cost_usd_mean'), 3)} per task · {duration(s.get('wall_s_total'))} wall",
        "Unscorable": f"[yellow]{_e(unscorable)}[/]" if unscorable else "",
    }
    grid = _fields((label, value) for label, value in rows.items() if value)
    return Panel(grid, title=f"[bold]batch {_e(batch.id)}[/]", title_align="left")


def _ci(r: Mapping[str, Any], key: str, low: str, high: str, n: str) -> str:
    return interval_text({"estimate": r.get(key), "low": r.get(low), "high": r.get(high)}, r.get(n))


def _task_table(batch: Batch) -> Table:
    table = Table(title="Tasks", title_justify="left")
    for name in ("Task", "Status", "Correct", "Speedup", "Expert", "SR", "Class", "Cost", "Wall"):
        table.add_column(name, justify="right" if name in {"SR", "Cost", "Wall"} else "left")
    for r in batch.results:
        correct = r.get("correct")
        cls = str(r.get("class") or "-")
        table.add_row(
            _e(r.get("instance_id")),
            _status(str(r.get("status") or "-")),
            "[green]yes[/]" if correct is True else "[red]no[/]" if correct is False else "-",
            _e(_ci(r, "speedup", "speedup_ci_low", "speedup_ci_high", "n")),
            _e(_ci(r, "expert_speedup", "expert_ci_low", "expert_ci_high", "expert_n")),
            num(r.get("sr"), ".3f"),
            f"[{CLASS_STYLE.get(cls, 'yellow')}]{_e(cls.replace('_', ' '))}[/]",
            money(r.get("cost_usd"), 3),
            duration(r.get("wall_s")),
        )
    return table


def _show_batch(batch: Batch, console: Console) -> None:
    console.print(_batch_summary(batch))
    console.print(_task_table(batch))
    for r in batch.results:
        instance_id = str(r.get("instance_id"))
        if batch.task_run_id(instance_id) is not None:
            agent = _shown(batch.path / "tasks" / instance_id / "agent")
            console.print(
                f"[dim]{_e(instance_id)}:[/] perfsmith review {_e(agent)}", soft_wrap=True
            )
