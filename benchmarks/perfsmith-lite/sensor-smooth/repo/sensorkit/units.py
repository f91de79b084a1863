"""Conversions between the integer storage unit and human units."""

from __future__ import annotations

MILLI = 1000


def to_celsius(millidegrees: int) -> float:
    """Millidegrees Celsius to degrees Celsius."""
    return millidegrees / MILLI


def from_celsius(celsius: float) -> int:
    """Degrees Celsius to millidegrees, rounded to the nearest integer."""
    return int(round(celsius * MILLI))


def to_fahrenheit(millidegrees: int) -> float:
    """Millidegrees Celsius to degrees Fahrenheit."""
    return millidegrees * 9 / (5 * MILLI) + 32.0


def format_reading(millidegrees: int) -> str:
    """A short label such as '21.50 °C'."""
    return f"{to_celsius(millidegrees):.2f} \u00b0C"
