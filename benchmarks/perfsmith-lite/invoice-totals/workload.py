"""Total a billing run: 400 invoices, ~2600 lines, a 20-region tax rule file."""

from __future__ import annotations

import os
import random
from decimal import Decimal

from billing import Invoice, Line, invoice_totals

CONFIG = ""
INVOICES: list[Invoice] = []


def setup() -> None:
    global CONFIG
    seed = int(os.environ.get("PERFSMITH_SEED", "0"))
    rng = random.Random(seed)
    parts = [
        "[settings]\nrounding = half_up\ndefault_category = standard\n",
        "[discounts]\n500 = 1\n2000 = 2.5 ; loyalty\n10000 = 4\n",
    ]
    regions = []
    for i in range(20):
        code = f"R{i:02d}"
        regions.append(code)
        parts.append(
            f"[{code}]\naliases = Region {i}, Region-{i}-Alt, R_{i}\n"
            f"standard = {rng.choice(['19', '20', '21', '22', '23', '24', '25', '17.5'])}\n"
            f"reduced = {rng.choice(['5', '5.5', '7', '9', '10', '12'])}  ; food, books\n"
            f"super_reduced = {rng.choice(['2.1', '3', '4'])}\n"
            "zero = 0\n"
        )
    CONFIG = "\n".join(parts)
    INVOICES.clear()
    categories = ["", "standard", "reduced", "super reduced", "Reduced", "zero", "luxury"]
    for n in range(400):
        region = rng.choice(regions)
        spelling = rng.choice([region, f"region {int(region[1:])}", f"R_{int(region[1:])}"])
        lines = tuple(
            Line(
                f"SKU-{rng.randrange(10**4):04d}",
                rng.randrange(1, 40),
                Decimal(rng.randrange(5, 90000)) / 1000,
                rng.choice(categories),
            )
            for _ in range(rng.randrange(1, 13))
        )
        INVOICES.append(Invoice(f"INV-{seed}-{n:05d}", spelling, lines))


def workload() -> list[tuple[str, str, str, str, str]]:
    return [
        (t.number, str(t.net), str(t.discount), str(t.tax), str(t.gross))
        for t in invoice_totals(INVOICES, CONFIG)
    ]
