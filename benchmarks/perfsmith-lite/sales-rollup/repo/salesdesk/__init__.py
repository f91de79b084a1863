"""Order-line loading and sales rollups for finance reports."""

from salesdesk.loaders import COLUMNS, OrderDataError, orders_frame
from salesdesk.rollup import Rollup, build_rollup

__all__ = ["COLUMNS", "OrderDataError", "Rollup", "build_rollup", "orders_frame"]
