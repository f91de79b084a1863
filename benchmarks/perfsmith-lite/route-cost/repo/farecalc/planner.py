"""Cheapest journeys under a stop limit."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from farecalc.network import Network


class UnknownStation(KeyError):
    """Raised when a journey names a station that is not in the network."""


@dataclass(frozen=True)
class Journey:
    """A priced journey: the stops passed through and the line used for each hop."""

    cost: int
    stops: tuple[str, ...]
    lines: tuple[str, ...]

    @property
    def boardings(self) -> int:
        """How many times the rider boards (1 + number of changes; 0 when not moving)."""
        return sum(1 for i, line in enumerate(self.lines) if i == 0 or line != self.lines[i - 1])


_Best = tuple[int, tuple[str, ...], tuple[str, ...]]


def _cheapest(
    network: Network,
    station: str,
    arrived_on: str | None,
    destination: str,
    hops_left: int,
    boarding_fee: int,
) -> _Best | None:
    """Cheapest (cost, stops, lines) from ``station`` to ``destination`` in ``hops_left`` hops.

    ``arrived_on`` is the line the rider is on; riding on with it costs no boarding fee.
    Ties are broken by the stop sequence, then the line sequence, so the answer is unique.
    """
    if station == destination:
        return (0, (station,), ())
    if hops_left == 0:
        return None
    best: _Best | None = None
    for segment in network.segments(station):
        rest = _cheapest(
            network, segment.to, segment.line, destination, hops_left - 1, boarding_fee
        )
        if rest is None:
            continue
        fee = 0 if segment.line == arrived_on else boarding_fee
        candidate = (segment.fare + fee + rest[0], (station, *rest[1]), (segment.line, *rest[2]))
        if best is None or candidate < best:
            best = candidate
    return best


def plan(
    network: Network,
    origin: str,
    destination: str,
    max_stops: int = 8,
    boarding_fee: int = 80,
) -> Journey | None:
    """Find the cheapest journey using at most ``max_stops`` hops.

    Args:
        network: the network.
        origin: where the journey starts.
        destination: where it ends.
        max_stops: the most hops (station to next station) a ticket may cover.
        boarding_fee: charged at the first boarding and at every change of line, in cents.

    Returns:
        The cheapest journey, or None when the destination is out of reach.

    Raises:
        UnknownStation: when origin or destination is not in the network.
        ValueError: for a negative stop limit or boarding fee.
    """
    for station in (origin, destination):
        if station not in network:
            raise UnknownStation(station)
    if max_stops < 0 or boarding_fee < 0:
        raise ValueError("max_stops and boarding_fee must not be negative")
    best = _cheapest(network, origin, None, destination, max_stops, boarding_fee)
    return None if best is None else Journey(*best)


def fare_matrix(
    network: Network,
    pairs: Iterable[tuple[str, str]],
    max_stops: int = 8,
    boarding_fee: int = 80,
) -> dict[tuple[str, str], int | None]:
    """Cheapest fare (cents) for each origin-destination pair; None where out of reach."""
    out: dict[tuple[str, str], int | None] = {}
    for origin, destination in pairs:
        journey = plan(network, origin, destination, max_stops, boarding_fee)
        out[(origin, destination)] = None if journey is None else journey.cost
    return out
