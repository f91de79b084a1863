"""Invoice totals with regional VAT and volume discounts."""

from billing.invoice import Invoice, InvoiceTotal, Line, invoice_totals, line_amounts
from billing.money import format_money, round_money
from billing.taxconfig import TaxConfigError, TaxTable, load_tax_table, tax_rate

__all__ = [
    "Invoice",
    "InvoiceTotal",
    "Line",
    "TaxConfigError",
    "TaxTable",
    "format_money",
    "invoice_totals",
    "line_amounts",
    "load_tax_table",
    "round_money",
    "tax_rate",
]
