"""Text for numbers and step records, shared by the terminal view, the report and the web app.

Run folders are read as they are, so every value may be missing or of the wrong type; each
function here turns such a value into ``-`` rather than failing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["agent_tokens", "duration", "grade_text", "interval_text", "money", "num", "number"]


def number(value: Any) -> float | None:
    """``value`` as a float when it is a finite int or float (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def num(value: Any, spec: str = "g", suffix: str = "") -> str:
    """``value`` formatted with ``spec`` and ``suffix``, or ``-``; an integer spec such as
    ``,d`` given a float falls back to ``g``."""
    if number(value) is None:
        return "-"
    try:
        return f"{value:{spec}}{suffix}"
    except ValueError:
        return f"{value:g}{suffix}"


def money(value: Any, places: int = 4) -> str:
    """``$0.0246``, or ``-``."""
    x = number(value)
    return "-" if x is None else f"${x:.{places}f}"


def duration(seconds: Any) -> str:
    """``41.2 s`` below two minutes, then ``3m 05s`` and ``1h 02m``; ``-`` when unknown."""
    x = number(seconds)
    if x is None:
        return "-"
    if x < 120:
        return f"{x:.1f} s"
    minutes, secs = divmod(round(x), 60)
    return f"{minutes // 60}h {minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m {secs:02d}s"


def agent_tokens(record: Any) -> int | None:
    """Tokens of one agent's usage record (prompt + completion); None when unrecorded."""
    if not isinstance(record, Mapping):
        return None
    counts = (number(record.get(k)) for k in ("prompt_tokens", "completion_tokens"))
    return sum(int(c) for c in counts if c is not None)


def grade_text(tests: Any) -> str:
    """A step's test grade: ``pass``, ``3 failing``, ``fail`` or ``-`` (not run)."""
    if not isinstance(tests, Mapping):
        return "-"
    failing = len(tests.get("failed") or ()) + len(tests.get("missing") or ())
    if failing:
        return f"{failing} failing"
    return "pass" if tests.get("ok", True) else "fail"


def interval_text(sp: Mapping[str, Any] | None, n: Any = None) -> str:
    """``3.63x [2.03, 4.28] n=6`` from ``{"estimate", "low", "high"[, "n"]}``; parts that
    were not measured (missing, not finite) are left out, and ``-`` when nothing was."""
    estimate = number((sp or {}).get("estimate"))
    if sp is None or estimate is None:
        return "-"
    text = f"{estimate:.2f}x"
    low, high = number(sp.get("low")), number(sp.get("high"))
    if low is not None and high is not None:
        text += f" [{low:.2f}, {high:.2f}]"
    count = sp.get("n", n)
    if isinstance(count, int) and not isinstance(count, bool):
        text += f" n={count}"
    return text
