"""Reference for kernels-lite__reduction: the sum of a float32 vector, in float64."""

from __future__ import annotations

import numpy as np


def make_inputs(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """x (n), normal with mean 1 and standard deviation 1, so the sum grows like n."""
    return {"x": (rng.standard_normal(n, dtype=np.float32) + np.float32(1.0))}


def reference(x: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """out[0] = sum of x, accumulated in float64."""
    return {"out": np.array([x.astype(np.float64).sum()])}
