"""Cheapest fares on a small transit network with boarding fees and stop limits."""

from farecalc.format import format_cents, format_journey
from farecalc.network import Network, NetworkFormatError, Segment
from farecalc.planner import Journey, UnknownStation, fare_matrix, plan

__all__ = [
    "Journey",
    "Network",
    "NetworkFormatError",
    "Segment",
    "UnknownStation",
    "fare_matrix",
    "format_cents",
    "format_journey",
    "plan",
]
