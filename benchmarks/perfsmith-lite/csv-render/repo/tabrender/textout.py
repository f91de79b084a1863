"""Aligned plain-text tables."""

from __future__ import annotations

from tabrender.formatting import format_cell
from tabrender.schema import Table

_RIGHT = {"int", "decimal"}


def render_text(table: Table, max_width: int = 40) -> str:
    """Columns padded to their widest cell; numbers right-aligned, long text cut with '…'."""
    table.check()
    cells = [[format_cell(v, c) for v, c in zip(row, table.columns)] for row in table.rows]
    cells = [[c if len(c) <= max_width else c[: max_width - 1] + "…" for c in r] for r in cells]
    widths = [
        max([len(col.name)] + [len(r[i]) for r in cells]) for i, col in enumerate(table.columns)
    ]

    def line(values: list[str]) -> str:
        parts = [
            v.rjust(w) if col.kind in _RIGHT else v.ljust(w)
            for v, w, col in zip(values, widths, table.columns)
        ]
        return "  ".join(parts).rstrip()

    out = [line([c.name for c in table.columns]), "  ".join("-" * w for w in widths)]
    out.extend(line(r) for r in cells)
    return "\n".join(out) + "\n"
