from __future__ import annotations

import numpy as np
import pytest

from sensorkit import (
    SensorSeries,
    find_excursions,
    moving_average,
    spike_indices,
    summarise,
)
from sensorkit.series import SeriesError
from sensorkit.units import format_reading, from_celsius, to_fahrenheit


def arr(*xs: int) -> np.ndarray:
    return np.array(xs, dtype=np.int64)


def ts(n: int) -> np.ndarray:
    return np.arange(100, 100 + n, dtype=np.int64)


def test_moving_average_full_windows() -> None:
    out = moving_average(arr(1, 2, 3, 4, 5), 2)
    assert out.dtype == np.float64
    assert out.tolist() == [1.5, 2.5, 3.5, 4.5]


def test_moving_average_window_one_and_equal_length() -> None:
    assert moving_average(arr(7, -3, 5), 1).tolist() == [7.0, -3.0, 5.0]
    assert moving_average(arr(7, -3, 5), 3).tolist() == [3.0]


def test_moving_average_short_and_empty() -> None:
    assert moving_average(arr(1, 2), 3).tolist() == []
    assert moving_average(arr(), 1).tolist() == []
    with pytest.raises(ValueError):
        moving_average(arr(1, 2), 0)


def test_moving_average_is_exact_on_large_values() -> None:
    big = 2**40
    vals = arr(big, big + 1, big + 2, big + 3, 1, 2)
    out = moving_average(vals, 3)
    assert out.tolist() == [(3 * big + 3) / 3, (3 * big + 6) / 3, (2 * big + 6) / 3, (big + 6) / 3]


def test_spike_indices_are_aligned_to_window_end() -> None:
    vals = arr(10, 10, 10, 100, 10, 10, 10)
    # window 3: means end at indices 2..6; index 3 mean is 40 -> |100-40| = 60
    assert spike_indices(vals, 3, 50.0) == [3]
    assert spike_indices(vals, 3, 59.9) == [3]
    assert spike_indices(vals, 3, 60.0) == []
    assert spike_indices(vals, 3, 29.0) == [3, 4, 5]
    assert spike_indices(arr(1, 2), 5, 0.0) == []


def test_find_excursions_runs_and_peaks() -> None:
    vals = arr(5, 0, -3, -3, 5, 5, 12, 15, 11, 5)
    found = find_excursions(vals, ts(len(vals)), low=2, high=10)
    assert [(e.start, e.stop, e.start_time, e.end_time, e.peak) for e in found] == [
        (1, 4, 101, 103, -3),
        (6, 9, 106, 108, 15),
    ]
    assert [e.length for e in found] == [3, 3]


def test_find_excursions_band_edges_are_inside() -> None:
    vals = arr(2, 10, 1, 11)
    found = find_excursions(vals, ts(4), low=2, high=10)
    assert [(e.start, e.stop, e.peak) for e in found] == [(2, 4, 1)]


def test_find_excursions_crossing_and_ties() -> None:
    # Below then above without a reading inside: one run; ties keep the first.
    vals = arr(5, -1, 11, 0, 5)
    found = find_excursions(vals, ts(5), low=0, high=10)
    assert [(e.start, e.stop, e.peak) for e in found] == [(1, 3, -1)]


def test_find_excursions_edges_of_series_and_min_length() -> None:
    vals = arr(50, 50, 5, 60)
    found = find_excursions(vals, ts(4), low=0, high=10)
    assert [(e.start, e.stop, e.peak) for e in found] == [(0, 2, 50), (3, 4, 60)]
    longer = find_excursions(vals, ts(4), low=0, high=10, min_length=2)
    assert [(e.start, e.stop) for e in longer] == [(0, 2)]
    assert find_excursions(arr(), ts(0), 0, 10) == []
    with pytest.raises(ValueError):
        find_excursions(vals, ts(4), low=11, high=10)


def test_summarise_report() -> None:
    series = SensorSeries.from_pairs("probe-\u00e9", [(t, v) for t, v in enumerate([1, 30, 2, 3])])
    report = summarise(series, window=2, low=0, high=10, spike_tolerance=10.0)
    assert report.sensor_id == "probe-\u00e9"
    assert (report.count, report.minimum, report.maximum) == (4, 1, 30)
    assert (report.smoothed_min, report.smoothed_max) == (2.5, 16.0)
    assert [(e.start, e.stop) for e in report.excursions] == [(1, 2)]
    assert report.spikes == (1, 2)
    assert report.seconds_outside == 0


def test_summarise_empty_series() -> None:
    series = SensorSeries.from_pairs("empty", [])
    report = summarise(series, window=3, low=0, high=10)
    assert report.count == 0
    assert report.smoothed_max is None
    assert report.excursions == () and report.spikes == ()


def test_series_validation_and_between() -> None:
    with pytest.raises(SeriesError):
        SensorSeries.from_pairs("bad", [(2, 1), (1, 1)])
    series = SensorSeries.from_pairs("s", [(10, 1), (20, 2), (30, 3)])
    assert series.between(15, 30).values.tolist() == [2]


def test_units() -> None:
    assert from_celsius(21.5) == 21_500
    assert to_fahrenheit(100_000) == 212.0
    assert format_reading(21_504) == "21.50 \u00b0C"
