"""Aggregate a day of delivery GPS pings into heat-map tiles at two zoom levels."""

from __future__ import annotations

import os
import random

from tilecount import Feature, aggregate, top_tiles

FEATURES: list[Feature] = []

CITIES = [(13.405, 52.52), (2.3522, 48.8566), (-0.1276, 51.5072), (151.21, -33.87)]


def setup() -> None:
    seed = int(os.environ.get("PERFSMITH_SEED", "0"))
    rng = random.Random(seed)
    FEATURES.clear()
    for i in range(8000):
        lon, lat = rng.choice(CITIES)
        if i % 997 == 0:
            lat = rng.choice([88.0, -87.5])  # a few bad fixes near the poles
        FEATURES.append(
            Feature(
                lon=lon + rng.gauss(0.0, 0.03),
                lat=max(-90.0, min(90.0, lat + rng.gauss(0.0, 0.02))),
                props={
                    "orders": rng.randint(1, 4),
                    "courier": f"c{rng.randint(1, 60)}",
                    "status": rng.choice(["delivered", "delivered", "delivered", "failed"]),
                    "vehicle": rng.choice(["bike", "van", "scooter"]),
                    "order_id": f"o{seed}-{i}",
                    "eta_min": rng.randint(5, 90),
                },
            )
        )


def _summary(result):
    return (
        result.skipped,
        [
            (t.tile.z, t.tile.x, t.tile.y, t.quadkey, t.count, round(t.weight, 6))
            for t in result.tiles
        ],
        [t.quadkey for t in top_tiles(result, 10)],
    )


def workload():
    city = aggregate(FEATURES, 12, weight="orders")
    street = aggregate(FEATURES, 16, where={"status": "delivered"})
    return _summary(city), _summary(street)
