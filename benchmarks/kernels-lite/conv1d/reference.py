"""Reference for kernels-lite__conv1d: valid 1-D convolution in float64."""

from __future__ import annotations

import numpy as np


def make_inputs(rng: np.random.Generator, n: int, k: int) -> dict[str, np.ndarray]:
    """A standard normal signal x (n) and filter w (k) scaled by 1/sqrt(k), so outputs are O(1)."""
    x = rng.standard_normal(n, dtype=np.float32)
    w = (rng.standard_normal(k) / np.sqrt(k)).astype(np.float32)
    return {"x": x, "w": w}


def reference(x: np.ndarray, w: np.ndarray, n: int, k: int) -> dict[str, np.ndarray]:
    """out[i] = sum over j of x[i + j] * w[k - 1 - j], for i in 0 .. n - k."""
    return {"out": np.convolve(x.astype(np.float64), w.astype(np.float64), mode="valid")}
