"""Reference for kernels-lite__histogram: counts of each byte value (exact)."""

from __future__ import annotations

import numpy as np


def _levels() -> np.ndarray:
    """The byte value for each 16-bit uniform draw: the background level 12 for 35 % of
    draws, the rest a triangular spread over 0..180 that peaks at 90 (inverse CDF)."""
    u = np.arange(65536)
    q = (u + 0.5) / 65536
    background = q < 0.35
    r = (q - 0.35) / 0.65
    tri = np.where(
        r < 0.5, 180.0 * np.sqrt(np.clip(r, 0, 1) / 2), 180.0 * (1 - np.sqrt((1 - r) / 2))
    )
    return np.where(background, 12, np.rint(tri)).astype(np.uint8)


def make_inputs(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """x (n) of uint8 values like a dim grayscale image: a dark background level (12) on
    about a third of the pixels, the rest spread over 0..180 with a peak at 90."""
    draws = np.frombuffer(rng.bytes(2 * n), dtype=np.uint16)
    return {"x": _levels()[draws]}


def reference(x: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """out[v] = the number of i with x[i] == v, for v in 0 .. 255."""
    return {"out": np.bincount(x, minlength=256).astype(np.uint32)}
