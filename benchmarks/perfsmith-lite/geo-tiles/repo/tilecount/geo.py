"""Web Mercator projection and tile arithmetic."""

from __future__ import annotations

import math
from dataclasses import dataclass

EARTH_RADIUS = 6378137.0
ORIGIN_SHIFT = math.pi * EARTH_RADIUS  # half the projected world width, in metres
MAX_LATITUDE = 85.05112877980659
MAX_ZOOM = 24


@dataclass(frozen=True)
class LatLon:
    """A WGS84 position in degrees; validated on construction."""

    lat: float
    lon: float

    def __post_init__(self) -> None:
        if not -90.0 <= self.lat <= 90.0:
            raise ValueError(f"latitude out of range: {self.lat}")
        if not -180.0 <= self.lon <= 180.0:
            raise ValueError(f"longitude out of range: {self.lon}")

    @property
    def in_mercator_range(self) -> bool:
        """Whether the position can be projected (the poles cannot)."""
        return -MAX_LATITUDE <= self.lat <= MAX_LATITUDE


@dataclass(frozen=True)
class Point:
    """A projected position in Web Mercator metres."""

    x: float
    y: float


@dataclass(frozen=True, order=True)
class Tile:
    """A map tile: zoom level and column/row, row 0 at the top (north)."""

    z: int
    x: int
    y: int

    @property
    def quadkey(self) -> str:
        """The tile's quadkey (one base-4 digit per zoom level)."""
        digits = []
        for level in range(self.z, 0, -1):
            mask = 1 << (level - 1)
            digit = (1 if self.x & mask else 0) + (2 if self.y & mask else 0)
            digits.append(str(digit))
        return "".join(digits)


def project(position: LatLon) -> Point:
    """Project a position to Web Mercator metres."""
    x = EARTH_RADIUS * math.radians(position.lon)
    y = EARTH_RADIUS * math.log(math.tan(math.pi / 4 + math.radians(position.lat) / 2))
    return Point(x, y)


def tile_for(point: Point, zoom: int) -> Tile:
    """Return the tile containing a projected point at a zoom level."""
    if not 0 <= zoom <= MAX_ZOOM:
        raise ValueError(f"zoom must be between 0 and {MAX_ZOOM}, got {zoom}")
    n = 1 << zoom
    fx = (point.x + ORIGIN_SHIFT) / (2 * ORIGIN_SHIFT)
    fy = (ORIGIN_SHIFT - point.y) / (2 * ORIGIN_SHIFT)
    # Points exactly on the east or south edge belong to the last tile, not one past it.
    x = min(n - 1, max(0, math.floor(fx * n)))
    y = min(n - 1, max(0, math.floor(fy * n)))
    return Tile(zoom, x, y)


def tile_bounds(tile: Tile) -> tuple[float, float, float, float]:
    """Return (west, south, east, north) of a tile in degrees."""
    n = 1 << tile.z

    def lon(x: int) -> float:
        return x / n * 360.0 - 180.0

    def lat(y: int) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / n))))

    return lon(tile.x), lat(tile.y + 1), lon(tile.x + 1), lat(tile.y)
