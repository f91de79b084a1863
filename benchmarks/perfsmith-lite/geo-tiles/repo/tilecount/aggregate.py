"""Per-tile aggregation of point features."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from tilecount.features import Feature
from tilecount.geo import MAX_ZOOM, LatLon, Tile, project, tile_for


@dataclass(frozen=True)
class TileStats:
    """What one tile holds: number of points and the sum of their weights."""

    tile: Tile
    quadkey: str
    count: int
    weight: float


@dataclass(frozen=True)
class Aggregation:
    """The result of :func:`aggregate`: tiles in (x, y) order and the points skipped."""

    zoom: int
    tiles: tuple[TileStats, ...]
    skipped: int

    @property
    def total(self) -> int:
        """Number of points that landed in a tile."""
        return sum(t.count for t in self.tiles)


def aggregate(
    features: Iterable[Feature],
    zoom: int,
    weight: str | None = None,
    where: dict[str, object] | None = None,
) -> Aggregation:
    """Count points (and sum a weight property) per tile at one zoom level.

    Args:
        features: the points; they are not modified.
        zoom: tile zoom level, 0 to 24.
        weight: name of a numeric property to sum; missing values count as 0. Without it
            every point weighs 1.
        where: keep only features whose properties equal all of these values.

    Returns:
        The non-empty tiles ordered by (x, y), and how many points were outside the
        projectable latitude range.

    Raises:
        ValueError: for a bad zoom level or a coordinate outside WGS84 bounds.
    """
    if not 0 <= zoom <= MAX_ZOOM:
        raise ValueError(f"zoom must be between 0 and {MAX_ZOOM}, got {zoom}")
    buckets: dict[Tile, list[dict[str, object]]] = {}
    skipped = 0
    for feature in features:
        position = LatLon(feature.lat, feature.lon)
        if not position.in_mercator_range:
            skipped += 1
            continue
        record = {**feature.props, "_tile": tile_for(project(position), zoom)}
        if where and any(record.get(k) != v for k, v in where.items()):
            continue
        tile = record["_tile"]
        assert isinstance(tile, Tile)
        record["_quadkey"] = tile.quadkey
        buckets.setdefault(tile, []).append(record)
    stats = []
    for tile in sorted(buckets, key=lambda t: (t.x, t.y)):
        records = buckets[tile]
        weights = [_weight(r, weight) for r in records]
        stats.append(TileStats(tile, str(records[0]["_quadkey"]), len(records), sum(weights)))
    return Aggregation(zoom, tuple(stats), skipped)


def _weight(props: Mapping[str, object], name: str | None) -> float:
    if name is None:
        return 1.0
    value = props.get(name)
    return float(value) if isinstance(value, (int, float)) else 0.0


def top_tiles(aggregation: Aggregation, k: int) -> list[TileStats]:
    """The ``k`` heaviest tiles, heaviest first; ties go to the smaller quadkey."""
    ordered = sorted(aggregation.tiles, key=lambda t: (-t.weight, t.quadkey))
    return ordered[: max(k, 0)]
