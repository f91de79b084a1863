"""Selecting events by kind, user and time."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator

from eventlog.events import Event


def select(
    events: Iterable[Event],
    kinds: Collection[str] | None = None,
    users: Collection[str] | None = None,
    since: int | None = None,
    until: int | None = None,
) -> Iterator[Event]:
    """Yield the events that match every given criterion, in input order.

    Args:
        events: The events.
        kinds: Keep only these kinds (all when None).
        users: Keep only these users (all when None).
        since: Keep events with ts >= since.
        until: Keep events with ts < until.

    Yields:
        The matching events.
    """
    for event in events:
        if kinds is not None and event.kind not in kinds:
            continue
        if users is not None and event.user not in users:
            continue
        if since is not None and event.ts < since:
            continue
        if until is not None and event.ts >= until:
            continue
        yield event
