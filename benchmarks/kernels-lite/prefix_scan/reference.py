"""Reference for kernels-lite__prefix_scan: inclusive int64 prefix sum (exact)."""

from __future__ import annotations

import numpy as np


def make_inputs(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """x (n) of int64 values in [-1000, 1000]."""
    return {"x": rng.integers(-1000, 1001, size=n, dtype=np.int64)}


def reference(x: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """out[i] = x[0] + x[1] + ... + x[i]."""
    return {"out": np.cumsum(x, dtype=np.int64)}
