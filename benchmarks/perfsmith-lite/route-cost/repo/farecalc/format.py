"""Human-readable fares and journeys."""

from __future__ import annotations

from farecalc.planner import Journey


def format_cents(cents: int) -> str:
    """Format an amount in cents as ``12.30``."""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def format_journey(journey: Journey | None) -> str:
    """One line per leg on the same line, then the total; ``no route`` for None."""
    if journey is None:
        return "no route"
    if not journey.lines:
        return f"stay at {journey.stops[0]}: {format_cents(0)}"
    legs: list[str] = []
    start = 0
    for i in range(1, len(journey.lines) + 1):
        if i == len(journey.lines) or journey.lines[i] != journey.lines[start]:
            legs.append(f"{journey.lines[start]}: {journey.stops[start]} -> {journey.stops[i]}")
            start = i
    return "\n".join([*legs, f"total {format_cents(journey.cost)}"])
