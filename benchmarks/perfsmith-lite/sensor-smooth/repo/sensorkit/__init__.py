"""Smoothing, excursion detection and reports for sensor time series."""

from sensorkit.excursions import Excursion, find_excursions
from sensorkit.report import SeriesReport, summarise
from sensorkit.series import SensorSeries
from sensorkit.smoothing import moving_average, spike_indices

__all__ = [
    "Excursion",
    "SensorSeries",
    "SeriesReport",
    "find_excursions",
    "moving_average",
    "spike_indices",
    "summarise",
]
