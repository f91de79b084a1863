from __future__ import annotations

import pytest

from shopdb import NotFoundError, ShopRepository, revenue_report
from shopdb.export import orders_csv


def place(repo: ShopRepository, customer: int, *args: object) -> int:
    """An order shipped to a new address in the customer's own country."""
    country = repo.get_customer(customer).country
    address = repo.add_address(customer, "Ville-" + country, country)
    return repo.add_order(customer, address, *args)  # type: ignore[arg-type]


def test_add_order_snapshots_prices_and_keeps_line_order(repo: ShopRepository) -> None:
    alice = repo.add_customer("Alice", "alice@example.com", "FR")
    oid = place(repo, alice, "2024-05-01T10:00:00", "paid", [("SKU-2", 1), ("SKU-1", 2)])
    repo._conn.execute("UPDATE products SET price_cents = 1 WHERE sku = 'SKU-1'")
    order = repo.get_order(oid)
    assert [(ln.product.sku, ln.quantity, ln.unit_price_cents) for ln in order.lines] == [
        ("SKU-2", 1, 4000),
        ("SKU-1", 2, 1250),
    ]
    assert order.total_cents == 6500
    assert order.lines[1].product.price_cents == 1


def test_orders_between_bounds_order_and_status(repo: ShopRepository) -> None:
    a = repo.add_customer("Alice", "alice@example.com", "FR")
    b = repo.add_customer("Bob", "bob@example.com", "DE")
    o1 = place(repo, b, "2024-05-02T09:00:00", "paid", [("SKU-1", 1)])
    o2 = place(repo, a, "2024-05-01T09:00:00", "shipped", [("SKU-3", 3)])
    o3 = place(repo, a, "2024-05-02T09:00:00", "cancelled", [("SKU-2", 1)])
    place(repo, a, "2024-06-01T00:00:00", "paid", [("SKU-2", 1)])
    place(repo, a, "2024-04-30T23:59:59", "paid", [("SKU-2", 1)])
    orders = repo.orders_between("2024-05-01", "2024-06-01")
    assert [o.id for o in orders] == [o2, o1, o3]
    assert [o.customer.name for o in orders] == ["Alice", "Bob", "Alice"]
    assert [o.id for o in repo.orders_between("2024-05-01", "2024-06-01", "paid")] == [o1]
    assert repo.orders_between("2025-01-01", "2026-01-01") == []


def test_orders_between_shares_equal_customers(repo: ShopRepository) -> None:
    a = repo.add_customer("Zoë", "zoe@example.com", "NL")
    place(repo, a, "2024-05-01T00:00:00", "paid", [("SKU-1", 1), ("SKU-1", 4)])
    place(repo, a, "2024-05-03T00:00:00", "paid", [("SKU-3", 2)])
    first, second = repo.orders_between("2024-05-01", "2024-06-01")
    assert first.customer == second.customer
    assert first.customer.name == "Zoë"
    assert [ln.quantity for ln in first.lines] == [1, 4]
    assert second.lines[0].product.title == "Spoon"
    assert second.lines[0].product.category == "Kitchen"


def test_order_without_lines(repo: ShopRepository) -> None:
    a = repo.add_customer("Alice", "alice@example.com", "FR")
    oid = place(repo, a, "2024-05-01T00:00:00", "pending", [])
    (order,) = repo.orders_between("2024-05-01", "2024-05-02")
    assert order.id == oid and order.lines == () and order.total_cents == 0


def test_not_found_errors(repo: ShopRepository) -> None:
    with pytest.raises(NotFoundError):
        repo.get_customer(99)
    with pytest.raises(NotFoundError):
        repo.get_order(99)
    a = repo.add_customer("Alice", "alice@example.com", "FR")
    with pytest.raises(NotFoundError):
        place(repo, a, "2024-05-01T00:00:00", "paid", [("NOPE", 1)])
    with pytest.raises(NotFoundError):
        repo.set_status(12345, "paid")


def test_revenue_report(repo: ShopRepository) -> None:
    a = repo.add_customer("Alice", "alice@example.com", "FR")
    b = repo.add_customer("Bob", "bob@example.com", "DE")
    c = repo.add_customer("Carl", "carl@example.com", "FR")
    place(repo, a, "2024-05-01T00:00:00", "paid", [("SKU-1", 2)])
    place(repo, b, "2024-05-02T00:00:00", "shipped", [("SKU-2", 1), ("SKU-3", 1)])
    place(repo, c, "2024-05-03T00:00:00", "paid", [("SKU-1", 2)])
    place(repo, c, "2024-05-04T00:00:00", "cancelled", [("SKU-2", 9)])
    report = revenue_report(repo, "2024-05-01", "2024-06-01", top=2)
    assert report.orders == 3 and report.cancelled == 1
    assert report.revenue_by_country == {"FR": 5000, "DE": 4300}
    assert report.top_customers == [("bob@example.com", 4300), ("alice@example.com", 2500)]
    assert report.units_by_sku == {"SKU-1": 4, "SKU-2": 1, "SKU-3": 1}
    assert report.revenue_by_category == {"Kitchen": 5300, "Thé & infusions": 4000}


def test_revenue_by_shipping_country_and_address_loading(repo: ShopRepository) -> None:
    a = repo.add_customer("Alice", "alice@example.com", "FR")
    home = repo.add_address(a, "Lyon", "FR")
    abroad = repo.add_address(a, "Köln", "DE")
    repo.add_order(a, abroad, "2024-05-01T00:00:00", "paid", [("SKU-3", 1)])
    repo.add_order(a, home, "2024-05-02T00:00:00", "paid", [("SKU-1", 1)])
    repo.add_order(a, abroad, "2024-05-03T00:00:00", "paid", [("SKU-3", 2)])
    orders = repo.orders_between("2024-05-01", "2024-06-01")
    assert [(o.ship_to.id, o.ship_to.city) for o in orders] == [
        (abroad, "Köln"),
        (home, "Lyon"),
        (abroad, "Köln"),
    ]
    assert repo.get_order(orders[0].id) == orders[0]
    report = revenue_report(repo, "2024-05-01", "2024-06-01")
    assert report.revenue_by_country == {"DE": 900, "FR": 1250}


def test_set_status_is_visible(repo: ShopRepository) -> None:
    a = repo.add_customer("Alice", "alice@example.com", "FR")
    oid = place(repo, a, "2024-05-01T00:00:00", "pending", [("SKU-3", 1)])
    repo.set_status(oid, "shipped")
    assert [o.status for o in repo.orders_between("2024-05-01", "2024-05-02")] == ["shipped"]


def test_orders_csv(repo: ShopRepository) -> None:
    a = repo.add_customer("Alice", "alice@example.com", "FR")
    place(repo, a, "2024-05-01T00:00:00", "paid", [("SKU-2", 2), ("SKU-1", 1)])
    text = orders_csv(repo, "2024-05-01", "2024-06-01")
    assert text.splitlines() == [
        "order_id,placed_at,status,customer,city,country,sku,title,category,qty,cents",
        "1,2024-05-01T00:00:00,paid,alice@example.com,Ville-FR,FR,SKU-2,Théière,Thé & infusions,2,8000",
        "1,2024-05-01T00:00:00,paid,alice@example.com,Ville-FR,FR,SKU-1,Mug,Kitchen,1,1250",
    ]


def test_large_orders_with_many_products(repo: ShopRepository) -> None:
    cat = repo.add_category("Bulk")
    skus = [f"B-{k:04d}" for k in range(1200)]
    for k, sku in enumerate(skus):
        repo.add_product(sku, f"Bulk {k}", k, cat)
    a = repo.add_customer("Alice", "alice@example.com", "FR")
    first = place(repo, a, "2024-05-01T00:00:00", "paid", [(s, 1) for s in reversed(skus)])
    place(repo, a, "2024-05-02T00:00:00", "paid", [(skus[7], 2), ("SKU-1", 1)])
    orders = repo.orders_between("2024-05-01", "2024-06-01")
    assert orders[0].id == first
    assert [ln.product.sku for ln in orders[0].lines] == list(reversed(skus))
    assert orders[0].total_cents == sum(range(1200))
    assert [(ln.product.title, ln.quantity) for ln in orders[1].lines] == [
        ("Bulk 7", 2),
        ("Mug", 1),
    ]
