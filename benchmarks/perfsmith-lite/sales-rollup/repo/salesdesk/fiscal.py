"""Fiscal years and quarters.

A fiscal year is named after the calendar year in which it ends: with a year starting in
April, 2024-04-01 .. 2025-03-31 is FY2025.
"""

from __future__ import annotations


def fiscal_quarter(iso_date: str, start_month: int = 4) -> str:
    """The fiscal quarter label of a date, such as ``FY2025-Q1``.

    Args:
        iso_date: A date as YYYY-MM-DD.
        start_month: First month of the fiscal year (1 = calendar year).

    Returns:
        The label ``FY<year>-Q<n>``.
    """
    if not 1 <= start_month <= 12:
        raise ValueError(f"start_month must be 1..12, got {start_month}")
    year = int(iso_date[0:4])
    month = int(iso_date[5:7])
    fiscal_year = year + 1 if start_month > 1 and month >= start_month else year
    quarter = (month - start_month) % 12 // 3 + 1
    return f"FY{fiscal_year}-Q{quarter}"
