from __future__ import annotations

from decimal import Decimal as D

from tabrender import Column, Table, format_cell, render_text


def test_render_text_alignment_and_truncation() -> None:
    table = Table(
        [Column("name"), Column("units", "int")],
        [["a" * 50, 5], ["b", 12345]],
    )
    lines = render_text(table, max_width=10).splitlines()
    assert lines[0] == "name        units"
    assert lines[2] == "aaaaaaaaa…      5"
    assert lines[3] == "b           12345"


def test_format_cell_decimal_places_and_thousands() -> None:
    col = Column("x", "decimal", places=3, thousands=True)
    assert format_cell(D("1234.56785"), col) == "1,234.568"
    assert format_cell("2.5", Column("y", "decimal", places=0)) == "3"
    assert format_cell(None, col) == ""
