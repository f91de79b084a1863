"""Reference for kernels-lite__matmul: C = A·B in float64."""

from __future__ import annotations

import numpy as np


def make_inputs(rng: np.random.Generator, m: int, n: int, k: int) -> dict[str, np.ndarray]:
    """A (m×k) and B (k×n), uniform in [-1, 1)."""
    a = rng.uniform(-1.0, 1.0, (m, k)).astype(np.float32)
    b = rng.uniform(-1.0, 1.0, (k, n)).astype(np.float32)
    return {"a": a, "b": b}


def reference(a: np.ndarray, b: np.ndarray, m: int, n: int, k: int) -> dict[str, np.ndarray]:
    """C (m×n) = A·B, accumulated in float64."""
    return {"c": a.astype(np.float64) @ b.astype(np.float64)}
