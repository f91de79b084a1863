"""The whole pipeline: lines in, summary out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from logstats.aggregate import EndpointStats, dedupe, endpoint_stats, requests_per_minute
from logstats.parse import parse_lines


@dataclass(frozen=True)
class Summary:
    """What one log says, in numbers."""

    lines: int  # non-blank input lines
    parsed: int  # entries that parsed, duplicates included
    malformed: int
    duplicates: int
    endpoints: dict[str, EndpointStats]
    busiest_minute: tuple[datetime, int] | None  # (minute in UTC, requests); earliest on ties


def summarize(lines: Iterable[str]) -> Summary:
    """Parse, deduplicate and aggregate a log."""
    requests, malformed = parse_lines(lines)
    unique = dedupe(requests)
    per_minute = requests_per_minute(unique)
    busiest = None
    for minute, count in per_minute.items():
        if busiest is None or count > busiest[1]:
            busiest = (minute, count)
    return Summary(
        lines=len(requests) + malformed,
        parsed=len(requests),
        malformed=malformed,
        duplicates=len(requests) - len(unique),
        endpoints=endpoint_stats(unique),
        busiest_minute=busiest,
    )
