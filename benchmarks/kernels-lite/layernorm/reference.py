"""Reference for kernels-lite__layernorm: row-wise layer normalisation in float64."""

from __future__ import annotations

import numpy as np


def make_inputs(rng: np.random.Generator, rows: int, cols: int) -> dict[str, np.ndarray]:
    """Activations x (rows×cols) with a non-zero mean; per-column gamma near 1, beta near 0."""
    x = rng.standard_normal((rows, cols), dtype=np.float32) * np.float32(2.0) + np.float32(0.5)
    gamma = (1.0 + 0.1 * rng.standard_normal(cols)).astype(np.float32)
    beta = (0.1 * rng.standard_normal(cols)).astype(np.float32)
    return {"x": x, "gamma": gamma, "beta": beta}


def reference(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    rows: int,
    cols: int,
    eps: float = 1.0e-5,
) -> dict[str, np.ndarray]:
    """out = (x - mean) / sqrt(var + eps) * gamma + beta per row (biased variance)."""
    z = x.astype(np.float64)
    mean = z.mean(axis=1, keepdims=True)
    var = ((z - mean) ** 2).mean(axis=1, keepdims=True)
    # eps is a float32 argument of the kernel, so the reference uses the same float32 value.
    e = float(np.float32(eps))
    y = (z - mean) / np.sqrt(var + e)
    return {"out": y * gamma.astype(np.float64) + beta.astype(np.float64)}
