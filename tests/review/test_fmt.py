"""Number and step text shared by the three viewers: anything missing or odd becomes '-'."""

from __future__ import annotations

import math
from typing import Any

import pytest

from perfsmith.review.fmt import (
    agent_tokens,
    duration,
    grade_text,
    interval_text,
    money,
    num,
    number,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(3, 3.0), (2.5, 2.5), (0, 0.0), (-1.5, -1.5), (True, None), (False, None), (None, None),
     ("3", None), (math.nan, None), (math.inf, None), ([1], None)],
)  # fmt: skip
def test_number(value: Any, expected: float | None) -> None:
    assert number(value) == expected


@pytest.mark.parametrize(
    ("value", "spec", "suffix", "text"),
    [(1234, ",d", "", "1,234"), (0.0461, ".1%", "", "4.6%"), (1.5, ".2f", "x", "1.50x"),
     (1234.0, ",d", "", "1234"), (None, ".2f", "", "-"), (True, "d", "", "-"),
     (math.nan, ".2f", "", "-"), (0.5, "g", " s", "0.5 s")],
)  # fmt: skip
def test_num(value: Any, spec: str, suffix: str, text: str) -> None:
    assert num(value, spec, suffix) == text


def test_money() -> None:
    assert money(0.0246) == "$0.0246" and money(12, 2) == "$12.00"
    assert money(None) == money("1") == money(math.inf) == "-"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0.0 s"), (41.23, "41.2 s"), (119.94, "119.9 s"), (120, "2m 00s"), (185, "3m 05s"),
     (3599, "59m 59s"), (3600, "1h 00m"), (3720, "1h 02m"), (None, "-"), (math.nan, "-")],
)  # fmt: skip
def test_duration(seconds: Any, text: str) -> None:
    assert duration(seconds) == text


def test_agent_tokens() -> None:
    assert agent_tokens({"prompt_tokens": 2140, "completion_tokens": 212}) == 2352
    assert agent_tokens({"prompt_tokens": 10}) == 10
    assert agent_tokens({"prompt_tokens": "x", "completion_tokens": 5}) == 5
    assert agent_tokens(None) is None and agent_tokens(7) is None


@pytest.mark.parametrize(
    ("tests", "text"),
    [({"ok": True, "failed": [], "missing": []}, "pass"),
     ({"ok": False, "failed": ["a", "b"], "missing": ["c"]}, "3 failing"),
     ({"ok": False, "failed": [], "missing": []}, "fail"),
     ({}, "pass"), (None, "-"), ("pass", "-")],
)  # fmt: skip
def test_grade_text(tests: Any, text: str) -> None:
    assert grade_text(tests) == text


@pytest.mark.parametrize(
    ("sp", "n", "text"),
    [({"estimate": 2.0, "low": math.nan, "high": 3.0}, 4, "2.00x n=4"),
     ({"estimate": math.inf, "low": 1.0, "high": 2.0}, None, "-"),
     ({"estimate": True}, None, "-")],
)  # fmt: skip
def test_interval_text_leaves_out_what_is_not_a_finite_number(
    sp: dict[str, Any], n: Any, text: str
) -> None:
    assert interval_text(sp, n) == text
