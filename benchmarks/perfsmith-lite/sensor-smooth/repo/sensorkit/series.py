"""The SensorSeries container and the validation of raw readings."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


class SeriesError(ValueError):
    """Raised when readings cannot form a valid series."""


@dataclass(frozen=True)
class SensorSeries:
    """Readings of one sensor.

    Attributes:
        sensor_id: Identifier of the sensor.
        timestamps: Seconds since the epoch, strictly increasing, int64.
        values: Readings in millidegrees Celsius, int64.
    """

    sensor_id: str
    timestamps: np.ndarray
    values: np.ndarray

    def __post_init__(self) -> None:
        if self.timestamps.shape != self.values.shape or self.values.ndim != 1:
            raise SeriesError(f"{self.sensor_id}: timestamps and values must be 1-D, same length")
        if self.values.dtype != np.int64 or self.timestamps.dtype != np.int64:
            raise SeriesError(f"{self.sensor_id}: timestamps and values must be int64")
        if len(self.timestamps) > 1 and not bool(np.all(np.diff(self.timestamps) > 0)):
            raise SeriesError(f"{self.sensor_id}: timestamps must be strictly increasing")

    @classmethod
    def from_pairs(cls, sensor_id: str, pairs: Iterable[tuple[int, int]]) -> SensorSeries:
        """Build a series from (timestamp, millidegrees) pairs."""
        rows = list(pairs)
        ts = np.array([t for t, _ in rows], dtype=np.int64)
        vals = np.array([v for _, v in rows], dtype=np.int64)
        return cls(sensor_id, ts, vals)

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def between(self, start: int, end: int) -> SensorSeries:
        """Return the readings with start <= timestamp < end."""
        lo = int(np.searchsorted(self.timestamps, start, side="left"))
        hi = int(np.searchsorted(self.timestamps, end, side="left"))
        return SensorSeries(self.sensor_id, self.timestamps[lo:hi], self.values[lo:hi])
