"""Trailing moving averages and spike detection."""

from __future__ import annotations

import numpy as np


def _check_window(window: int) -> None:
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average over full windows.

    Args:
        values: Integer readings (int64).
        window: Number of readings per window, at least 1.

    Returns:
        A float64 array of length ``len(values) - window + 1``; element k is the mean of
        ``values[k : k + window]``. Empty when there are fewer readings than the window.
    """
    _check_window(window)
    n = len(values)
    if n < window:
        return np.empty(0, dtype=np.float64)
    out = np.empty(n - window + 1, dtype=np.float64)
    # Integer running total: exact, so the mean never drifts however long the series.
    total = 0
    for i in range(window):
        total += int(values[i])
    out[0] = total / window
    for i in range(window, n):
        total += int(values[i]) - int(values[i - window])
        out[i - window + 1] = total / window
    return out


def spike_indices(values: np.ndarray, window: int, tolerance: float) -> list[int]:
    """Indices of readings that stray from their trailing mean by more than tolerance.

    The reading at index i is compared with the mean of the window that ends at i, so the
    first ``window - 1`` readings are never reported.

    Args:
        values: Integer readings (int64).
        window: Window of the trailing mean.
        tolerance: Allowed absolute distance from the mean, in millidegrees.

    Returns:
        The indices in increasing order.
    """
    averages = moving_average(values, window)
    spikes: list[int] = []
    for k in range(len(averages)):
        i = k + window - 1
        if abs(values[i] - averages[k]) > tolerance:
            spikes.append(i)
    return spikes
