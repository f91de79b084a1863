"""Revenue per country, best customers, units per product."""

from __future__ import annotations

from dataclasses import dataclass

from shopdb.repository import ShopRepository


@dataclass(frozen=True)
class RevenueReport:
    """Revenue of a period, cancelled orders excluded.

    Attributes:
        orders: Number of orders counted.
        revenue_by_country: Shipping country code -> cents.
        top_customers: (email, cents) pairs, highest first, ties by email.
        units_by_sku: Sku -> units sold.
        revenue_by_category: Category name -> cents.
        cancelled: Number of cancelled orders in the period.
    """

    orders: int
    revenue_by_country: dict[str, int]
    top_customers: list[tuple[str, int]]
    units_by_sku: dict[str, int]
    revenue_by_category: dict[str, int]
    cancelled: int


def revenue_report(repo: ShopRepository, start: str, end: str, top: int = 5) -> RevenueReport:
    """Build the revenue report of [start, end).

    Args:
        repo: The shop's repository.
        start: ISO date, inclusive.
        end: ISO date, exclusive.
        top: How many customers to rank.

    Returns:
        The report.
    """
    by_country: dict[str, int] = {}
    by_customer: dict[str, int] = {}
    units: dict[str, int] = {}
    by_category: dict[str, int] = {}
    counted = cancelled = 0
    for order in repo.orders_between(start, end):
        if order.status == "cancelled":
            cancelled += 1
            continue
        counted += 1
        total = order.total_cents
        country = order.ship_to.country
        by_country[country] = by_country.get(country, 0) + total
        by_customer[order.customer.email] = by_customer.get(order.customer.email, 0) + total
        for line in order.lines:
            units[line.product.sku] = units.get(line.product.sku, 0) + line.quantity
            category = line.product.category
            by_category[category] = by_category.get(category, 0) + line.total_cents
    ranked = sorted(by_customer.items(), key=lambda item: (-item[1], item[0]))
    return RevenueReport(counted, by_country, ranked[:top], units, by_category, cancelled)
