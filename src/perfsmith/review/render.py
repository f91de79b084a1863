"""HTML pieces shared by the single-file report and the web app: highlighted diffs and SVG
charts.

Charts are inline SVG drawn here rather than a charting library's JavaScript: the report must
open with no network and contain no external URL, and a plotting bundle weighs megabytes and
carries URLs of its own. Two small charts do not need it. Every mark has a ``<title>`` (the
browser's tooltip) and a ``data-`` attribute naming what it shows, so a test can find it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup, escape
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import DiffLexer

from perfsmith.review.fmt import number

__all__ = ["SR_BINS", "chart_top", "diff_html", "speedup_chart", "sr_chart", "status_class"]

GOOD = frozenset({"faster"})
NEUTRAL = frozenset({"not_significant", "running", "completed", "partial"})
_FORMATTER = HtmlFormatter(noclasses=True, nowrap=True, style="friendly")

# SR bins of the batch chart: [low, high) each, the last open-ended.
SR_BINS: tuple[tuple[float, float], ...] = (
    (0.0, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 0.95), (0.95, 1.05), (1.05, 1.5),
    (1.5, 2.0), (2.0, math.inf),
)  # fmt: skip


def status_class(status: str) -> str:
    """A CSS class for a status: ``good`` (faster), ``neutral`` or ``bad``."""
    if status in GOOD:
        return "good"
    return "neutral" if status in NEUTRAL else "bad"


def diff_html(patch: str) -> Markup:
    """A unified diff as highlighted HTML (inline styles, inside ``<pre class="diff">``)."""
    if not patch.strip():
        return Markup('<pre class="diff empty">(no diff)</pre>')
    body = highlight(patch, DiffLexer(), _FORMATTER)
    return Markup('<pre class="diff">') + Markup(body) + Markup("</pre>")


def _fmt(x: float) -> str:
    return f"{x:g}"


def chart_top(steps: Sequence[Mapping[str, Any]], threshold: float | None = None) -> float:
    """The highest value the speedup chart of ``steps`` must show (at least 1.5x)."""
    highs = [number((s.get("speedup") or {}).get("high")) for s in steps]
    return max([1.5, number(threshold) or 0.0, *(h for h in highs if h is not None)])


def speedup_chart(
    steps: Sequence[Mapping[str, Any]],
    *,
    threshold: float | None = None,
    top_value: float | None = None,
    width: int = 720,
) -> Markup:
    """Speedup over steps: each measured step's estimate with its interval as an error bar.

    Failed steps (no speedup) sit on the axis as crosses; kept steps are drawn larger. A
    dashed line marks 1x (the baseline) and, when given, the threshold an interval's low end
    must exceed to count as faster. ``top_value`` (see ``chart_top``) puts several charts on
    one scale, so runs shown side by side compare by eye.
    """
    height, left, right, top, bottom = 260, 56, 16, 16, 36
    y_max = max(top_value or 0.0, chart_top(steps, threshold)) * 1.1
    count = max(len(steps), 1)
    plot_w, plot_h = width - left - right, height - top - bottom

    def x_of(i: int) -> float:
        return left + plot_w * (i + 0.5) / count

    def y_of(v: float) -> float:
        return top + plot_h * (1 - max(0.0, min(v, y_max)) / y_max)

    parts = [
        f'<svg class="chart speedup-chart" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" aria-label="speedup over steps">',
        f'<line class="axis" x1="{left}" y1="{y_of(0):.1f}" x2="{width - right}" '
        f'y2="{y_of(0):.1f}" stroke="#888"/>',
        f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{y_of(0):.1f}" stroke="#888"/>',
    ]
    for tick in _ticks(y_max):
        y = y_of(tick)
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">'
            f"{_fmt(tick)}x</text>"
        )
    parts.append(_hline(1.0, "baseline 1x", "#555", left, width - right, y_of))
    if threshold is not None and number(threshold) is not None and threshold > 1.0:
        parts.append(
            _hline(threshold, f"threshold {threshold:.2f}x", "#c77d00", left, width - right, y_of)
        )
    for i, s in enumerate(steps):
        x = x_of(i)
        index = s.get("index", i + 1)
        parts.append(
            f'<text x="{x:.1f}" y="{height - 14}" text-anchor="middle" font-size="11">'
            f"{escape(str(index))}</text>"
        )
        sp = s.get("speedup") or {}
        est, low, high = number(sp.get("estimate")), number(sp.get("low")), number(sp.get("high"))
        status = str(s.get("status", ""))
        if est is None or low is None or high is None:
            tip = escape(f"step {index}: {status} (not timed)")
            y = y_of(0)
            parts.append(
                f'<g class="point failed" data-step="{escape(str(index))}"><title>{tip}</title>'
                f'<path d="M{x - 5:.1f},{y - 5:.1f}L{x + 5:.1f},{y + 5:.1f}M{x - 5:.1f},'
                f'{y + 5:.1f}L{x + 5:.1f},{y - 5:.1f}" stroke="#c0392b" stroke-width="2"/></g>'
            )
            continue
        colour = {"good": "#1e8449", "neutral": "#7f8c8d", "bad": "#c0392b"}[status_class(status)]
        kept = " kept" if s.get("kept") else ""
        n = sp.get("n")
        tip = escape(
            f"step {index}: {status} {est:.2f}x [{low:.2f}, {high:.2f}]"
            + (f" n={n}" if n is not None else "")
            + (" (kept)" if kept else "")
        )
        parts += [
            f'<g class="point{kept}" data-step="{escape(str(index))}" data-estimate="{est:.4f}" '
            f'data-low="{low:.4f}" data-high="{high:.4f}"><title>{tip}</title>',
            f'<line class="interval" x1="{x:.1f}" y1="{y_of(low):.1f}" x2="{x:.1f}" '
            f'y2="{y_of(high):.1f}" stroke="{colour}" stroke-width="2"/>',
            f'<line x1="{x - 6:.1f}" y1="{y_of(low):.1f}" x2="{x + 6:.1f}" y2="{y_of(low):.1f}" '
            f'stroke="{colour}" stroke-width="2"/>',
            f'<line x1="{x - 6:.1f}" y1="{y_of(high):.1f}" x2="{x + 6:.1f}" '
            f'y2="{y_of(high):.1f}" stroke="{colour}" stroke-width="2"/>',
            f'<circle cx="{x:.1f}" cy="{y_of(est):.1f}" r="{7 if kept else 4.5}" '
            f'fill="{colour}"/></g>',
        ]
    parts.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 2}" text-anchor="middle" '
        'font-size="11">step</text></svg>'
    )
    return Markup("".join(parts))


def _hline(value: float, label: str, colour: str, x1: float, x2: float, y_of: Any) -> str:
    """A dashed rule; the baseline's label sits at the left end, others at the right."""
    y = y_of(value)
    at, anchor = (x1 + 4, "start") if value == 1.0 else (x2, "end")
    return (
        f'<g class="rule"><line x1="{x1}" y1="{y:.1f}" x2="{x2}" y2="{y:.1f}" stroke="{colour}" '
        f'stroke-dasharray="5,4"/><text x="{at}" y="{y - 4:.1f}" text-anchor="{anchor}" '
        f'font-size="10" fill="{colour}">{escape(label)}</text></g>'
    )


def _ticks(y_max: float) -> list[float]:
    raw = y_max / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return [step * k for k in range(int(y_max / step) + 1)]


def _bin_label(low: float, high: float) -> str:
    return f">= {_fmt(low)}" if math.isinf(high) else f"{_fmt(low)}-{_fmt(high)}"


def sr_chart(srs: Sequence[float | None], *, width: int = 720) -> Markup:
    """A histogram of speedup ratios (SR = agent speedup / expert speedup) over tasks.

    Tasks without an SR (unscorable) get a bar of their own, so they are never silently
    dropped from the picture.
    """
    height, left, bottom, top = 220, 40, 40, 16
    counts = [0] * len(SR_BINS)
    unscorable = 0
    for sr in srs:
        value = number(sr)
        if value is None:
            unscorable += 1
            continue
        for k, (low, high) in enumerate(SR_BINS):
            if low <= value < high:
                counts[k] += 1
                break
    bars = [(_bin_label(lo, hi), c) for (lo, hi), c in zip(SR_BINS, counts, strict=True)]
    bars.append(("no SR", unscorable))
    peak = max([1, *(c for _, c in bars)])
    slot = (width - left - 8) / len(bars)
    plot_h = height - top - bottom
    parts = [
        f'<svg class="chart sr-chart" role="img" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" aria-label="distribution of speedup ratios">',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 8}" y2="{top + plot_h}" '
        'stroke="#888"/>',
    ]
    for k, (label, count) in enumerate(bars):
        x = left + k * slot
        h = plot_h * count / peak
        colour = "#95a5a6" if label == "no SR" else ("#1e8449" if k >= 4 else "#c77d00")
        parts.append(
            f'<g class="bar" data-bin="{escape(label)}" data-count="{count}">'
            f"<title>SR {escape(label)}: {count} task(s)</title>"
            f'<rect x="{x + 4:.1f}" y="{top + plot_h - h:.1f}" width="{slot - 8:.1f}" '
            f'height="{h:.1f}" fill="{colour}"/>'
            f'<text x="{x + slot / 2:.1f}" y="{top + plot_h - h - 4:.1f}" text-anchor="middle" '
            f'font-size="11">{count}</text>'
            f'<text x="{x + slot / 2:.1f}" y="{height - 22}" text-anchor="middle" '
            f'font-size="10">{escape(label)}</text></g>'
        )
    parts.append(
        f'<text x="{left + (width - left) / 2:.1f}" y="{height - 4}" text-anchor="middle" '
        'font-size="11">speedup ratio (agent / expert)</text></svg>'
    )
    return Markup("".join(parts))
