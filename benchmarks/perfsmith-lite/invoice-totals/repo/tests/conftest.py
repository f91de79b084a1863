from __future__ import annotations

import pytest

TAX_FILE = """
[settings]
rounding = half_up
default_category = standard

[discounts]
1000 = 2     ; percent off the net from this net amount on
5000 = 5%

[DE]
aliases = Germany, Deutschland
standard = 19
reduced = 7   ; food, books
zero = 0

[FR]
aliases = France
standard = 20
reduced = 5.5
super_reduced = 2.1

[CH]
aliases = Switzerland, Schweiz, Suisse
standard = 8.1
reduced = 2.6
"""


@pytest.fixture()
def tax_file() -> str:
    return TAX_FILE
