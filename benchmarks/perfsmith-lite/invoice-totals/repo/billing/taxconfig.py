"""Loading the finance team's tax rule file.

The file is INI: one section per region with a rate (percent) per product category, an
optional ``aliases`` key listing other spellings of the region, a ``[discounts]`` section of
``threshold = percent`` volume tiers and a ``[settings]`` section (rounding mode, default
category).
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation


class TaxConfigError(ValueError):
    """The tax rule file is malformed or lacks a rate that an invoice needs."""


@dataclass(frozen=True)
class TaxTable:
    rates: dict[str, dict[str, Decimal]]  # region code -> category (as written) -> fraction
    aliases: dict[str, str]  # spelling as written in the file -> region code
    tiers: tuple[tuple[Decimal, Decimal], ...]  # (threshold, fraction), ascending
    rounding: str
    default_category: str

    def region(self, name: str) -> str:
        """The region code for any spelling the file lists (case and spacing ignored)."""
        lookup = {normalise_key(alias): code for alias, code in self.aliases.items()}
        key = normalise_key(name)
        if key in lookup:
            return lookup[key]
        raise TaxConfigError(f"unknown region {name!r}: add it or an alias to the tax file")

    def rate(self, region: str, category: str) -> Decimal:
        """The VAT fraction for a region spelling and a category (default when unknown)."""
        code = self.region(region)
        by_category = {normalise_key(cat): pct for cat, pct in self.rates[code].items()}
        cat = normalise_key(category) or self.default_category
        if cat not in by_category:
            cat = self.default_category
        if cat not in by_category:
            raise TaxConfigError(f"region {code} has no rate for {category!r} nor a default")
        return by_category[cat]

    def discount(self, net: Decimal) -> Decimal:
        fraction = Decimal(0)
        for threshold, pct in self.tiers:
            if net >= threshold:
                fraction = pct
        return fraction


def normalise_key(text: str) -> str:
    return " ".join(text.replace("_", " ").replace("-", " ").split()).casefold()


def _percent(raw: str, where: str) -> Decimal:
    try:
        value = Decimal(raw.split(";")[0].strip().rstrip("%"))
    except InvalidOperation:
        raise TaxConfigError(f"{where}: {raw!r} is not a percentage") from None
    if not Decimal(0) <= value <= Decimal(100):
        raise TaxConfigError(f"{where}: {value} is outside 0..100")
    return value / 100


def load_tax_table(text: str) -> TaxTable:
    """Parse the tax rule file.

    Args:
        text: The INI text.

    Returns:
        The parsed table.

    Raises:
        TaxConfigError: On any malformed entry.
    """
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(";",))
    try:
        parser.read_string(text)
    except configparser.Error as exc:
        raise TaxConfigError(f"tax file is not valid INI: {exc}") from None
    rates: dict[str, dict[str, Decimal]] = {}
    aliases: dict[str, str] = {}
    tiers: list[tuple[Decimal, Decimal]] = []
    rounding, default_category = "half_up", "standard"
    for section in parser.sections():
        items = dict(parser.items(section))
        if section == "settings":
            rounding = items.get("rounding", rounding)
            default_category = normalise_key(items.get("default_category", default_category))
        elif section == "discounts":
            for threshold, pct in items.items():
                tiers.append((Decimal(threshold), _percent(pct, f"[discounts] {threshold}")))
        else:
            code = section.strip().upper()
            aliases[code] = code
            for alias in items.pop("aliases", "").split(","):
                if alias.strip():
                    aliases[alias.strip()] = code
            rates[code] = {cat: _percent(pct, f"[{section}] {cat}") for cat, pct in items.items()}
    return TaxTable(rates, aliases, tuple(sorted(tiers)), rounding, default_category)


def tax_rate(config_text: str, region: str, category: str) -> Decimal:
    """The VAT fraction for one region and category, straight from the rule file."""
    return load_tax_table(config_text).rate(region, category)
