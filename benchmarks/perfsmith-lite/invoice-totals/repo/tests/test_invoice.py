from __future__ import annotations

from decimal import Decimal as D

import pytest

from billing import (
    Invoice,
    Line,
    TaxConfigError,
    format_money,
    invoice_totals,
    line_amounts,
    load_tax_table,
    round_money,
    tax_rate,
)


def test_load_tax_table(tax_file: str) -> None:
    table = load_tax_table(tax_file)
    assert table.rate("fr", "Super Reduced") == D("0.021")
    assert table.rate("FRANCE", "super-reduced") == D("0.021")
    assert table.region("  deutschland ") == "DE"
    assert table.tiers == ((D(1000), D("0.02")), (D(5000), D("0.05")))
    assert table.discount(D("999.99")) == 0 and table.discount(D(5000)) == D("0.05")


def test_tax_rate_falls_back_to_default_category(tax_file: str) -> None:
    assert tax_rate(tax_file, "Suisse", "Reduced") == D("0.026")
    assert tax_rate(tax_file, "CH", "") == D("0.081")
    assert tax_rate(tax_file, "de", "luxury") == D("0.19")


def test_unknown_region_and_bad_file(tax_file: str) -> None:
    with pytest.raises(TaxConfigError, match="unknown region"):
        tax_rate(tax_file, "Atlantis", "standard")
    with pytest.raises(TaxConfigError, match="not a percentage"):
        load_tax_table("[XX]\nstandard = lots\n")
    with pytest.raises(TaxConfigError, match="outside"):
        load_tax_table("[XX]\nstandard = 120\n")


def test_line_amounts_round_each_line_half_up(tax_file: str) -> None:
    table = load_tax_table(tax_file)
    net, tax = line_amounts(Line("A", 3, D("0.335"), "reduced"), "DE", table)
    assert (net, tax) == (D("1.01"), D("0.07"))
    with pytest.raises(ValueError):
        line_amounts(Line("A", -1, D(1)), "DE", table)


def test_half_even_rounding_setting(tax_file: str) -> None:
    text = tax_file.replace("rounding = half_up", "rounding = half_even")
    net, _ = line_amounts(Line("A", 1, D("0.125")), "DE", load_tax_table(text))
    assert net == D("0.12")


def test_invoice_totals_in_input_order_with_discount(tax_file: str) -> None:
    small = Invoice("INV-2", "France", (Line("B", 2, D("10.00"), "reduced"),))
    big = Invoice(
        "INV-1",
        "Germany",
        (Line("A", 10, D("100.00")), Line("C", 1, D("50.00"), "reduced")),
    )
    totals = invoice_totals([small, big], tax_file)
    assert [t.number for t in totals] == ["INV-2", "INV-1"]
    assert (totals[0].net, totals[0].discount, totals[0].tax, totals[0].gross) == (
        D("20.00"),
        D("0.00"),
        D("1.10"),
        D("21.10"),
    )
    # net 1050, 2 % discount = 21.00, tax (190 + 3.50) * 0.98 = 189.63
    assert (totals[1].net, totals[1].discount, totals[1].tax, totals[1].gross) == (
        D("1050.00"),
        D("21.00"),
        D("189.63"),
        D("1218.63"),
    )


def test_empty_run_and_empty_invoice(tax_file: str) -> None:
    assert invoice_totals([], tax_file) == []
    (total,) = invoice_totals([Invoice("INV-0", "CH", ())], tax_file)
    assert (total.net, total.tax, total.gross) == (0, 0, 0)


def test_duplicate_lines_are_not_merged(tax_file: str) -> None:
    line = Line("A", 1, D("0.005"))
    (total,) = invoice_totals([Invoice("I", "DE", (line, line))], tax_file)
    assert total.net == D("0.02")  # each line rounds 0.005 up to 0.01


def test_missing_default_rate_is_an_error() -> None:
    text = "[settings]\ndefault_category = standard\n[XX]\nreduced = 5\n"
    with pytest.raises(TaxConfigError, match="no rate"):
        invoice_totals([Invoice("I", "XX", (Line("A", 1, D(1), "food"),))], text)


def test_money_helpers() -> None:
    assert round_money(D("2.675")) == D("2.68")
    assert format_money(D("-1234.5")) == "-1,234.50 EUR"
    with pytest.raises(ValueError):
        round_money(D(1), "banker")
