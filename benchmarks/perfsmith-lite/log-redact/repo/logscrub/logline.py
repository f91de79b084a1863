"""Parsing of the common ``<timestamp> <LEVEL> <service> <message>`` log line."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

_LINE = re.compile(
    r"^(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z?)\s+"
    r"(?P<level>TRACE|DEBUG|INFO|WARN|WARNING|ERROR|FATAL)\s+"
    r"(?P<service>[\w.-]+)\s+(?P<message>.*)$"
)


@dataclass(frozen=True)
class LogLine:
    timestamp: str
    level: str
    service: str
    message: str


def parse_line(line: str) -> LogLine | None:
    """The parts of a log line, or None for continuation lines (stack traces...)."""
    m = _LINE.match(line.rstrip("\r\n"))
    if m is None:
        return None
    level = "WARN" if m["level"] == "WARNING" else m["level"]
    return LogLine(m["ts"], level, m["service"], m["message"])


def level_counts(lines: Iterable[str]) -> dict[str, int]:
    """How many lines of each level; continuation lines are not counted."""
    counts: Counter[str] = Counter()
    for line in lines:
        parsed = parse_line(line)
        if parsed is not None:
            counts[parsed.level] += 1
    return dict(counts)
