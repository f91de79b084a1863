"""Aggregate GPS points into Web Mercator map tiles for heat maps."""

from tilecount.aggregate import Aggregation, TileStats, aggregate, top_tiles
from tilecount.features import Feature, features_from_geojson
from tilecount.geo import LatLon, Point, Tile, project, tile_bounds, tile_for

__all__ = [
    "Aggregation",
    "Feature",
    "LatLon",
    "Point",
    "Tile",
    "TileStats",
    "aggregate",
    "features_from_geojson",
    "project",
    "tile_bounds",
    "tile_for",
    "top_tiles",
]
