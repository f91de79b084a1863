"""Invoice totals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from billing.money import round_money
from billing.taxconfig import TaxTable, load_tax_table


@dataclass(frozen=True)
class Line:
    sku: str
    quantity: int
    unit_price: Decimal
    category: str = ""


@dataclass(frozen=True)
class Invoice:
    number: str
    region: str
    lines: tuple[Line, ...]
    currency: str = "EUR"


@dataclass(frozen=True)
class InvoiceTotal:
    number: str
    net: Decimal
    discount: Decimal
    tax: Decimal
    gross: Decimal


def line_amounts(line: Line, region: str, table: TaxTable) -> tuple[Decimal, Decimal]:
    """Net amount and VAT of one line, each rounded to cents."""
    if line.quantity < 0:
        raise ValueError(f"line {line.sku}: negative quantity")
    net = round_money(line.unit_price * line.quantity, table.rounding)
    tax = round_money(net * table.rate(region, line.category), table.rounding)
    return net, tax


def _total(invoice: Invoice, table: TaxTable) -> InvoiceTotal:
    net = Decimal(0)
    tax = Decimal(0)
    for line in invoice.lines:
        line_net, line_tax = line_amounts(line, invoice.region, table)
        net += line_net
        tax += line_tax
    fraction = table.discount(net)
    discount = round_money(net * fraction, table.rounding)
    # The discount reduces the taxable base proportionally across the lines.
    tax_after = round_money(tax * (1 - fraction), table.rounding)
    return InvoiceTotal(invoice.number, net, discount, tax_after, net - discount + tax_after)


def invoice_totals(invoices: Sequence[Invoice], config_text: str) -> list[InvoiceTotal]:
    """Totals for a billing run, in input order.

    Args:
        invoices: The invoices of the run.
        config_text: The tax rule file's text.

    Returns:
        One total per invoice.
    """
    table = load_tax_table(config_text)
    return [_total(invoice, table) for invoice in invoices]
