"""Immutable records returned by the repository.

NamedTuples rather than dataclasses: reports build tens of thousands of them.
"""

from __future__ import annotations

from typing import NamedTuple


class Customer(NamedTuple):
    """A customer account."""

    id: int
    name: str
    email: str
    country: str


class Address(NamedTuple):
    """A shipping address of a customer."""

    id: int
    city: str
    country: str


class Product(NamedTuple):
    """A catalogue entry; ``price_cents`` is the current price."""

    sku: str
    title: str
    price_cents: int
    category: str


class OrderLine(NamedTuple):
    """One line of an order, with the price paid at the time of the order."""

    product: Product
    quantity: int
    unit_price_cents: int

    @property
    def total_cents(self) -> int:
        """Quantity times the price paid."""
        return self.quantity * self.unit_price_cents


class Order(NamedTuple):
    """An order with its customer, shipping address and lines (in the order they were added)."""

    id: int
    customer: Customer
    ship_to: Address
    placed_at: str
    status: str
    lines: tuple[OrderLine, ...]

    @property
    def total_cents(self) -> int:
        """Sum of the line totals."""
        return sum(line.total_cents for line in self.lines)
