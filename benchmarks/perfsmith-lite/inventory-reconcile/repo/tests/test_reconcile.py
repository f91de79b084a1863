from __future__ import annotations

import pytest

from stockrec import Count, Movement, on_hand, reconcile, summarise


def mv(sku: str, loc: str, kind: str, qty: int) -> Movement:
    return Movement(sku, loc, kind, qty)


def test_on_hand_nets_movements_in_first_seen_order() -> None:
    levels = on_hand(
        [
            mv("B", "A-01-01", "receipt", 10),
            mv("A", "A-01-01", "receipt", 5),
            mv("B", "A-01-01", "shipment", 3),
            mv("B", "A-01-02", "transfer_in", 2),
            mv("A", "A-01-01", "adjustment", -1),
        ]
    )
    assert [(lv.sku, lv.location, lv.qty) for lv in levels] == [
        ("B", "A-01-01", 7),
        ("A", "A-01-01", 4),
        ("B", "A-01-02", 2),
    ]


def test_on_hand_empty() -> None:
    assert on_hand([]) == []
    assert on_hand(iter([])) == []


def test_on_hand_accepts_a_generator() -> None:
    levels = on_hand(mv("X", "B-02-01", "receipt", n) for n in (1, 2, 3))
    assert [lv.qty for lv in levels] == [6]


def test_reconcile_empty_inputs() -> None:
    report = reconcile([], [])
    assert report.matched == 0
    assert report.discrepancies == [] and report.uncounted == [] and report.unknown == []


def test_reconcile_classifies_every_position() -> None:
    movements = [
        mv("A", "L1", "receipt", 10),
        mv("B", "L1", "receipt", 4),
        mv("C", "L2", "receipt", 3),
        mv("D", "L3", "receipt", 2),
        mv("D", "L3", "shipment", 2),  # nets to zero: not reported as uncounted
    ]
    counts = [Count("A", "L1", 10), Count("B", "L1", 6), Count("Z", "L9", 1)]
    report = reconcile(movements, counts)
    assert report.matched == 1
    assert [(d.sku, d.expected, d.counted, d.delta) for d in report.discrepancies] == [
        ("B", 4, 6, 2)
    ]
    assert [(lv.sku, lv.qty) for lv in report.uncounted] == [("C", 3)]
    assert [(c.sku, c.location) for c in report.unknown] == [("Z", "L9")]


def test_duplicate_counts_are_summed_and_counters_joined() -> None:
    movements = [mv("A", "L1", "receipt", 10)]
    counts = [Count("A", "L1", 4, "ann"), Count("A", "L1", 6, "bo"), Count("A", "L1", 0, "ann")]
    report = reconcile(movements, counts)
    assert report.matched == 1 and report.discrepancies == []


def test_duplicate_unknown_counts_are_merged_in_count_order() -> None:
    counts = [
        Count("Q", "L2", 1, "ann"),
        Count("P", "L1", 2, "bo"),
        Count("Q", "L2", 3, "bo"),
    ]
    report = reconcile([mv("A", "L1", "receipt", 1)], counts)
    assert [(c.sku, c.qty, c.counter) for c in report.unknown] == [
        ("Q", 4, "ann+bo"),
        ("P", 2, "bo"),
    ]


def test_same_sku_different_location_is_a_different_position() -> None:
    movements = [mv("A", "L1", "receipt", 5), mv("A", "L2", "receipt", 7)]
    report = reconcile(movements, [Count("A", "L2", 5), Count("A", "L1", 7)])
    assert [(d.location, d.expected, d.counted) for d in report.discrepancies] == [
        ("L1", 5, 7),
        ("L2", 7, 5),
    ]


def test_tolerance() -> None:
    movements = [mv("A", "L1", "receipt", 100), mv("B", "L1", "receipt", 100)]
    counts = [Count("A", "L1", 98), Count("B", "L1", 97)]
    report = reconcile(movements, counts, tolerance=2)
    assert report.matched == 1
    assert [d.sku for d in report.discrepancies] == ["B"]
    with pytest.raises(ValueError):
        reconcile(movements, counts, tolerance=-1)


def test_discrepancies_follow_ledger_order_not_count_order() -> None:
    movements = [mv(s, "L1", "receipt", 1) for s in "EDCBA"]
    counts = [Count(s, "L1", 2) for s in "ABCDE"]
    report = reconcile(movements, counts)
    assert [d.sku for d in report.discrepancies] == list("EDCBA")


def test_summary_net_delta() -> None:
    movements = [mv("A", "L1", "receipt", 5), mv("B", "L1", "receipt", 3)]
    report = reconcile(movements, [Count("A", "L1", 4), Count("C", "L1", 2)])
    assert summarise(report) == {
        "matched": 0,
        "discrepancies": 1,
        "uncounted": 1,
        "unknown": 1,
        "net_delta": -1 - 3 + 2,
    }
