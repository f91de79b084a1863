from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from perfsmith.bench.metrics import summarize
from perfsmith.bench.report import REPORT_FORMAT, load_results, render_markdown, report_json
from perfsmith.errors import ConfigError


def res(iid: str, **kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "instance_id": iid,
        "suite": "demo",
        "category": "numeric",
        "model_name_or_path": "scripted",
        "status": "faster",
        "correct": True,
        "speedup": 2.0,
        "speedup_ci_low": 1.9,
        "speedup_ci_high": 2.1,
        "n": 5,
        "expert_status": "faster",
        "expert_speedup": 4.0,
        "expert_ci_low": 3.5,
        "expert_ci_high": 4.5,
        "expert_n": 5,
        "cost_usd": 0.25,
        "wall_s": 12.0,
        "tokens": 1000,
        "error": "",
    }
    row.update(kw)
    return row


ROWS = [
    res(
        "pkg__b-2",
        speedup=2.31,
        speedup_ci_low=2.10,
        speedup_ci_high=2.52,
        n=6,
        expert_speedup=2.31,
        expert_ci_low=2.0,
        expert_ci_high=2.6,
        expert_n=6,
    ),
    res("pkg__a-1"),  # SR 0.5
    res(
        "pkg__c-3",
        status="test_failed",
        correct=False,
        speedup=None,
        speedup_ci_low=None,
        speedup_ci_high=None,
        n=None,
        category=None,
    ),  # SR 0.25
    res(
        "pkg__d-4",
        expert_status="error",
        expert_speedup=None,
        expert_ci_low=None,
        expert_ci_high=None,
        expert_n=None,
    ),
]


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_load_results_skips_blank_lines_and_last_line_wins(tmp_path: Path) -> None:
    path = write(
        tmp_path / "results.jsonl",
        [
            json.dumps(res("t1", status="error", correct=False)),
            "",
            json.dumps(res("t2")),
            "   ",
            json.dumps(res("t1", status="faster", speedup=3.0)),
        ],
    )
    rows = load_results(path)
    assert [r["instance_id"] for r in rows] == ["t1", "t2"]
    assert rows[0]["status"] == "faster"
    assert rows[0]["speedup"] == 3.0


def test_load_results_empty_file(tmp_path: Path) -> None:
    assert load_results(write(tmp_path / "r.jsonl", [""])) == []


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ('{"instance_id": "t2", "speedup": ', "not valid JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"speedup": 2.0}', "no string instance_id"),
        ('{"instance_id": 7}', "no string instance_id"),
        ('{"instance_id": ""}', "no string instance_id"),
    ],
)
def test_load_results_malformed_line_names_file_and_line(
    tmp_path: Path, bad: str, why: str
) -> None:
    path = write(tmp_path / "results.jsonl", [json.dumps(res("t1")), "", bad])
    with pytest.raises(ConfigError) as info:
        load_results(path)
    assert f"{path}:3:" in info.value.message
    assert why in info.value.message
    assert info.value.hint


def test_load_results_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read results file"):
        load_results(tmp_path / "nope.jsonl")


def test_markdown_headline_scope_and_every_task() -> None:
    summary = summarize(ROWS, suite_tasks=12)
    md = render_markdown(ROWS, summary, title="Demo bench")
    assert md.startswith("# Demo bench\n")
    # SRs: a 0.5, b 1.0, c 0.25 -> 3 / (2 + 1 + 4) = 0.4286
    assert f"**Harmonic mean SR: {summary['hmean_sr']:.3f}**" in md
    assert "**Harmonic mean SR: 0.429**" in md
    low, high = summary["hmean_sr_ci"]
    assert f"[{low:.3f}, {high:.3f}] (95% bootstrap over tasks)" in md
    assert "subset: 3 of 12 tasks (missing tasks are not counted as failures)" in md
    assert "Geometric mean SR: 0.500" in md  # (0.5 * 1 * 0.25) ** (1/3)
    assert "| fast_0 | fast_1 | fast_1.1 | fast_1.5 | fast_2 |" in md
    assert "| 66.7% | 66.7% | 66.7% | 66.7% | 33.3% |" in md
    assert "incorrect 33.3%" in md
    assert "at or above expert 33.3%" in md
    assert "$1.00 total, $0.250 per task" in md
    assert "48 s total, 12.0 s per task" in md
    for r in ROWS:
        assert f"| {r['instance_id']} |" in md


def test_markdown_table_rows_are_sorted_and_formatted() -> None:
    md = render_markdown(ROWS, summarize(ROWS), title="t")
    rows = [line for line in md.splitlines() if line.startswith("| pkg__")]
    assert [line.split(" | ")[0] for line in rows] == [
        "| pkg__a-1",
        "| pkg__b-2",
        "| pkg__c-3",
        "| pkg__d-4",
    ]
    assert rows[0] == (
        "| pkg__a-1 | numeric | faster | yes | 2.00x [1.90, 2.10] n=5 | "
        "4.00x [3.50, 4.50] n=5 | 0.500 | $0.250 | 12.0 s |"
    )
    assert "| 2.31x [2.10, 2.52] n=6 | 2.31x [2.00, 2.60] n=6 | 1.000 |" in rows[1]
    assert rows[2].startswith("| pkg__c-3 | - | test_failed | no | - | 4.00x")
    assert "| 0.250 |" in rows[2]
    assert "| - | 0.000 |" not in rows[3]
    assert rows[3].split(" | ")[5:7] == ["-", "-"]  # no expert speedup, no SR


def test_markdown_lists_unscorable_with_reason() -> None:
    zero = res("pkg__e-5", expert_speedup=0.0, expert_status="slower")
    md = render_markdown([*ROWS, zero], summarize([*ROWS, zero]), title="t")
    section = md.split("## Unscorable tasks", 1)[1]
    assert "- pkg__d-4: no expert speedup measured (expert status: error)" in section
    assert "- pkg__e-5: expert speedup 0.0 is not above zero (expert status: slower)" in section
    assert "pkg__a-1" not in section


def test_markdown_without_unscorable_has_no_section() -> None:
    md = render_markdown(ROWS[:3], summarize(ROWS[:3]), title="t")
    assert "Unscorable" not in md


def test_markdown_escapes_pipes_and_handles_single_task() -> None:
    row = res("x|y", category="a|b")
    md = render_markdown([row], summarize([row]), title="t")
    assert "| x\\|y | a\\|b |" in md
    assert "no interval: fewer than 2 scored tasks" in md


def test_markdown_speedup_without_interval() -> None:
    row = res("t", speedup_ci_low=None, speedup_ci_high=None, n=None)
    md = render_markdown([row], summarize([row]), title="t")
    assert "| 2.00x | 4.00x [3.50, 4.50] n=5 |" in md


def test_report_json_round_trips() -> None:
    summary = summarize(ROWS, suite_tasks=12)
    doc = report_json(ROWS, summary)
    assert doc["format"] == REPORT_FORMAT == "perfsmith.bench-report/1"
    assert json.loads(json.dumps(doc, allow_nan=False)) == doc
    assert doc["summary"] == summary
    assert [t["instance_id"] for t in doc["tasks"]] == [
        "pkg__a-1",
        "pkg__b-2",
        "pkg__c-3",
        "pkg__d-4",
    ]
    by_id = {t["instance_id"]: t for t in doc["tasks"]}
    assert by_id["pkg__a-1"]["sr"] == pytest.approx(0.5)
    assert by_id["pkg__a-1"]["class"] == "faster_below_expert"
    assert by_id["pkg__c-3"]["effective_speedup"] == 1.0
    assert by_id["pkg__c-3"]["class"] == "incorrect"
    assert by_id["pkg__d-4"]["sr"] is None
    assert by_id["pkg__d-4"]["class"] == "unscorable"
    assert by_id["pkg__b-2"]["tokens"] == 1000


def test_report_json_replaces_non_finite_numbers() -> None:
    row = res("t", speedup_ci_high=math.inf, expert_ci_low=math.nan)
    doc = report_json([row], summarize([row]))
    assert doc["tasks"][0]["speedup_ci_high"] is None
    assert doc["tasks"][0]["expert_ci_low"] is None
    assert json.loads(json.dumps(doc, allow_nan=False)) == doc
    assert row["speedup_ci_high"] == math.inf  # the caller's result is not modified


def test_report_reads_what_load_results_returns(tmp_path: Path) -> None:
    path = write(tmp_path / "results.jsonl", [json.dumps(r) for r in ROWS])
    rows = load_results(path)
    assert report_json(rows, summarize(rows)) == report_json(ROWS, summarize(ROWS))
