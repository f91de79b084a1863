"""Turning typed values into display text."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tabrender.schema import Column, TableError


def format_cell(value: Any, column: Column) -> str:
    """Display text for one value; ``None`` is always the empty string."""
    if value is None:
        return ""
    kind = column.kind
    if kind == "text":
        return str(value)
    if kind == "bool":
        return "yes" if value else "no"
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise TableError(f"column {column.name!r}: {value!r} is not an integer")
        return f"{value:,}" if column.thousands else str(value)
    if kind == "decimal":
        amount = Decimal(value) if not isinstance(value, Decimal) else value
        quantum = Decimal(1).scaleb(-column.places)
        amount = amount.quantize(quantum, rounding=ROUND_HALF_UP)
        return f"{amount:,}" if column.thousands else str(amount)
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TableError(f"column {column.name!r}: {value!r} is not a date")
