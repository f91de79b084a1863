"""The transit network: lines, stations and the fare of each segment."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass


class NetworkFormatError(ValueError):
    """Raised for a malformed network description (with the offending line number)."""


@dataclass(frozen=True)
class Segment:
    """One direction of travel between adjacent stops of a line."""

    to: str
    line: str
    fare: int


class Network:
    """An immutable network; segments run both ways at the same fare."""

    def __init__(self, lines: dict[str, list[tuple[str, str, int]]]) -> None:
        adjacency: dict[str, list[Segment]] = defaultdict(list)
        for line, hops in lines.items():
            for a, b, fare in hops:
                adjacency[a].append(Segment(b, line, fare))
                adjacency[b].append(Segment(a, line, fare))
        # Sorted once so that every traversal visits neighbours in the same order.
        self._adjacency = {
            station: tuple(sorted(segments, key=lambda s: (s.to, s.line, s.fare)))
            for station, segments in adjacency.items()
        }
        self.lines = tuple(sorted(lines))

    @classmethod
    def from_text(cls, text: str) -> Network:
        """Parse ``line | stop, stop, ... | fare, fare, ...`` rows; ``#`` starts a comment.

        Raises:
            NetworkFormatError: for a row without three fields, a fare count that does not
                match the stops, a non-integer or negative fare, or a repeated line name.
        """
        lines: dict[str, list[tuple[str, str, int]]] = {}
        for number, row in enumerate(text.splitlines(), start=1):
            row = row.split("#", 1)[0].strip()
            if not row:
                continue
            fields = [f.strip() for f in row.split("|")]
            if len(fields) != 3:
                raise NetworkFormatError(f"line {number}: expected 'name | stops | fares'")
            name, stops_text, fares_text = fields
            stops = [s.strip() for s in stops_text.split(",") if s.strip()]
            try:
                fares = [int(f) for f in fares_text.split(",") if f.strip()]
            except ValueError:
                raise NetworkFormatError(f"line {number}: fares must be integers") from None
            if len(stops) < 2 or len(fares) != len(stops) - 1:
                raise NetworkFormatError(f"line {number}: need one fare between each two stops")
            if any(f < 0 for f in fares):
                raise NetworkFormatError(f"line {number}: fares cannot be negative")
            if name in lines:
                raise NetworkFormatError(f"line {number}: line {name!r} defined twice")
            lines[name] = list(zip(stops, stops[1:], fares, strict=False))
        return cls(lines)

    @property
    def stations(self) -> tuple[str, ...]:
        """All stations, sorted."""
        return tuple(sorted(self._adjacency))

    def segments(self, station: str) -> tuple[Segment, ...]:
        """Segments leaving a station (empty for an unknown one)."""
        return self._adjacency.get(station, ())

    def __contains__(self, station: object) -> bool:
        return station in self._adjacency
