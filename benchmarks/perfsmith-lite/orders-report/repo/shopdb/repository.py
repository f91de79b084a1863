"""ShopRepository: every SQL statement of the shop lives here."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from shopdb.models import Address, Customer, Order, OrderLine, Product


class NotFoundError(LookupError):
    """Raised when a customer, product or order does not exist."""


class ShopRepository:
    """Reads and writes customers, products and orders.

    Args:
        conn: A connection whose schema was created by ``shopdb.schema.connect``.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    # -- writes -------------------------------------------------------------------------

    def add_customer(self, name: str, email: str, country: str) -> int:
        """Create a customer and return its id."""
        cur = self._conn.execute(
            "INSERT INTO customers (name, email, country) VALUES (?, ?, ?)", (name, email, country)
        )
        return int(cur.lastrowid or 0)

    def add_address(self, customer_id: int, city: str, country: str) -> int:
        """Create a shipping address of a customer and return its id."""
        cur = self._conn.execute(
            "INSERT INTO addresses (customer_id, city, country) VALUES (?, ?, ?)",
            (customer_id, city, country),
        )
        return int(cur.lastrowid or 0)

    def add_category(self, name: str) -> int:
        """Create a product category and return its id."""
        cur = self._conn.execute("INSERT INTO categories (name) VALUES (?)", (name,))
        return int(cur.lastrowid or 0)

    def add_product(self, sku: str, title: str, price_cents: int, category_id: int) -> None:
        """Create a catalogue entry."""
        self._conn.execute(
            "INSERT INTO products (sku, title, price_cents, category_id) VALUES (?, ?, ?, ?)",
            (sku, title, price_cents, category_id),
        )

    def add_order(
        self,
        customer_id: int,
        address_id: int,
        placed_at: str,
        status: str,
        lines: Iterable[tuple[str, int]],
    ) -> int:
        """Create an order at the current catalogue prices.

        Args:
            customer_id: The buyer.
            address_id: Where the order is shipped.
            placed_at: ISO timestamp.
            status: One of pending, paid, shipped, cancelled.
            lines: (sku, quantity) pairs, kept in this order.

        Returns:
            The new order's id.

        Raises:
            NotFoundError: A sku is not in the catalogue.
        """
        with self._conn:
            cur = self._conn.execute(
                "INSERT INTO orders (customer_id, address_id, placed_at, status)"
                " VALUES (?, ?, ?, ?)",
                (customer_id, address_id, placed_at, status),
            )
            order_id = int(cur.lastrowid or 0)
            for sku, quantity in lines:
                product = self.get_product(sku)
                self._conn.execute(
                    "INSERT INTO order_lines (order_id, sku, quantity, unit_price_cents)"
                    " VALUES (?, ?, ?, ?)",
                    (order_id, sku, quantity, product.price_cents),
                )
        return order_id

    def set_status(self, order_id: int, status: str) -> None:
        """Change an order's status."""
        with self._conn:
            cur = self._conn.execute(
                "UPDATE orders SET status = ? WHERE id = ?", (status, order_id)
            )
        if cur.rowcount == 0:
            raise NotFoundError(f"no order {order_id}")

    # -- reads --------------------------------------------------------------------------

    def get_customer(self, customer_id: int) -> Customer:
        """One customer by id."""
        row = self._conn.execute(
            "SELECT id, name, email, country FROM customers WHERE id = ?", (customer_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no customer {customer_id}")
        return Customer(*row)

    def get_address(self, address_id: int) -> Address:
        """One shipping address by id."""
        row = self._conn.execute(
            "SELECT id, city, country FROM addresses WHERE id = ?", (address_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no address {address_id}")
        return Address(*row)

    def category_name(self, category_id: int) -> str:
        """The name of one category."""
        row = self._conn.execute(
            "SELECT name FROM categories WHERE id = ?", (category_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no category {category_id}")
        return str(row[0])

    def get_product(self, sku: str) -> Product:
        """One product by sku, with its category name."""
        row = self._conn.execute(
            "SELECT sku, title, price_cents, category_id FROM products WHERE sku = ?", (sku,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no product {sku!r}")
        return Product(row[0], row[1], row[2], self.category_name(row[3]))

    def lines_of(self, order_id: int) -> tuple[OrderLine, ...]:
        """The lines of one order, in the order they were added."""
        rows = self._conn.execute(
            "SELECT sku, quantity, unit_price_cents FROM order_lines"
            " WHERE order_id = ? ORDER BY id",
            (order_id,),
        ).fetchall()
        return tuple(OrderLine(self.get_product(sku), qty, price) for sku, qty, price in rows)

    def get_order(self, order_id: int) -> Order:
        """One order with its customer and lines."""
        row = self._conn.execute(
            "SELECT id, customer_id, address_id, placed_at, status FROM orders WHERE id = ?",
            (order_id,),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no order {order_id}")
        oid, customer_id, address_id, placed_at, status = row
        return Order(
            oid,
            self.get_customer(customer_id),
            self.get_address(address_id),
            placed_at,
            status,
            self.lines_of(oid),
        )

    def orders_between(self, start: str, end: str, status: str | None = None) -> list[Order]:
        """Orders placed in [start, end), oldest first (ties by id), fully loaded.

        Args:
            start: ISO date or timestamp, inclusive.
            end: ISO date or timestamp, exclusive.
            status: Only orders with this status; all statuses when None.

        Returns:
            The orders, each with its customer, shipping address and lines.
        """
        sql = "SELECT id, customer_id, address_id, placed_at, status FROM orders"
        sql += " WHERE placed_at >= ?"
        sql += " AND placed_at < ?"
        params: list[object] = [start, end]
        if status is not None:
            sql += " AND status = ?"
            params.append(status)
        sql += " ORDER BY placed_at, id"
        orders = []
        for oid, customer_id, address_id, placed_at, order_status in self._conn.execute(
            sql, params
        ):
            customer = self.get_customer(customer_id)
            ship_to = self.get_address(address_id)
            lines = self.lines_of(oid)
            orders.append(Order(oid, customer, ship_to, placed_at, order_status, lines))
        return orders
