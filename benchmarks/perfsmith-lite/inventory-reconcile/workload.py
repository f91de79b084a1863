"""Parse a month of ledger movements and a cycle count export, then reconcile them."""

from __future__ import annotations

import os
import random

from stockrec import Count, Movement, parse_counts, parse_movements, reconcile, summarise

KINDS = ["receipt", "shipment", "transfer_in", "transfer_out", "return", "scrap", "adjustment"]

MOVEMENTS: list[Movement] = []
COUNTS: list[Count] = []
LEDGER_TEXT = ""
COUNT_TEXT = ""


def setup() -> None:
    global LEDGER_TEXT, COUNT_TEXT
    seed = int(os.environ.get("PERFSMITH_SEED", "0"))
    rng = random.Random(seed)
    positions = [
        (
            f"SKU-{rng.randrange(10**5):05d}",
            f"{rng.choice('ABCDEF')}-{rng.randrange(1, 40):02d}-{rng.randrange(1, 9):02d}",
        )
        for _ in range(520)
    ]
    MOVEMENTS.clear()
    COUNTS.clear()
    for _ in range(1800):
        sku, loc = rng.choice(positions)
        kind = rng.choice(KINDS)
        qty = rng.randrange(-5, 6) if kind == "adjustment" else rng.randrange(1, 50)
        MOVEMENTS.append(Movement(sku, loc, kind, qty, f"REF-{rng.randrange(10**6)}"))
    book: dict[tuple[str, str], int] = {}
    for m in MOVEMENTS:
        book[m.key] = book.get(m.key, 0) + m.signed_qty
    for sku, loc in rng.sample(positions, 480):
        noise = rng.choice([0, 0, 0, 0, 1, -1, -3, 7])
        qty = max(0, book.get((sku, loc), 0) + noise)
        COUNTS.append(Count(sku, loc, qty, rng.choice(["ann", "bo", "cy"])))
    # split pallets counted twice, and positions the ledger does not know
    for c in rng.sample(COUNTS, 30):
        COUNTS.append(Count(c.sku, c.location, rng.randrange(0, 20), "dee"))
    for i in range(40):
        COUNTS.append(Count(f"SKU-X{i:04d}", "Z-99-01", rng.randrange(1, 9), "ann"))
    LEDGER_TEXT = "sku,location,kind,qty,reference\n" + "".join(
        f"{m.sku},{m.location},{m.kind},{m.qty},{m.reference}\n" for m in MOVEMENTS
    )
    COUNT_TEXT = "sku;location;qty;counter\n" + "".join(
        f"{c.sku};{c.location};{c.qty};{c.counter}\n" for c in COUNTS
    )


def workload() -> tuple[object, ...]:
    report = reconcile(parse_movements(LEDGER_TEXT), parse_counts(COUNT_TEXT), tolerance=1)
    return (
        tuple(sorted(summarise(report).items())),
        tuple((d.sku, d.location, d.expected, d.counted) for d in report.discrepancies),
        tuple((lv.sku, lv.location, lv.qty) for lv in report.uncounted),
        tuple((c.sku, c.location, c.qty, c.counter) for c in report.unknown),
    )
