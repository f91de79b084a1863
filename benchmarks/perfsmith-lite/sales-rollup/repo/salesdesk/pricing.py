"""Gross, discount and net amounts of one order line, in integer cents."""

from __future__ import annotations


def gross_cents(quantity: int, unit_price_cents: int) -> int:
    """Amount before discount."""
    return quantity * unit_price_cents


def discount_cents(gross: int, discount_pct: int) -> int:
    """Discount on a gross amount; fractions of a cent go to the customer's disadvantage."""
    return gross * discount_pct // 100


def net_cents(quantity: int, unit_price_cents: int, discount_pct: int) -> int:
    """Amount after discount."""
    gross = gross_cents(quantity, unit_price_cents)
    return gross - discount_cents(gross, discount_pct)
