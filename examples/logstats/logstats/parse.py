"""Parse access-log lines (common or combined format) into Request records."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

# The timestamp group is strict on purpose: everything it admits is either a valid
# strftime-style date or rejected by the date parser, so a line is never half-parsed.
_LINE = re.compile(
    r"(?P<ip>\S+) \S+ (?P<user>\S+) "
    r"\[(?P<time>\d{2}/[A-Za-z]{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{2}[0-5]\d)\] "
    r'"(?P<method>[A-Z]+) (?P<target>\S+) (?P<protocol>HTTP/[0-9.]+)" '
    r"(?P<status>\d{3}) (?P<size>\d+|-)"
    r'(?: "(?P<referrer>[^"]*)" "(?P<agent>[^"]*)")?'
    r"(?: (?P<duration>\d+))?\s*$"
)

TIME_FORMAT = "%d/%b/%Y:%H:%M:%S %z"


@dataclass(frozen=True)
class Request:
    """One parsed log entry."""

    ip: str
    user: str | None
    timestamp: datetime
    method: str
    path: str
    protocol: str
    status: int
    size: int
    referrer: str | None
    agent: str | None
    duration_ms: int | None


def parse_timestamp(text: str) -> datetime:
    """Parse ``10/Oct/2023:13:55:36 +0200`` into an aware datetime.

    Raises:
        ValueError: if the text is not a valid date in that format.
    """
    return datetime.strptime(text, TIME_FORMAT)


def parse_line(line: str) -> Request | None:
    """Parse one log line; return None when it is not a valid access-log entry."""
    match = _LINE.match(line)
    if match is None:
        return None
    try:
        timestamp = parse_timestamp(match["time"])
    except ValueError:
        return None
    user = match["user"]
    size = match["size"]
    referrer = match["referrer"]
    agent = match["agent"]
    duration = match["duration"]
    return Request(
        ip=match["ip"],
        user=None if user == "-" else user,
        timestamp=timestamp,
        method=match["method"],
        path=match["target"],
        protocol=match["protocol"],
        status=int(match["status"]),
        size=0 if size == "-" else int(size),
        referrer=None if referrer in (None, "-") else referrer,
        agent=None if agent in (None, "-") else agent,
        duration_ms=None if duration is None else int(duration),
    )


def parse_lines(lines: Iterable[str]) -> tuple[list[Request], int]:
    """Parse many lines, skipping blank ones.

    Returns:
        The parsed requests in input order, and the number of malformed lines.
    """
    requests: list[Request] = []
    malformed = 0
    for line in lines:
        if not line.strip():
            continue
        request = parse_line(line)
        if request is None:
            malformed += 1
        else:
            requests.append(request)
    return requests, malformed
