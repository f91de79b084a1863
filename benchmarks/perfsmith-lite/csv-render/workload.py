"""Export a 1,000-row sales table (free-text notes included) to CSV."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import random
from decimal import Decimal

from tabrender import Column, Table, render_csv

TABLE: Table | None = None

WORDS = [
    "north",
    "südwest",
    "Müller & Co",
    'the "big" one',
    "rush, priority",
    "re-order",
    "Ñandú",
    "back\norder",
    "  spaced  ",
    "plain",
    "widget",
    "gadget",
    "☃ seasonal",
]


def setup() -> None:
    global TABLE
    seed = int(os.environ.get("PERFSMITH_SEED", "0"))
    rng = random.Random(seed)
    columns = [
        Column("order_id", "int"),
        Column("date", "date"),
        Column("customer"),
        Column("region"),
        Column("units", "int", thousands=True),
        Column("unit_price", "decimal", places=2),
        Column("revenue", "decimal", places=2, thousands=True),
        Column("paid", "bool"),
        Column("notes"),
    ]
    start = dt.date(2024, 1, 1)
    rows = []
    for i in range(1000):
        units = rng.randrange(1, 20000)
        price = Decimal(rng.randrange(10, 500000)) / 100
        rows.append(
            [
                100000 + i,
                start + dt.timedelta(days=rng.randrange(366)),
                f"{rng.choice(WORDS).title()} {rng.randrange(1000)}",
                rng.choice(["EMEA", "APAC", "AMER", "LATAM", None]),
                units,
                price,
                price * units,
                rng.random() < 0.8,
                " ".join(rng.choice(WORDS) for _ in range(rng.randrange(0, 6))) or None,
            ]
        )
    TABLE = Table(columns, rows)


def workload() -> tuple[int, str, str, str]:
    assert TABLE is not None
    text = render_csv(TABLE)
    lines = text.split("\r\n")
    return len(text), hashlib.sha256(text.encode()).hexdigest(), lines[0], lines[-2]
