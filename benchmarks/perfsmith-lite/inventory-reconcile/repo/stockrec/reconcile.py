"""Ledger versus count reconciliation."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from stockrec.models import Count, Discrepancy, Movement, ReconcileReport, StockLevel


def on_hand(movements: Iterable[Movement]) -> list[StockLevel]:
    """Net on-hand quantity per SKU/location, in order of first appearance."""
    movements = list(movements)
    keys: list[tuple[str, str]] = []
    for m in movements:
        if m.key not in keys:
            keys.append(m.key)
    levels = []
    for key in keys:
        total = 0
        for m in movements:
            if m.key == key:
                total += m.signed_qty
        levels.append(StockLevel(key[0], key[1], total))
    return levels


def _merge_counts(counts: Sequence[Count]) -> list[Count]:
    """Counts of the same position by several counters are added up (split pallets)."""
    merged: list[Count] = []
    for c in counts:
        for i, seen in enumerate(merged):
            if seen.key == c.key:
                counter = (
                    seen.counter
                    if c.counter in seen.counter.split("+")
                    else (f"{seen.counter}+{c.counter}")
                )
                merged[i] = Count(c.sku, c.location, seen.qty + c.qty, counter)
                break
        else:
            merged.append(c)
    return merged


def reconcile(
    movements: Iterable[Movement], counts: Sequence[Count], tolerance: int = 0
) -> ReconcileReport:
    """Compare the ledger's on-hand quantities with a physical count.

    Args:
        movements: Ledger movements in booking order.
        counts: Physical counts; several counts of one position are summed.
        tolerance: Absolute difference still treated as a match.

    Returns:
        The report; see ReconcileReport for the ordering of each list.
    """
    if tolerance < 0:
        raise ValueError("tolerance must be >= 0")
    levels = on_hand(movements)
    merged = _merge_counts(counts)
    matched = 0
    discrepancies = []
    uncounted = []
    for level in levels:
        found = None
        for c in merged:
            if c.key == level.key:
                found = c
                break
        if found is None:
            if level.qty != 0:
                uncounted.append(level)
            continue
        if abs(found.qty - level.qty) <= tolerance:
            matched += 1
        else:
            discrepancies.append(Discrepancy(level.sku, level.location, level.qty, found.qty))
    ledger_keys = [level.key for level in levels]
    unknown = [c for c in merged if c.key not in ledger_keys]
    return ReconcileReport(matched, discrepancies, uncounted, unknown)
