"""Shared HTML pieces: highlighted diffs and the two SVG charts."""

from __future__ import annotations

import itertools
import math
import re
from html.parser import HTMLParser
from typing import Any

import pytest

from perfsmith.review.render import (
    SR_BINS,
    chart_top,
    diff_html,
    speedup_chart,
    sr_chart,
    status_class,
)

PATCH = """diff --git a/m.py b/m.py
--- a/m.py
+++ b/m.py
@@ -1,2 +1,2 @@
-x = '<script>alert(1)</script>'
+y = "<img src=x onerror=alert(1)>"
 z = 1 & 2
"""


class Tags(HTMLParser):
    """Collects start tags with their attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Tags()
    parser.feed(html)
    return parser.tags


def step(
    index: int, status: str, sp: tuple[float, float, float] | None, kept: bool = False
) -> dict[str, Any]:
    speedup = None if sp is None else {"estimate": sp[0], "low": sp[1], "high": sp[2], "n": 6}
    return {"index": index, "status": status, "speedup": speedup, "kept": kept}


# --- diffs ---------------------------------------------------------------------------------


def test_diff_html_escapes_the_patch_and_highlights_added_and_removed_lines() -> None:
    html = str(diff_html(PATCH))
    assert html.startswith('<pre class="diff">') and html.endswith("</pre>")
    assert [t for t, _ in tags(html)] == ["pre"] + ["span"] * (len(tags(html)) - 1)
    assert "&lt;script&gt;" in html and "<script" not in html and "<img" not in html
    assert "&amp;" in html
    added = re.search(r'<span style="color: (#[0-9A-Fa-f]{6})">\+y = ', html)
    removed = re.search(r"<span style=\"color: (#[0-9A-Fa-f]{6})\">-x = ", html)
    assert added and removed and added.group(1) != removed.group(1)


@pytest.mark.parametrize("patch", ["", "   \n"])
def test_an_empty_diff_says_so(patch: str) -> None:
    assert "(no diff)" in diff_html(patch)


# --- speedup chart -------------------------------------------------------------------------


def points(svg: str) -> list[dict[str, str | None]]:
    return [a for t, a in tags(svg) if t == "g" and "point" in (a.get("class") or "")]


def test_every_step_is_a_point_and_timed_steps_carry_their_interval() -> None:
    steps = [
        step(1, "test_failed", None),
        step(2, "faster", (3.63, 2.03, 4.28), kept=True),
        step(3, "not_significant", (1.02, 0.97, 1.08)),
        step(4, "slower", (0.5, 0.45, 0.56)),
    ]
    svg = str(speedup_chart(steps, threshold=1.2))
    marks = points(svg)
    assert [m["data-step"] for m in marks] == ["1", "2", "3", "4"]
    assert marks[0]["class"] == "point failed" and "data-estimate" not in marks[0]
    assert marks[1]["class"] == "point kept"
    assert (marks[1]["data-estimate"], marks[1]["data-low"], marks[1]["data-high"]) == (
        "3.6300", "2.0300", "4.2800")  # fmt: skip
    assert "step 2: faster 3.63x [2.03, 4.28] n=6 (kept)" in svg
    assert "step 1: test_failed (not timed)" in svg
    assert svg.count('class="interval"') == 3
    assert "threshold 1.20x" in svg and "baseline 1x" in svg


def _y(svg: str, step_no: int, attr: str) -> float:
    block = svg.split(f'data-step="{step_no}"', 1)[1].split("</g>", 1)[0]
    return float(re.search(rf'{attr}="([0-9.]+)"', block).group(1))  # type: ignore[union-attr]


def test_higher_speedups_are_drawn_higher_and_the_interval_spans_low_to_high() -> None:
    svg = str(speedup_chart([step(1, "faster", (2.0, 1.5, 2.5)), step(2, "faster", (4, 3, 5))]))
    assert _y(svg, 2, "cy") < _y(svg, 1, "cy")  # SVG y grows downwards
    y1, y2 = _y(svg, 1, "y1"), _y(svg, 1, "y2")
    assert y1 > _y(svg, 1, "cy") > y2  # low end below the estimate, high end above


def test_the_chart_is_tall_enough_for_the_widest_interval() -> None:
    svg = str(speedup_chart([step(1, "faster", (40.0, 30.0, 50.0))]))
    top = _y(svg, 1, "y2")
    assert top >= 16  # inside the plot's top margin, not clipped at it
    assert "50x" in svg or "40x" in svg  # a tick near the top


def test_no_threshold_rule_when_there_is_none_or_it_is_not_above_one() -> None:
    steps = [step(1, "faster", (2.0, 1.5, 2.5))]
    assert "threshold" not in str(speedup_chart(steps))
    assert "threshold" not in str(speedup_chart(steps, threshold=1.0))


def test_an_empty_run_still_draws_axes() -> None:
    svg = str(speedup_chart([]))
    assert svg.startswith("<svg") and svg.endswith("</svg>") and not points(svg)


def test_nan_or_infinite_intervals_count_as_not_timed() -> None:
    svg = str(speedup_chart([step(1, "faster", (math.nan, 1.0, math.inf))]))
    assert points(svg)[0]["class"] == "point failed"


def test_step_text_in_the_chart_is_escaped() -> None:
    svg = str(speedup_chart([{"index": "<b>", "status": "<i>x</i>", "speedup": None}]))
    assert "<b>" not in svg and "<i>" not in svg and "&lt;i&gt;" in svg


# --- SR chart ------------------------------------------------------------------------------


def bars(svg: str) -> dict[str, int]:
    return {
        str(a["data-bin"]): int(str(a["data-count"]))
        for t, a in tags(svg)
        if t == "g" and a.get("class") == "bar"
    }


def test_sr_bins_cover_zero_to_infinity_without_gaps() -> None:
    assert SR_BINS[0][0] == 0.0 and math.isinf(SR_BINS[-1][1])
    assert all(a[1] == b[0] for a, b in itertools.pairwise(SR_BINS))


def test_sr_histogram_puts_each_task_in_one_bin_with_half_open_edges() -> None:
    counts = bars(str(sr_chart([0.0, 0.25, 0.94, 0.95, 1.0, 1.05, 2.0, 7.5, None, math.nan])))
    assert counts == {
        "0-0.25": 1, "0.25-0.5": 1, "0.5-0.75": 0, "0.75-0.95": 1, "0.95-1.05": 2,
        "1.05-1.5": 1, "1.5-2": 0, ">= 2": 2, "no SR": 2,
    }  # fmt: skip
    assert sum(counts.values()) == 10


def test_sr_chart_with_no_tasks_has_empty_bars() -> None:
    assert set(bars(str(sr_chart([]))).values()) == {0}


def test_charts_and_diffs_contain_no_urls() -> None:
    pieces = [
        str(diff_html(PATCH)),
        str(speedup_chart([step(1, "faster", (2.0, 1.5, 2.5))], threshold=1.1)),
        str(sr_chart([0.5, 1.0])),
    ]
    for html in pieces:
        assert "http://" not in html and "https://" not in html and "url(" not in html


@pytest.mark.parametrize(
    ("status", "cls"),
    [("faster", "good"), ("not_significant", "neutral"), ("completed", "neutral"),
     ("slower", "bad"), ("test_failed", "bad"), ("format_error", "bad"), ("error", "bad")],
)  # fmt: skip
def test_status_class(status: str, cls: str) -> None:
    assert status_class(status) == cls


def test_charts_share_a_scale_when_given_the_same_top() -> None:
    small = [step(1, "faster", (2.0, 1.5, 2.5))]
    large = [step(1, "faster", (8.0, 6.0, 10.0))]
    top = max(chart_top(small), chart_top(large))
    assert top == 10.0 and chart_top([]) == 1.5 and chart_top([], threshold=2.0) == 2.0
    alone, shared = str(speedup_chart(small)), str(speedup_chart(small, top_value=top))
    assert _y(shared, 1, "cy") > _y(alone, 1, "cy")  # drawn lower on the taller scale
    assert _y(shared, 1, "cy") == pytest.approx(
        _y(str(speedup_chart(large, top_value=top)), 1, "cy") + (6.0 / (top * 1.1)) * 208, abs=0.2
    )
