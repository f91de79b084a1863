"""Runs of readings outside an allowed band."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Excursion:
    """A maximal run of consecutive readings outside [low, high].

    Attributes:
        start: Index of the first reading of the run.
        stop: Index one past the last reading of the run.
        start_time: Timestamp of the first reading.
        end_time: Timestamp of the last reading.
        peak: The reading farthest outside the band (the first one on ties).
    """

    start: int
    stop: int
    start_time: int
    end_time: int
    peak: int

    @property
    def length(self) -> int:
        """Number of readings in the run."""
        return self.stop - self.start


def _distance_outside(value: int, low: int, high: int) -> int:
    if value < low:
        return low - value
    return value - high


def find_excursions(
    values: np.ndarray,
    timestamps: np.ndarray,
    low: int,
    high: int,
    min_length: int = 1,
) -> list[Excursion]:
    """Find the runs of readings below ``low`` or above ``high``.

    A run may cross from below the band to above it without a reading inside the band; it is
    then one excursion.

    Args:
        values: Integer readings (int64).
        timestamps: Timestamps aligned with values.
        low: Lowest allowed reading (inclusive).
        high: Highest allowed reading (inclusive).
        min_length: Runs shorter than this many readings are ignored.

    Returns:
        The excursions in time order.
    """
    if low > high:
        raise ValueError(f"low ({low}) must not exceed high ({high})")
    found: list[Excursion] = []
    start = -1
    peak = 0
    peak_distance = -1
    n = len(values)
    for i in range(n + 1):
        outside = i < n and (values[i] < low or values[i] > high)
        if outside:
            value = int(values[i])
            distance = _distance_outside(value, low, high)
            if start < 0:
                start, peak, peak_distance = i, value, distance
            elif distance > peak_distance:
                peak, peak_distance = value, distance
        elif start >= 0:
            if i - start >= min_length:
                found.append(
                    Excursion(start, i, int(timestamps[start]), int(timestamps[i - 1]), peak)
                )
            start = -1
    return found
