"""One summary per series."""

from __future__ import annotations

from dataclasses import dataclass

from sensorkit.excursions import Excursion, find_excursions
from sensorkit.series import SensorSeries
from sensorkit.smoothing import moving_average, spike_indices


@dataclass(frozen=True)
class SeriesReport:
    """Summary of one sensor's readings.

    Attributes:
        sensor_id: The sensor.
        count: Number of readings.
        minimum: Lowest reading (0 when empty).
        maximum: Highest reading (0 when empty).
        smoothed_min: Lowest moving average (None when the series is shorter than the window).
        smoothed_max: Highest moving average (None when the series is shorter than the window).
        excursions: Runs outside the band.
        spikes: Indices of readings far from their trailing mean.
    """

    sensor_id: str
    count: int
    minimum: int
    maximum: int
    smoothed_min: float | None
    smoothed_max: float | None
    excursions: tuple[Excursion, ...]
    spikes: tuple[int, ...]

    @property
    def seconds_outside(self) -> int:
        """Total duration of the excursions, first to last reading of each run."""
        return sum(e.end_time - e.start_time for e in self.excursions)


def summarise(
    series: SensorSeries,
    window: int,
    low: int,
    high: int,
    spike_tolerance: float = 1500.0,
    min_excursion: int = 1,
) -> SeriesReport:
    """Summarise one series.

    Args:
        series: The readings.
        window: Moving-average window, in readings.
        low: Lowest allowed reading of the band (millidegrees).
        high: Highest allowed reading of the band (millidegrees).
        spike_tolerance: Distance from the trailing mean that makes a spike (millidegrees).
        min_excursion: Shortest run, in readings, reported as an excursion.

    Returns:
        The report.
    """
    values = series.values
    smoothed = moving_average(values, window)
    return SeriesReport(
        sensor_id=series.sensor_id,
        count=len(series),
        minimum=int(values.min()) if len(values) else 0,
        maximum=int(values.max()) if len(values) else 0,
        smoothed_min=float(smoothed.min()) if len(smoothed) else None,
        smoothed_max=float(smoothed.max()) if len(smoothed) else None,
        excursions=tuple(
            find_excursions(values, series.timestamps, low, high, min_length=min_excursion)
        ),
        spikes=tuple(spike_indices(values, window, spike_tolerance)),
    )
