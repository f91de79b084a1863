"""Warehouse stock reconciliation."""

from stockrec.models import Count, Discrepancy, Movement, ReconcileReport, StockLevel
from stockrec.parsing import parse_counts, parse_movements
from stockrec.reconcile import on_hand, reconcile
from stockrec.report import format_report, summarise

__all__ = [
    "Count",
    "Discrepancy",
    "Movement",
    "ReconcileReport",
    "StockLevel",
    "format_report",
    "on_hand",
    "parse_counts",
    "parse_movements",
    "reconcile",
    "summarise",
]
