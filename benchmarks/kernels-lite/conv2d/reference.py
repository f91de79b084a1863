"""Reference for kernels-lite__conv2d: valid 2-D convolution in float64."""

from __future__ import annotations

import numpy as np


def make_inputs(
    rng: np.random.Generator, h: int, w: int, kh: int, kw: int
) -> dict[str, np.ndarray]:
    """A standard normal image x (h×w) and filter f (kh×kw) scaled by 1/sqrt(kh·kw)."""
    x = rng.standard_normal((h, w), dtype=np.float32)
    f = (rng.standard_normal((kh, kw)) / np.sqrt(kh * kw)).astype(np.float32)
    return {"x": x, "f": f}


def reference(
    x: np.ndarray, f: np.ndarray, h: int, w: int, kh: int, kw: int
) -> dict[str, np.ndarray]:
    """out[i, j] = sum over a, b of x[i + a, j + b] * f[kh - 1 - a, kw - 1 - b]."""
    x64 = x.astype(np.float64)
    flipped = f.astype(np.float64)[::-1, ::-1]
    oh, ow = h - kh + 1, w - kw + 1
    out = np.zeros((oh, ow))
    for a in range(kh):
        for b in range(kw):
            out += flipped[a, b] * x64[a : a + oh, b : b + ow]
    return {"out": out}
