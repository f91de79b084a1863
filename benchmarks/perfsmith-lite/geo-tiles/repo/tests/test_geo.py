import math

import pytest
from tilecount import LatLon, Point, Tile, project, tile_bounds, tile_for


def test_origin_and_corners():
    assert tile_for(project(LatLon(0.0, 0.0)), 1) == Tile(1, 1, 1)
    assert tile_for(project(LatLon(85.0, -180.0)), 3) == Tile(3, 0, 0)
    # The east edge belongs to the last column, not one past it.
    assert tile_for(project(LatLon(-85.0, 180.0)), 3) == Tile(3, 7, 7)


def test_known_tile_and_quadkey():
    tile = tile_for(project(LatLon(52.52, 13.405)), 10)
    assert (tile.x, tile.y) == (550, 335)
    assert Tile(3, 3, 5).quadkey == "213"
    assert Tile(0, 0, 0).quadkey == ""


def test_bounds_contain_point():
    tile = tile_for(project(LatLon(-33.87, 151.21)), 12)
    west, south, east, north = tile_bounds(tile)
    assert west <= 151.21 <= east and south <= -33.87 <= north
    assert math.isclose(tile_bounds(Tile(0, 0, 0))[3], 85.0511287798, rel_tol=1e-9)


def test_validation():
    with pytest.raises(ValueError):
        LatLon(91.0, 0.0)
    with pytest.raises(ValueError):
        tile_for(Point(0.0, 0.0), 25)
    assert not LatLon(89.0, 0.0).in_mercator_range
