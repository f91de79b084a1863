"""Workload: the quarterly revenue report and CSV export over an in-memory shop database."""

from __future__ import annotations

import hashlib
import os
import random

from shopdb import ShopRepository, connect, revenue_report
from shopdb.export import orders_csv

REPO: ShopRepository | None = None
COUNTRIES = ["FR", "DE", "ES", "IT", "NL", "BE", "PL", "SE"]
STATUSES = ["pending", "paid", "paid", "shipped", "shipped", "cancelled"]


def setup() -> None:
    """Fill an in-memory database deterministically from the seed."""
    global REPO
    rng = random.Random(int(os.environ.get("PERFSMITH_SEED", "0")))
    conn = connect()
    repo = ShopRepository(conn)
    customers = [
        repo.add_customer(f"Customer {k} \u00e9", f"c{k}@example.com", rng.choice(COUNTRIES))
        for k in range(400)
    ]
    categories = [repo.add_category(f"Category {k}") for k in range(25)]
    skus = [f"SKU-{k:04d}" for k in range(300)]
    for sku in skus:
        repo.add_product(sku, f"Product {sku}", rng.randint(100, 50_000), rng.choice(categories))
    addresses = {
        c: [
            repo.add_address(c, f"City {k}", rng.choice(COUNTRIES))
            for k in range(rng.randint(1, 3))
        ]
        for c in customers
    }
    rows = []
    for _ in range(3000):
        month = rng.randint(1, 6)
        placed = f"2024-{month:02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:00:00"
        customer = rng.choice(customers)
        rows.append((customer, rng.choice(addresses[customer]), placed, rng.choice(STATUSES)))
    with conn:
        for customer_id, address_id, placed, status in rows:
            cur = conn.execute(
                "INSERT INTO orders (customer_id, address_id, placed_at, status)"
                " VALUES (?, ?, ?, ?)",
                (customer_id, address_id, placed, status),
            )
            for _ in range(rng.randint(1, 6)):
                conn.execute(
                    "INSERT INTO order_lines (order_id, sku, quantity, unit_price_cents)"
                    " VALUES (?, ?, ?, ?)",
                    (cur.lastrowid, rng.choice(skus), rng.randint(1, 5), rng.randint(100, 50_000)),
                )
    REPO = repo


def workload() -> dict[str, object]:
    """Report on the half-year and export the first two weeks of March."""
    assert REPO is not None
    report = revenue_report(REPO, "2024-01-01", "2024-07-01", top=10)
    text = orders_csv(REPO, "2024-03-01", "2024-03-15")
    return {
        "orders": report.orders,
        "cancelled": report.cancelled,
        "revenue_by_country": report.revenue_by_country,
        "top_customers": report.top_customers,
        "units_by_sku": report.units_by_sku,
        "revenue_by_category": report.revenue_by_category,
        "csv_lines": text.count("\n"),
        "csv_sha256": hashlib.sha256(text.encode()).hexdigest(),
    }
