"""Orders as CSV rows for the accountants."""

from __future__ import annotations

import csv
import io

from shopdb.repository import ShopRepository

HEADER = (
    "order_id",
    "placed_at",
    "status",
    "customer",
    "city",
    "country",
    "sku",
    "title",
    "category",
    "qty",
    "cents",
)


def orders_csv(repo: ShopRepository, start: str, end: str) -> str:
    """One CSV row per order line of the orders placed in [start, end).

    Args:
        repo: The shop's repository.
        start: ISO date, inclusive.
        end: ISO date, exclusive.

    Returns:
        The CSV text, header included, with ``\\n`` line endings.
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(HEADER)
    for order in repo.orders_between(start, end):
        for line in order.lines:
            writer.writerow(
                (
                    order.id,
                    order.placed_at,
                    order.status,
                    order.customer.email,
                    order.ship_to.city,
                    order.ship_to.country,
                    line.product.sku,
                    line.product.title,
                    line.product.category,
                    line.quantity,
                    line.total_cents,
                )
            )
    return buf.getvalue()
