"""Table and column descriptions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

KINDS = ("text", "int", "decimal", "date", "bool")


class TableError(ValueError):
    """The table does not match its columns."""


@dataclass(frozen=True)
class Column:
    name: str
    kind: str = "text"
    places: int = 2  # decimals only
    thousands: bool = False  # int and decimal: group digits with commas

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise TableError(f"column {self.name!r}: unknown kind {self.kind!r}")


@dataclass(frozen=True)
class Table:
    columns: Sequence[Column]
    rows: Sequence[Sequence[Any]]

    def check(self) -> None:
        """Every row must have one value per column."""
        width = len(self.columns)
        for i, row in enumerate(self.rows):
            if len(row) != width:
                raise TableError(f"row {i} has {len(row)} values, expected {width}")
