"""Point features and their GeoJSON input."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Feature:
    """A point with free-form properties (order counts, courier id, ...)."""

    lon: float
    lat: float
    props: Mapping[str, Any] = field(default_factory=dict)


def features_from_geojson(collection: Mapping[str, Any]) -> list[Feature]:
    """Read the Point features of a GeoJSON FeatureCollection; other geometries are skipped.

    Raises:
        ValueError: when the object is not a FeatureCollection.
    """
    if collection.get("type") != "FeatureCollection":
        raise ValueError("expected a GeoJSON FeatureCollection")
    out = []
    for item in collection.get("features", []):
        geometry = item.get("geometry") or {}
        if geometry.get("type") != "Point":
            continue
        lon, lat = geometry["coordinates"][:2]
        out.append(Feature(float(lon), float(lat), dict(item.get("properties") or {})))
    return out
