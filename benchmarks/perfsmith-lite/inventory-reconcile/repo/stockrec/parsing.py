"""Parsing of ledger and count exports (semicolon- or comma-separated text)."""

from __future__ import annotations

import csv
import io

from stockrec.models import KIND_SIGNS, Count, Movement


class ParseError(ValueError):
    """A line of an export could not be understood."""


def normalise_sku(raw: str) -> str:
    """SKUs are case-insensitive and exported with stray spaces and dashes."""
    return raw.strip().upper().replace(" ", "").replace("_", "-")


def normalise_location(raw: str) -> str:
    """Locations look like ``A-01-03``; some scanners drop the dashes or pad with zeros."""
    parts = [p for p in raw.strip().upper().replace("/", "-").split("-") if p]
    if len(parts) == 1 and len(parts[0]) == 5:
        parts = [parts[0][0], parts[0][1:3], parts[0][3:]]
    return "-".join(p if p.isalpha() else p.zfill(2) for p in parts)


def _rows(text: str) -> list[list[str]]:
    dialect = "excel" if text.count(",") >= text.count(";") else "excel-semicolon"
    if dialect == "excel-semicolon":
        reader = csv.reader(io.StringIO(text), delimiter=";")
    else:
        reader = csv.reader(io.StringIO(text))
    rows = [row for row in reader if row and not row[0].startswith("#")]
    if rows and rows[0][0].strip().lower() == "sku":
        rows = rows[1:]
    return rows


def parse_movements(text: str) -> list[Movement]:
    """Parse ``sku,location,kind,qty[,reference]`` lines into movements."""
    out = []
    for lineno, row in enumerate(_rows(text), start=1):
        if len(row) < 4:
            raise ParseError(f"movement line {lineno}: expected 4 or 5 fields, got {len(row)}")
        kind = row[2].strip().lower()
        if kind not in KIND_SIGNS:
            raise ParseError(f"movement line {lineno}: unknown kind {kind!r}")
        try:
            qty = int(row[3])
        except ValueError as exc:
            raise ParseError(f"movement line {lineno}: bad quantity {row[3]!r}") from exc
        ref = row[4].strip() if len(row) > 4 else ""
        out.append(Movement(normalise_sku(row[0]), normalise_location(row[1]), kind, qty, ref))
    return out


def parse_counts(text: str) -> list[Count]:
    """Parse ``sku,location,qty[,counter]`` lines into counts."""
    out = []
    for lineno, row in enumerate(_rows(text), start=1):
        if len(row) < 3:
            raise ParseError(f"count line {lineno}: expected 3 or 4 fields, got {len(row)}")
        try:
            qty = int(row[2])
        except ValueError as exc:
            raise ParseError(f"count line {lineno}: bad quantity {row[2]!r}") from exc
        if qty < 0:
            raise ParseError(f"count line {lineno}: negative count {qty}")
        counter = row[3].strip() if len(row) > 3 else ""
        out.append(Count(normalise_sku(row[0]), normalise_location(row[1]), qty, counter))
    return out
