"""Reference for kernels-lite__stencil: one 5-point Jacobi step in float64."""

from __future__ import annotations

import numpy as np


def make_inputs(rng: np.random.Generator, rows: int, cols: int) -> dict[str, np.ndarray]:
    """A grid x (rows×cols) of standard normal values."""
    return {"x": rng.standard_normal((rows, cols), dtype=np.float32)}


def reference(x: np.ndarray, rows: int, cols: int) -> dict[str, np.ndarray]:
    """Interior points: the mean of the four neighbours; boundary rows and columns: copied."""
    z = x.astype(np.float64)
    out = z.copy()
    if rows > 2 and cols > 2:
        out[1:-1, 1:-1] = 0.25 * (z[:-2, 1:-1] + z[2:, 1:-1] + z[1:-1, :-2] + z[1:-1, 2:])
    return {"out": out}
