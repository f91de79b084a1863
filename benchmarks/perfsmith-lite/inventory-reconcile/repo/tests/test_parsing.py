from __future__ import annotations

import pytest

from stockrec import format_report, parse_counts, parse_movements, reconcile
from stockrec.parsing import ParseError, normalise_location, normalise_sku


def test_normalisers() -> None:
    assert normalise_sku(" ab_12 3 ") == "AB-123"
    assert normalise_location("a0103") == "A-01-03"
    assert normalise_location("b/1/2") == "B-01-02"


def test_parse_movements_with_header_comments_and_semicolons() -> None:
    text = (
        "sku;location;kind;qty;ref\n# exported\n"
        "ab-1;a0101;Receipt;5;PO-1\nab-1;A-01-01;shipment;2\n"
    )
    moves = parse_movements(text)
    assert [(m.sku, m.location, m.kind, m.qty, m.reference) for m in moves] == [
        ("AB-1", "A-01-01", "receipt", 5, "PO-1"),
        ("AB-1", "A-01-01", "shipment", 2, ""),
    ]


def test_parse_errors() -> None:
    with pytest.raises(ParseError, match="unknown kind"):
        parse_movements("x,A-01-01,teleport,1\n")
    with pytest.raises(ParseError, match="negative"):
        parse_counts("x,A-01-01,-1\n")


def test_end_to_end_report() -> None:
    moves = parse_movements("Ä-1,A0101,receipt,5\nb-2,A0101,receipt,3\n")
    counts = parse_counts("ä-1,A-01-01,5\nB-2,A-01-01,1\n")
    report = reconcile(moves, counts)
    assert report.matched == 1
    text = format_report(report)
    assert text.splitlines()[0].startswith("matched: 1  discrepancies: 1")
    assert "B-2" in text and "(-2)" in text
