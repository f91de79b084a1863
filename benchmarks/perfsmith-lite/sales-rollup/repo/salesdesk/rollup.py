"""Totals per region, per fiscal quarter, and the best-selling products."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from salesdesk.fiscal import fiscal_quarter
from salesdesk.pricing import net_cents


@dataclass(frozen=True)
class Rollup:
    """The monthly rollup, as plain Python values.

    Attributes:
        by_region: region -> {"lines", "units", "net_cents"}.
        by_quarter: region -> fiscal quarter label -> net cents.
        top_products: (product, net cents) pairs, highest first, ties by product name.
        total_net_cents: Net amount of all lines.
        discount_cents: Total discount granted.
    """

    by_region: dict[str, dict[str, int]]
    by_quarter: dict[str, dict[str, int]]
    top_products: list[tuple[str, int]]
    total_net_cents: int
    discount_cents: int


def with_amounts(frame: pd.DataFrame, fiscal_start_month: int = 4) -> pd.DataFrame:
    """A copy of the order lines with ``gross_cents``, ``net_cents`` and ``quarter`` columns.

    Args:
        frame: Order lines as built by ``orders_frame``.
        fiscal_start_month: First month of the fiscal year.

    Returns:
        A new DataFrame; the input is not modified.
    """
    out = frame.copy()
    out["gross_cents"] = out.apply(
        lambda row: int(row["quantity"]) * int(row["unit_price_cents"]),
        axis=1,
        result_type="reduce",
    ).astype("int64")
    out["net_cents"] = out.apply(
        lambda row: net_cents(
            int(row["quantity"]), int(row["unit_price_cents"]), int(row["discount_pct"])
        ),
        axis=1,
        result_type="reduce",
    ).astype("int64")
    out["quarter"] = [fiscal_quarter(d, fiscal_start_month) for d in out["date"]]
    return out


def region_totals(lines: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Lines, units and net cents per region (lines must have amounts)."""
    totals: dict[str, dict[str, int]] = {}
    for _, row in lines.iterrows():
        entry = totals.setdefault(row["region"], {"lines": 0, "units": 0, "net_cents": 0})
        entry["lines"] += 1
        entry["units"] += int(row["quantity"])
        entry["net_cents"] += int(row["net_cents"])
    return totals


def quarter_totals(lines: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Net cents per region and fiscal quarter (lines must have amounts)."""
    totals: dict[str, dict[str, int]] = {}
    for i in lines.index:
        region = lines.loc[i, "region"]
        quarter = lines.loc[i, "quarter"]
        per_region = totals.setdefault(region, {})
        per_region[quarter] = per_region.get(quarter, 0) + int(lines.loc[i, "net_cents"])
    return totals


def top_products(lines: pd.DataFrame, n: int) -> list[tuple[str, int]]:
    """The n products with the highest net cents; ties are broken by product name."""
    totals: dict[str, int] = {}
    for _, row in lines.iterrows():
        totals[row["product"]] = totals.get(row["product"], 0) + int(row["net_cents"])
    ranked = sorted(totals.items(), key=lambda item: (-item[1], item[0]))
    return ranked[:n]


def build_rollup(frame: pd.DataFrame, fiscal_start_month: int = 4, top: int = 5) -> Rollup:
    """Compute the monthly rollup.

    Args:
        frame: Order lines as built by ``orders_frame`` (not modified).
        fiscal_start_month: First month of the fiscal year.
        top: How many products to rank.

    Returns:
        The rollup, as plain Python values.
    """
    lines = with_amounts(frame, fiscal_start_month)
    total_net = int(lines["net_cents"].sum())
    return Rollup(
        by_region=region_totals(lines),
        by_quarter=quarter_totals(lines),
        top_products=top_products(lines, top),
        total_net_cents=total_net,
        discount_cents=int(lines["gross_cents"].sum()) - total_net,
    )
