"""Money formatting for the printed report."""

from __future__ import annotations


def format_cents(cents: int, currency: str = "EUR") -> str:
    """Format cents as ``1,234.56 EUR`` (negative amounts keep their sign)."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole:,}.{frac:02d} {currency}"


def percent(part: int, whole: int) -> str:
    """Share of ``part`` in ``whole`` with one decimal; ``-`` when whole is zero."""
    if whole == 0:
        return "-"
    return f"{100 * part / whole:.1f}%"
