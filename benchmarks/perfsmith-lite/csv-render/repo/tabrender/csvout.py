"""RFC 4180 CSV output."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tabrender.formatting import format_cell
from tabrender.schema import Column, Table

_SPECIAL = {'"', "\r", "\n"}


class CsvWriter:
    """Accumulates CSV text cell by cell.

    Args:
        columns: The columns, used for formatting and the header.
        delimiter: Field separator (one character).
        line_end: Record terminator; RFC 4180 wants CRLF.
    """

    def __init__(self, columns: Sequence[Column], delimiter: str = ",", line_end: str = "\r\n"):
        if len(delimiter) != 1 or delimiter in _SPECIAL:
            raise ValueError(f"bad delimiter {delimiter!r}")
        self.columns = list(columns)
        self.delimiter = delimiter
        self.line_end = line_end
        self.rows_written = 0
        self._text = ""

    def _quote(self, field: str) -> str:
        needs_quotes = False
        escaped = ""
        for ch in field:
            if ch == '"':
                escaped += '""'
                needs_quotes = True
            else:
                if ch in _SPECIAL or ch == self.delimiter:
                    needs_quotes = True
                escaped += ch
        if needs_quotes or field != field.strip():
            return '"' + escaped + '"'
        return escaped

    def write_header(self) -> None:
        self._write_fields([c.name for c in self.columns])

    def write_row(self, row: Sequence[Any]) -> None:
        self._write_fields([format_cell(v, c) for v, c in zip(row, self.columns)])
        self.rows_written += 1

    def _write_fields(self, fields: Sequence[str]) -> None:
        for i, field in enumerate(fields):
            if i:
                self._text += self.delimiter
            self._text += self._quote(field)
        self._text += self.line_end

    def getvalue(self) -> str:
        """All text written so far."""
        return self._text


def render_csv(
    table: Table, header: bool = True, delimiter: str = ",", line_end: str = "\r\n"
) -> str:
    """The whole table as CSV text.

    Args:
        table: The table; checked for ragged rows first.
        header: Whether to write the column names as the first record.
        delimiter: Field separator.
        line_end: Record terminator.

    Returns:
        The CSV text, ending with a record terminator when there is any record.
    """
    table.check()
    writer = CsvWriter(table.columns, delimiter, line_end)
    if header:
        writer.write_header()
    for row in table.rows:
        writer.write_row(row)
    return writer.getvalue()
