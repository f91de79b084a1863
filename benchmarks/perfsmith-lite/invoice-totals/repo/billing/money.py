"""Exact money arithmetic helpers."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")

ROUNDING_MODES = {"half_up": ROUND_HALF_UP, "half_even": ROUND_HALF_EVEN}


def round_money(amount: Decimal, mode: str = "half_up") -> Decimal:
    """Round to cents with the mode finance configured."""
    try:
        rounding = ROUNDING_MODES[mode]
    except KeyError:
        raise ValueError(f"unknown rounding mode {mode!r}") from None
    return amount.quantize(CENT, rounding=rounding)


def format_money(amount: Decimal, currency: str = "EUR") -> str:
    """``1234.5`` -> ``'1,234.50 EUR'``."""
    sign = "-" if amount < 0 else ""
    return f"{sign}{abs(round_money(amount)):,.2f} {currency}"
