"""Data-access layer and reports for a small online shop, on SQLite."""

from shopdb.models import Address, Customer, Order, OrderLine, Product
from shopdb.report import RevenueReport, revenue_report
from shopdb.repository import NotFoundError, ShopRepository
from shopdb.schema import connect

__all__ = [
    "Address",
    "Customer",
    "NotFoundError",
    "Order",
    "OrderLine",
    "Product",
    "RevenueReport",
    "ShopRepository",
    "connect",
    "revenue_report",
]
