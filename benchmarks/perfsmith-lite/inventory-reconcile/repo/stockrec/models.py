"""Value types shared by the parser, the reconciler and the report."""

from __future__ import annotations

from dataclasses import dataclass, field

# Movement kinds and the sign they apply to the on-hand quantity.
KIND_SIGNS = {
    "receipt": 1,
    "return": 1,
    "transfer_in": 1,
    "shipment": -1,
    "transfer_out": -1,
    "scrap": -1,
    "adjustment": 1,  # adjustments carry their own sign in the quantity
}


@dataclass(frozen=True)
class Movement:
    """One ledger line: a quantity of a SKU entering or leaving a location."""

    sku: str
    location: str
    kind: str
    qty: int
    reference: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.sku, self.location)

    @property
    def signed_qty(self) -> int:
        return KIND_SIGNS[self.kind] * self.qty


@dataclass(frozen=True)
class Count:
    """One physical count of a SKU at a location (a location may be counted twice)."""

    sku: str
    location: str
    qty: int
    counter: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.sku, self.location)


@dataclass(frozen=True)
class StockLevel:
    sku: str
    location: str
    qty: int

    @property
    def key(self) -> tuple[str, str]:
        return (self.sku, self.location)


@dataclass(frozen=True)
class Discrepancy:
    sku: str
    location: str
    expected: int
    counted: int

    @property
    def delta(self) -> int:
        return self.counted - self.expected


@dataclass(frozen=True)
class ReconcileReport:
    """Outcome of a reconciliation.

    ``discrepancies`` follows ledger order (first movement of each SKU/location),
    ``uncounted`` lists ledger positions nobody counted (ledger order) and ``unknown``
    lists counted positions the ledger has never seen (count order).
    """

    matched: int
    discrepancies: list[Discrepancy] = field(default_factory=list)
    uncounted: list[StockLevel] = field(default_factory=list)
    unknown: list[Count] = field(default_factory=list)
