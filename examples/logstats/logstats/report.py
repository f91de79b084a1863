"""Rank endpoints and render a plain-text report."""

from __future__ import annotations

from collections.abc import Mapping

from logstats.aggregate import EndpointStats
from logstats.summary import Summary


def top_endpoints(stats: Mapping[str, EndpointStats], n: int | None = None) -> list[EndpointStats]:
    """Endpoints with the most requests first; ties go to the alphabetically first name."""
    ranked = sorted(stats.values(), key=lambda s: (-s.requests, s.endpoint))
    return ranked if n is None else ranked[:n]


def _ms(value: int | None) -> str:
    return "-" if value is None else f"{value} ms"


def render_report(summary: Summary, top: int | None = 10) -> str:
    """Render the summary as a fixed-width text table."""
    lines = [
        f"lines: {summary.lines}  parsed: {summary.parsed}  malformed: {summary.malformed}"
        f"  duplicates: {summary.duplicates}",
    ]
    if summary.busiest_minute is not None:
        minute, count = summary.busiest_minute
        lines.append(f"busiest minute: {minute:%Y-%m-%d %H:%M} UTC ({count} requests)")
    header = (
        f"{'endpoint':<32} {'reqs':>6} {'err%':>6} {'p50':>8} {'p95':>8} {'ips':>6} {'bytes':>10}"
    )
    lines.append(header)
    lines.append("-" * len(header))
    for s in top_endpoints(summary.endpoints, top):
        lines.append(
            f"{s.endpoint:<32} {s.requests:>6} {100 * s.error_rate:>5.1f}% "
            f"{_ms(s.p50_ms):>8} {_ms(s.p95_ms):>8} {s.visitors:>6} {s.bytes_sent:>10}"
        )
    return "\n".join(lines) + "\n"
