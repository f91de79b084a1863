"""Workload: the monthly rollup over a few thousand order lines."""

from __future__ import annotations

import os
import random

import pandas as pd

from salesdesk import build_rollup, orders_frame

FRAME: pd.DataFrame | None = None

REGIONS = ["EMEA", "NA", "LATAM", "APAC", "Nordics", "Île-de-France"]
PRODUCTS = [f"SKU-{k:03d}" for k in range(60)]


def setup() -> None:
    """Build the order lines deterministically from the seed."""
    global FRAME
    rng = random.Random(int(os.environ.get("PERFSMITH_SEED", "0")))
    records = []
    for k in range(1000):
        year, month, day = rng.choice([2023, 2024]), rng.randint(1, 12), rng.randint(1, 28)
        records.append(
            {
                "order_id": 100_000 + k // 3,
                "date": f"{year}-{month:02d}-{day:02d}",
                "region": rng.choice(REGIONS),
                "product": rng.choice(PRODUCTS),
                "quantity": rng.randint(1, 40),
                "unit_price_cents": rng.randint(99, 250_000),
                "discount_pct": rng.choice([0, 0, 0, 5, 10, 15, 33]),
            }
        )
    FRAME = orders_frame(records)


def workload() -> dict[str, object]:
    """Run the rollup and return it as plain values."""
    assert FRAME is not None
    r = build_rollup(FRAME, fiscal_start_month=4, top=10)
    return {
        "by_region": r.by_region,
        "by_quarter": r.by_quarter,
        "top_products": r.top_products,
        "total_net_cents": r.total_net_cents,
        "discount_cents": r.discount_cents,
    }
