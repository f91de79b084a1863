"""Render typed tables as CSV or aligned plain text."""

from tabrender.csvout import CsvWriter, render_csv
from tabrender.formatting import format_cell
from tabrender.schema import Column, Table, TableError
from tabrender.textout import render_text

__all__ = [
    "Column",
    "CsvWriter",
    "Table",
    "TableError",
    "format_cell",
    "render_csv",
    "render_text",
]
