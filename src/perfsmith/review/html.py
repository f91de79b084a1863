"""``perfsmith report RUN --html FILE``: a run or a batch as one self-contained HTML file.

The page has to open from an archive or a mail attachment with no network, so styles are
inlined, charts are inline SVG (``perfsmith.review.render``) and there is no script at all.
Everything read from a run folder reaches the page through Jinja's autoescape; only the
render helpers' ``Markup`` (escaped where it is built) is inserted as is.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from perfsmith import __version__
from perfsmith.errors import ConfigError
from perfsmith.loop.report import EXIT_TEXT
from perfsmith.review.fmt import agent_tokens, grade_text, money, num, number
from perfsmith.review.render import diff_html, speedup_chart, sr_chart, status_class
from perfsmith.review.runs import Batch, Run, interval_text, load_folder

__all__ = ["render_report"]

PROFILE_LINES = 12


def _quantity(value: Any, unit: str) -> str:
    x = number(value)
    if x is None:
        return "-"
    if unit == "s":
        return f"{x * 1e3:.3f} ms" if abs(x) < 1 else f"{x:.3f} s"
    return f"{x / 1024:.1f} KiB" if unit == "B" else f"{x:.4g} {unit}".strip()


def _interval(sp: Any, n: Any = None) -> str:
    """``interval_text``, naming the confidence level when it is not the usual 95%."""
    text = interval_text(sp if isinstance(sp, Mapping) else None, n)
    conf = number(sp.get("confidence")) if isinstance(sp, Mapping) else None
    return text if conf is None or round(conf, 3) == 0.95 or text == "-" else f"{text} ({conf:.0%})"


def _columns(r: Mapping[str, Any], estimate: str, low: str, high: str, n: str) -> str:
    return interval_text(
        {"estimate": r.get(estimate), "low": r.get(low), "high": r.get(high)}, r.get(n)
    )


def _tokens(step: Mapping[str, Any]) -> str:
    split = [
        f"{agent} {spent:,}"
        for agent, rec in (step.get("usage") or {}).items()
        if (spent := agent_tokens(rec)) is not None
    ]
    total = num(step.get("tokens"), ",d")
    return f"{total} ({' / '.join(split)})" if split else total


@lru_cache(maxsize=1)
def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("perfsmith.review", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        num=num, money=money, quantity=_quantity, interval=_interval, tests=grade_text,
        tokens=_tokens, cls=status_class,
    )  # fmt: skip
    return env


def render_report(entry: Run | Batch) -> str:
    """The report of a run or a batch as one HTML document with no external reference.

    Args:
        entry: A run or batch, as ``perfsmith.review.runs.load_folder`` opens it.

    Returns:
        The complete HTML text.
    """
    run = _run(entry, detailed=True) if isinstance(entry, Run) else None
    batch = _batch(entry) if isinstance(entry, Batch) else None
    context = {"kind": entry.kind, "run": run, "batch": batch, "version": __version__}
    return _env().get_template("report.html.j2").render(context)


def _run(run: Run, *, detailed: bool, shown_id: str | None = None) -> dict[str, Any]:
    """A run's header, chart and steps; ``detailed`` adds each step's diff, tests, profile."""
    best = run.best
    threshold = run.threshold
    status = run.exit_status
    details = [
        {
            "diff": None if s["status"] == "format_error" else diff_html(run.patch(s)),
            "failures": run.failures(s),
            "profile": run.profile_lines(s, limit=PROFILE_LINES),
        }
        for s in (run.steps if detailed else ())
    ]
    return {
        "id": shown_id or run.id,
        "title": run.title,
        "task": run.task,
        "info": run.info,
        "status": status,
        "cls": "bad" if run.failed else "good" if best else status_class(status),
        "meaning": EXIT_TEXT.get(status, "still running" if status == "running" else ""),
        "best": best,
        "threshold": threshold,
        "baseline": dict(run.info.get("baseline") or {}),
        "totals": run.totals,
        "fingerprint": run.fingerprint,
        "upgraded": run.upgraded,
        "source_format": run.source_format,
        "chart": speedup_chart(run.steps, threshold=threshold) if run.steps else None,
        "steps": run.steps,
        "details": details,
        "linked": detailed,
    }


def _embedded(batch: Batch, instance_id: str) -> dict[str, Any] | None:
    """A task's agent run, summarised (its full report is that run's own)."""
    run_id = batch.task_run_id(instance_id)
    if run_id is None:
        return None
    try:
        run = load_folder(batch.path / "tasks" / instance_id / "agent")
    except ConfigError as exc:
        return {"error": exc.message, "run": None}
    if not isinstance(run, Run):
        return {"error": "the agent folder holds no single run", "run": None}
    return {"error": "", "run": _run(run, detailed=False, shown_id=run_id)}


def _batch(batch: Batch) -> dict[str, Any]:
    ci = batch.summary.get("hmean_sr_ci")
    tasks = [
        {
            **r,
            "iid": str(r.get("instance_id") or "?"),
            "speedup_text": _columns(r, "speedup", "speedup_ci_low", "speedup_ci_high", "n"),
            "expert_text": _columns(
                r, "expert_speedup", "expert_ci_low", "expert_ci_high", "expert_n"
            ),
            "embedded": _embedded(batch, str(r.get("instance_id") or "")),
        }
        for r in batch.results
    ]
    return {
        "id": batch.id,
        "title": batch.title,
        "model": batch.model or "-",
        "status": batch.exit_status,
        "meta": batch.meta,
        "summary": batch.summary,
        "hmean_ci": ci if isinstance(ci, list | tuple) and len(ci) == 2 else None,
        "chart": sr_chart([r.get("sr") for r in batch.results]),
        "tasks": tasks,
    }
