"""Group requests by endpoint and compute their statistics."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from logstats.parse import Request

# Path segments that identify one record rather than a resource: numbers, UUIDs, long hex ids.
_ID_SEGMENT = re.compile(
    r"\d+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|[0-9a-fA-F]{16,}"
)


@dataclass(frozen=True)
class EndpointStats:
    """Statistics of one endpoint."""

    endpoint: str
    requests: int
    errors: int  # responses with a 5xx status
    p50_ms: int | None  # None when no request of the endpoint logged a duration
    p95_ms: int | None
    visitors: int  # distinct client addresses
    bytes_sent: int

    @property
    def error_rate(self) -> float:
        """Share of requests that failed with a server error."""
        return self.errors / self.requests if self.requests else 0.0


def endpoint_of(path: str) -> str:
    """Name the endpoint a request path belongs to.

    The query string and fragment are dropped, a trailing slash is ignored and id-like
    segments become ``:id``, so ``/users/42/?tab=posts`` is ``/users/:id``. Paths are
    case-sensitive, as HTTP paths are.
    """
    path = path.split("?", 1)[0].split("#", 1)[0]
    segments = [
        ":id" if _ID_SEGMENT.fullmatch(segment) else segment
        for segment in path.split("/")
        if segment
    ]
    return "/" + "/".join(segments)


def dedupe(requests: Iterable[Request]) -> list[Request]:
    """Drop entries delivered more than once, keeping the first copy of each.

    Log shippers resend batches after a timeout, so the same entry can appear twice,
    possibly far apart. The result keeps the order in which entries were first seen.
    """
    unique: list[Request] = []
    for request in requests:
        if request not in unique:
            unique.append(request)
    return unique


def percentile(values: Sequence[int], pct: float) -> int | None:
    """Nearest-rank percentile of ``values`` (None for no values).

    Raises:
        ValueError: if ``pct`` is not in (0, 100].
    """
    if not 0 < pct <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {pct}")
    if not values:
        return None
    ordered = sorted(values)
    rank = math.ceil(pct / 100 * len(ordered))
    return ordered[rank - 1]


def endpoint_stats(requests: Iterable[Request]) -> dict[str, EndpointStats]:
    """Statistics per endpoint, in the order endpoints first appear."""
    groups: dict[str, list[Request]] = {}
    for request in requests:
        groups.setdefault(endpoint_of(request.path), []).append(request)
    stats: dict[str, EndpointStats] = {}
    for endpoint, group in groups.items():
        durations = [r.duration_ms for r in group if r.duration_ms is not None]
        stats[endpoint] = EndpointStats(
            endpoint=endpoint,
            requests=len(group),
            errors=sum(1 for r in group if r.status >= 500),
            p50_ms=percentile(durations, 50),
            p95_ms=percentile(durations, 95),
            visitors=len({r.ip for r in group}),
            bytes_sent=sum(r.size for r in group),
        )
    return stats


def requests_per_minute(requests: Iterable[Request]) -> dict[datetime, int]:
    """Count requests per minute, in UTC, sorted by time."""
    counts: dict[datetime, int] = {}
    for request in requests:
        minute = request.timestamp.astimezone(timezone.utc).replace(second=0, microsecond=0)
        counts[minute] = counts.get(minute, 0) + 1
    return dict(sorted(counts.items()))
