from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal as D

import pytest

from tabrender import Column, CsvWriter, Table, TableError, render_csv

COLS = [Column("name"), Column("units", "int", thousands=True), Column("price", "decimal")]


def parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_basic_render_with_crlf() -> None:
    text = render_csv(Table(COLS, [["Widget", 1200, D("3.5")], ["Gadget", 7, D("0.125")]]))
    assert text == 'name,units,price\r\nWidget,"1,200",3.50\r\nGadget,7,0.13\r\n'


def test_empty_table() -> None:
    assert render_csv(Table(COLS, []), header=False) == ""
    assert render_csv(Table(COLS, [])) == "name,units,price\r\n"
    assert render_csv(Table([], [[], []]), header=False) == "\r\n\r\n"


def test_quoting_rules() -> None:
    rows = [
        ['say "hi"', 1, 1],
        ["a,b", 2, 2],
        ["line\nbreak", 3, 3],
        [" padded ", 4, 4],
        ['"', 5, 5],
        ["", 6, 6],
        [None, None, None],
    ]
    text = render_csv(Table(COLS, rows), header=False)
    assert text.split("\r\n")[:2] == ['"say ""hi""",1,1.00', '"a,b",2,2.00']
    assert '" padded "' in text
    assert '"""",5,5.00' in text
    assert text.endswith(",6,6.00\r\n,,\r\n")
    assert [r[0] for r in parse(text)] == [r[0] or "" for r in rows]


def test_round_trip_through_stdlib_csv_with_unicode() -> None:
    rows = [[f'Zürich ☃ {i} "q" ;,', i * 1000, D(i) / 7] for i in range(50)]
    text = render_csv(Table(COLS, rows))
    parsed = parse(text)
    assert parsed[0] == ["name", "units", "price"]
    assert [r[0] for r in parsed[1:]] == [r[0] for r in rows]
    assert parsed[3][1] == "2,000"


def test_semicolon_delimiter_and_lf() -> None:
    text = render_csv(Table(COLS, [["a;b", 1, 1], ["a,b", 2, 2]]), delimiter=";", line_end="\n")
    assert text == 'name;units;price\n"a;b";1;1.00\na,b;2;2.00\n'
    with pytest.raises(ValueError):
        CsvWriter(COLS, delimiter='"')


def test_writer_incremental_getvalue_and_row_count() -> None:
    writer = CsvWriter([Column("d", "date"), Column("ok", "bool")])
    writer.write_row([dt.date(2024, 2, 29), True])
    first = writer.getvalue()
    writer.write_row([dt.datetime(2024, 3, 1, 12, 30, 5, 999), False])
    assert first == "2024-02-29,yes\r\n"
    assert writer.getvalue() == first + "2024-03-01T12:30:05,no\r\n"
    assert writer.rows_written == 2


def test_ragged_rows_and_bad_values_raise() -> None:
    with pytest.raises(TableError, match="row 1"):
        render_csv(Table(COLS, [["a", 1, 1], ["b", 2]]))
    with pytest.raises(TableError, match="not an integer"):
        render_csv(Table(COLS, [["a", "1", 1]]))
    with pytest.raises(TableError, match="unknown kind"):
        Column("x", "money")
