"""Reference for kernels-lite__softmax: row-wise softmax in float64."""

from __future__ import annotations

import numpy as np


def make_inputs(rng: np.random.Generator, rows: int, cols: int) -> dict[str, np.ndarray]:
    """Logits x (rows×cols), standard normal."""
    return {"x": rng.standard_normal((rows, cols), dtype=np.float32)}


def reference(x: np.ndarray, rows: int, cols: int) -> dict[str, np.ndarray]:
    """out[r, c] = exp(x[r, c]) / sum over c' of exp(x[r, c']), in float64."""
    z = x.astype(np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return {"out": e / e.sum(axis=1, keepdims=True)}
