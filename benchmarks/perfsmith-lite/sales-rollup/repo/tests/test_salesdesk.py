from __future__ import annotations

import pandas as pd
import pytest

from salesdesk import OrderDataError, build_rollup, orders_frame
from salesdesk.fiscal import fiscal_quarter
from salesdesk.formatting import format_cents, percent
from salesdesk.pricing import net_cents
from salesdesk.rollup import with_amounts


def line(**kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "order_id": 1,
        "date": "2024-05-10",
        "region": "EMEA",
        "product": "SKU-1",
        "quantity": 1,
        "unit_price_cents": 1000,
        "discount_pct": 0,
    }
    base.update(kw)
    return base


def test_net_cents_rounds_discount_down() -> None:
    assert net_cents(3, 333, 10) == 999 - 99
    assert net_cents(1, 1, 50) == 1
    assert net_cents(2, 500, 100) == 0


@pytest.mark.parametrize(
    ("date", "start", "label"),
    [
        ("2024-04-01", 4, "FY2025-Q1"),
        ("2024-03-31", 4, "FY2024-Q4"),
        ("2024-12-31", 4, "FY2025-Q3"),
        ("2024-01-15", 1, "FY2024-Q1"),
        ("2024-12-15", 1, "FY2024-Q4"),
        ("2024-10-01", 10, "FY2025-Q1"),
    ],
)
def test_fiscal_quarter(date: str, start: int, label: str) -> None:
    assert fiscal_quarter(date, start) == label


def test_with_amounts_adds_columns_without_touching_input() -> None:
    frame = orders_frame([line(quantity=3, unit_price_cents=333, discount_pct=10)])
    before = frame.copy()
    out = with_amounts(frame)
    pd.testing.assert_frame_equal(frame, before)
    assert out["gross_cents"].tolist() == [999]
    assert out["net_cents"].tolist() == [900]
    assert out["quarter"].tolist() == ["FY2025-Q1"]


def test_rollup_totals_and_quarters() -> None:
    frame = orders_frame(
        [
            line(region="EMEA", quantity=2, unit_price_cents=1000, discount_pct=10),
            line(region="NA", date="2024-02-01", quantity=1, unit_price_cents=999, discount_pct=33),
            line(region="EMEA", date="2023-12-24", quantity=5, unit_price_cents=10),
            line(region="Île-de-France", product="SKU-é", quantity=1, unit_price_cents=7),
        ]
    )
    r = build_rollup(frame, fiscal_start_month=4, top=5)
    assert r.by_region == {
        "EMEA": {"lines": 2, "units": 7, "net_cents": 1850},
        "NA": {"lines": 1, "units": 1, "net_cents": 999 - 329},
        "Île-de-France": {"lines": 1, "units": 1, "net_cents": 7},
    }
    assert r.by_quarter == {
        "EMEA": {"FY2025-Q1": 1800, "FY2024-Q3": 50},
        "NA": {"FY2024-Q4": 670},
        "Île-de-France": {"FY2025-Q1": 7},
    }
    assert r.total_net_cents == 1850 + 670 + 7
    assert r.discount_cents == 200 + 329
    assert all(isinstance(v, int) for d in r.by_region.values() for v in d.values())


def test_top_products_ties_broken_by_name_and_cut() -> None:
    frame = orders_frame(
        [
            line(product="b", unit_price_cents=500),
            line(product="a", unit_price_cents=300),
            line(product="a", unit_price_cents=200),
            line(product="c", unit_price_cents=100),
            line(product="b", unit_price_cents=1),
        ]
    )
    r = build_rollup(frame, top=2)
    assert r.top_products == [("b", 501), ("a", 500)]
    assert build_rollup(frame, top=10).top_products[-1] == ("c", 100)
    assert all(type(p) is str and type(v) is int for p, v in r.top_products)


def test_duplicate_lines_are_all_counted() -> None:
    frame = orders_frame([line(), line(), line()])
    r = build_rollup(frame)
    assert r.by_region == {"EMEA": {"lines": 3, "units": 3, "net_cents": 3000}}


def test_empty_frame() -> None:
    r = build_rollup(orders_frame([]))
    assert r.by_region == {} and r.by_quarter == {} and r.top_products == []
    assert r.total_net_cents == 0 and r.discount_cents == 0


def test_large_amounts_stay_exact() -> None:
    frame = orders_frame([line(quantity=40_000, unit_price_cents=99_999_999, discount_pct=7)])
    gross = 40_000 * 99_999_999
    assert build_rollup(frame).total_net_cents == gross - gross * 7 // 100


def test_orders_frame_validation() -> None:
    with pytest.raises(OrderDataError):
        orders_frame([line(date="2024-13-01")])
    with pytest.raises(OrderDataError):
        orders_frame([line(quantity=0)])
    with pytest.raises(OrderDataError):
        orders_frame([line(discount_pct=101)])
    with pytest.raises(OrderDataError):
        orders_frame([{"order_id": 1}])


def test_formatting() -> None:
    assert format_cents(123456) == "1,234.56 EUR"
    assert format_cents(-5, "USD") == "-0.05 USD"
    assert percent(1, 3) == "33.3%" and percent(1, 0) == "-"
