from __future__ import annotations

import pytest

from shopdb import ShopRepository, connect


@pytest.fixture()
def repo() -> ShopRepository:
    r = ShopRepository(connect())
    kitchen = r.add_category("Kitchen")
    tea = r.add_category("Thé & infusions")
    r.add_product("SKU-1", "Mug", 1250, kitchen)
    r.add_product("SKU-2", "Théière", 4000, tea)
    r.add_product("SKU-3", "Spoon", 300, kitchen)
    return r
