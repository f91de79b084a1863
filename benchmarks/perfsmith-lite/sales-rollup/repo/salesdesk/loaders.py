"""Build and validate the order-line DataFrame."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

COLUMNS = ("order_id", "date", "region", "product", "quantity", "unit_price_cents", "discount_pct")
_DATE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")


class OrderDataError(ValueError):
    """Raised when order lines are malformed."""


def orders_frame(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Build the order-line DataFrame from plain records.

    Args:
        records: One mapping per order line with the keys in ``COLUMNS``; ``date`` is an
            ISO date string (YYYY-MM-DD), money is in integer cents, ``discount_pct`` is an
            integer percentage between 0 and 100.

    Returns:
        A DataFrame with exactly the columns in ``COLUMNS`` and integer money columns.

    Raises:
        OrderDataError: A column is missing, a date is malformed or a number is out of range.
    """
    rows = list(records)
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    if frame.isna().any().any():
        raise OrderDataError("every order line needs all of: " + ", ".join(COLUMNS))
    for name in ("quantity", "unit_price_cents", "discount_pct"):
        frame[name] = frame[name].astype("int64")
    bad_dates = [d for d in frame["date"] if not _DATE.match(str(d))]
    if bad_dates:
        raise OrderDataError(f"malformed dates, expected YYYY-MM-DD: {bad_dates[:3]}")
    if (frame["quantity"] <= 0).any() or (frame["unit_price_cents"] < 0).any():
        raise OrderDataError("quantities must be positive and prices non-negative")
    if ((frame["discount_pct"] < 0) | (frame["discount_pct"] > 100)).any():
        raise OrderDataError("discount_pct must be between 0 and 100")
    return frame
