"""Export a fare table for a regional network: cheapest fare between pairs of stations."""

from __future__ import annotations

import os
import random

from farecalc import Network, fare_matrix, plan

NETWORK_TEXT = ""
PAIRS: list[tuple[str, str]] = []

NAMES = [
    "Central",
    "Museum",
    "Park",
    "Harbour",
    "Airport",
    "Zoo",
    "University",
    "Stadium",
    "Market",
    "Old Town",
    "Riverside",
    "Castle",
    "Hospital",
    "Library",
    "Depot",
    "Mill",
    "North Gate",
    "South Gate",
    "Beacon",
    "Quarry",
    "Meadow",
    "Foundry",
    "Bridge",
    "Chapel",
    "Docks",
    "Garden",
    "Heights",
    "Junction",
    "Kiln",
    "Lakeside",
]


def setup() -> None:
    global NETWORK_TEXT
    seed = int(os.environ.get("PERFSMITH_SEED", "0"))
    rng = random.Random(seed)
    rows = []
    for number in range(1, 9):
        stops = rng.sample(NAMES, rng.randint(4, 7))
        fares = [str(rng.randrange(50, 400, 10)) for _ in stops[1:]]
        rows.append(f"L{number} | {', '.join(stops)} | {', '.join(fares)}")
    NETWORK_TEXT = "\n".join(rows)
    stations = Network.from_text(NETWORK_TEXT).stations
    PAIRS.clear()
    PAIRS.extend(tuple(rng.sample(stations, 2)) for _ in range(80))


def workload():
    network = Network.from_text(NETWORK_TEXT)
    table = fare_matrix(network, PAIRS, max_stops=7)
    origin, destination = PAIRS[0]
    journey = plan(network, origin, destination, max_stops=7)
    route = None if journey is None else (journey.cost, journey.stops, journey.lines)
    return sorted(table.items()), route
