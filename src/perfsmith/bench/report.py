"""Task-set reports: read results.jsonl, render Markdown and a JSON document.

The numbers come from ``perfsmith.bench.metrics.summarize``; this module only reads and lays
them out. Unscorable tasks (no usable expert speedup) appear in the table and again in a list
that says why, so a reader never mistakes a smaller denominator for a better score.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from perfsmith.bench.metrics import CLASSES, effective_speedup, speedup_ratio, task_class
from perfsmith.errors import ConfigError
from perfsmith.review.fmt import interval_text

__all__ = ["REPORT_FORMAT", "load_results", "render_markdown", "report_json"]

REPORT_FORMAT = "perfsmith.bench-report/1"

Result = Mapping[str, Any]


def load_results(path: Path) -> list[dict[str, Any]]:
    """Read a results.jsonl file.

    Blank lines are skipped. When an instance_id appears more than once (a task was redone),
    the last line wins; tasks keep the order of their first appearance.

    Args:
        path: The results.jsonl file.

    Returns:
        One dict per instance_id.

    Raises:
        ConfigError: The file cannot be read, or a line is not a JSON object with a string
            ``instance_id`` (the message names the file and line number).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"cannot read results file {path}: {exc}",
            "Check the path; it should be the results.jsonl a bench run wrote.",
        ) from exc
    by_id: dict[str, dict[str, Any]] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise _bad_line(path, lineno, f"not valid JSON ({exc.msg})") from exc
        if not isinstance(row, dict):
            raise _bad_line(path, lineno, "not a JSON object")
        if not isinstance(row.get("instance_id"), str) or not row["instance_id"]:
            raise _bad_line(path, lineno, "no string instance_id")
        by_id[row["instance_id"]] = row
    return list(by_id.values())


def _bad_line(path: Path, lineno: int, why: str) -> ConfigError:
    return ConfigError(
        f"{path}:{lineno}: malformed result line: {why}",
        "Fix or delete that line (a run killed mid-write can leave a partial last line), "
        "then rerun the report; redo the task if its result is lost.",
    )


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _fmt_speedup(point: Any, low: Any, high: Any, n: Any) -> str:
    """``2.31x [2.10, 2.52] n=6``; parts that were not measured are left out."""
    return interval_text({"estimate": point, "low": low, "high": high}, n)


def _fmt(value: Any, spec: str, prefix: str = "", suffix: str = "") -> str:
    x = _num(value)
    return "-" if x is None else f"{prefix}{x:{spec}}{suffix}"


def _pct(value: Any) -> str:
    return _fmt(None if value is None else value * 100, ".1f", suffix="%")


def _cell(value: Any) -> str:
    """Table cell text: pipes and newlines would break the Markdown table."""
    if value is None or value == "":
        return "-"
    return str(value).replace("|", "\\|").replace("\n", " ")


def _why_unscorable(r: Result) -> str:
    expert = r.get("expert_speedup")
    status = r.get("expert_status") or "unknown"
    if _num(expert) is None:
        return f"no expert speedup measured (expert status: {status})"
    return f"expert speedup {expert} is not above zero (expert status: {status})"


def _headline(summary: Mapping[str, Any]) -> list[str]:
    ci = summary.get("hmean_sr_ci")
    hmean = _fmt(summary.get("hmean_sr"), ".3f")
    interval = (
        f" [{ci[0]:.3f}, {ci[1]:.3f}] (95% bootstrap over tasks)"
        if ci
        else " (no interval: fewer than 2 scored tasks)"
    )
    fast = summary.get("fast_p") or {}
    props = summary.get("proportions") or {}
    return [
        f"**Harmonic mean SR: {hmean}**{interval}",
        "",
        f"- Scope: {summary.get('scope', '-')}",
        f"- Geometric mean SR: {_fmt(summary.get('gmean_sr'), '.3f')}",
        f"- SR >= 0.95: {_pct(summary.get('share_sr_ge_0_95'))}",
        "- Outcomes: " + ", ".join(f"{c.replace('_', ' ')} {_pct(props.get(c))}" for c in CLASSES),
        f"- Mean expert speedup: {_fmt(summary.get('expert_speedup_mean'), '.2f', suffix='x')}",
        f"- Cost: {_fmt(summary.get('cost_usd_total'), '.2f', prefix='$')} total, "
        f"{_fmt(summary.get('cost_usd_mean'), '.3f', prefix='$')} per task; "
        f"time: {_fmt(summary.get('wall_s_total'), '.0f', suffix=' s')} total, "
        f"{_fmt(summary.get('wall_s_mean'), '.1f', suffix=' s')} per task",
        "",
        "| " + " | ".join(fast) + " |" if fast else "",
        "| " + " | ".join("---" for _ in fast) + " |" if fast else "",
        "| " + " | ".join(_pct(v) for v in fast.values()) + " |" if fast else "",
    ]


def render_markdown(results: Sequence[Result], summary: Mapping[str, Any], *, title: str) -> str:
    """Render a task-set report as Markdown.

    Args:
        results: Task results (as from ``load_results``).
        summary: ``summarize(results, ...)``.
        title: The report's heading.

    Returns:
        The Markdown text: a headline block, a table per task sorted by instance_id, and the
        unscorable tasks with the reason for each.
    """
    lines = [f"# {title}", "", *_headline(summary), ""]
    lines += [
        "| Task | Category | Status | Correct | Speedup | Expert speedup | SR | Cost | Wall |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    ordered = sorted(results, key=lambda r: str(r.get("instance_id")))
    for r in ordered:
        speedup = _fmt_speedup(
            r.get("speedup"), r.get("speedup_ci_low"), r.get("speedup_ci_high"), r.get("n")
        )
        expert = _fmt_speedup(
            r.get("expert_speedup"),
            r.get("expert_ci_low"),
            r.get("expert_ci_high"),
            r.get("expert_n"),
        )
        correct = r.get("correct")
        cells = [
            _cell(r.get("instance_id")),
            _cell(r.get("category")),
            _cell(r.get("status")),
            "yes" if correct is True else "no" if correct is False else "-",
            _cell(speedup),
            _cell(expert),
            _fmt(speedup_ratio(r), ".3f"),
            _fmt(r.get("cost_usd"), ".3f", prefix="$"),
            _fmt(r.get("wall_s"), ".1f", suffix=" s"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    unscorable = [r for r in ordered if speedup_ratio(r) is None]
    if unscorable:
        lines += ["", "## Unscorable tasks", ""]
        lines += [f"- {_cell(r.get('instance_id'))}: {_why_unscorable(r)}" for r in unscorable]
    return "\n".join(lines) + "\n"


def _json_safe(value: Any) -> Any:
    """Non-finite floats become None: JSON has no NaN, and NaN != NaN breaks round trips."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def report_json(results: Sequence[Result], summary: Mapping[str, Any]) -> dict[str, Any]:
    """The report as a JSON-compatible document.

    Args:
        results: Task results.
        summary: ``summarize(results, ...)``.

    Returns:
        ``{"format": REPORT_FORMAT, "summary": ..., "tasks": [...]}``; each task is its result
        with ``effective_speedup``, ``sr`` and ``class`` added, sorted by instance_id.
    """
    tasks = []
    for r in sorted(results, key=lambda r: str(r.get("instance_id"))):
        task = {k: _json_safe(v) for k, v in r.items()}
        task["effective_speedup"] = effective_speedup(r)
        task["sr"] = speedup_ratio(r)
        task["class"] = task_class(r)
        tasks.append(task)
    return {"format": REPORT_FORMAT, "summary": dict(summary), "tasks": tasks}
