"""Workload: daily reports for several temperature sensors sampled once per second."""

from __future__ import annotations

import os

import numpy as np

from sensorkit import SensorSeries, summarise

SERIES: list[SensorSeries] = []


def setup() -> None:
    """Build random-walk readings with occasional spikes and out-of-band drifts."""
    seed = int(os.environ.get("PERFSMITH_SEED", "0"))
    rng = np.random.default_rng(seed)
    SERIES.clear()
    for k in range(4):
        n = 12_000
        steps = rng.integers(-40, 41, size=n)
        drift = np.zeros(n, dtype=np.int64)
        for start in rng.integers(0, n - 400, size=12):
            drift[start : start + int(rng.integers(50, 400))] += int(rng.choice([-1, 1])) * 4000
        spikes = np.where(rng.random(n) < 0.01, rng.integers(-3000, 3001, size=n), 0)
        values = (21_000 + np.cumsum(steps) // 4 + drift + spikes).astype(np.int64)
        timestamps = 1_700_000_000 + np.arange(n, dtype=np.int64)
        SERIES.append(SensorSeries(f"probe-{k}", timestamps, values))


def workload() -> list[tuple[object, ...]]:
    """Summarise every series and return the reports as plain values."""
    out: list[tuple[object, ...]] = []
    for series in SERIES:
        r = summarise(series, window=60, low=18_000, high=24_000, spike_tolerance=1500.0)
        out.append(
            (
                r.sensor_id,
                r.count,
                r.minimum,
                r.maximum,
                None if r.smoothed_min is None else round(r.smoothed_min, 9),
                None if r.smoothed_max is None else round(r.smoothed_max, 9),
                [(e.start, e.stop, e.start_time, e.end_time, e.peak) for e in r.excursions],
                list(r.spikes),
                r.seconds_outside,
            )
        )
    return out
