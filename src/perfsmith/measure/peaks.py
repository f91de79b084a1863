"""Measure this machine's peaks for the roofline: arithmetic rate and memory bandwidth.

``perfsmith.measure.roofline`` holds a time per call against these numbers, and an
underestimated peak would make its bound wrong (too tight) while an overestimated one
only loosens it, so every peak is the best of several measurements from several sources,
on all allowed CPUs:

- arithmetic: NumPy float32 and float64 matrix products through its BLAS (its own
  threads), and a compiled probe of independent fused multiply-add chains (``cc -O3
  -march=native``, as kernels are built) on one thread, times the number of CPUs. The
  probe matters: a BLAS built for an older instruction set (OpenBLAS picks AVX2 kernels on
  some AVX-512 machines) reaches half of what a kernel compiled for the machine can;
- bandwidth at a working-set size: NumPy's ``copyto`` between two arrays of half that size,
  and compiled read and copy probes on one thread and on one thread per CPU.

NumPy and a C compiler are both optional: a source that cannot run here is left out.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import importlib
import math
import os
import shlex
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["measure_peaks", "numpy_module"]

_TARGET_BYTES = 1 << 24  # one timed bandwidth run moves at least this much
_REPEATS = 5  # best of
_MATMUL_N = 1024
_FMA_ITERS = 1 << 20
_FMA_CHAINS = 10  # independent chains: enough to cover the FMA latency on current cores
_VECTOR_BYTES = (16, 32, 64)  # the probe's vector widths; the best one counts
_COMPILE_TIMEOUT_S = 60


def numpy_module() -> Any:
    """NumPy, or None where it is not installed (it is not one of perfsmith's dependencies)."""
    try:
        return importlib.import_module("numpy")
    except ImportError:
        return None


def measure_peaks(working_set: int | None, *, flops: bool = True) -> dict[str, dict[str, float]]:
    """Measure the peaks now (about a second, more for large working sets).

    Args:
        working_set: bytes at which to measure the bandwidth (None: no bandwidth).
        flops: measure the arithmetic peak.

    Returns:
        ``{"flops": {source: FLOP/s}, "bandwidth": {source: B/s}}``; a source that cannot
        run here (no NumPy, no C compiler) is missing.
    """
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cpus = max(1, int(cpus or 1))
    flops_found: dict[str, float] = {}
    bandwidth_found: dict[str, float] = {}
    np = numpy_module()
    with _Probe.build() as probe:
        jobs: list[tuple[dict[str, float], Callable[[], Mapping[str, float]]]] = []
        if flops and np is not None:
            jobs.append((flops_found, lambda: _numpy_matmul(np)))
        if flops and probe is not None:
            jobs.append((flops_found, lambda: {"fma probe": probe.fma_per_core() * cpus}))
        if working_set is not None and np is not None:
            jobs.append((bandwidth_found, lambda: {"numpy copy": _numpy_copy(np, working_set)}))
        if working_set is not None and probe is not None:
            jobs.append((bandwidth_found, lambda: probe.bandwidth(working_set, cpus)))
        for found, job in jobs:
            try:
                found.update(job())
            except (MemoryError, OSError, ValueError):  # a source that cannot run here
                continue
    return {
        key: {n: v for n, v in found.items() if math.isfinite(v) and v > 0}
        for key, found in (("flops", flops_found), ("bandwidth", bandwidth_found))
    }


def _best_time(run: Callable[[], object], repeats: int = _REPEATS) -> float:
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
    return best


def _numpy_matmul(np: Any) -> dict[str, float]:
    """Float32 and float64 matrix products through NumPy's BLAS (its own threads)."""
    out = {}
    n = _MATMUL_N
    for dtype in ("float32", "float64"):
        a = np.ones((n, n), dtype=dtype) * 0.5
        b = np.ones((n, n), dtype=dtype) * 0.25
        c = np.empty((n, n), dtype=dtype)
        np.matmul(a, b, out=c)
        seconds = _best_time(functools.partial(np.matmul, a, b, out=c))
        out[f"numpy matmul {dtype}"] = 2.0 * n**3 / seconds
    return out


def _numpy_copy(np: Any, working_set: int) -> float:
    """``np.copyto`` between two arrays of half the working set each (bytes moved / s)."""
    half = max(working_set // 2, 8)
    src = np.ones(half, dtype=np.uint8)
    dst = np.zeros(half, dtype=np.uint8)
    inner = max(1, _TARGET_BYTES // working_set)

    def run() -> None:
        for _ in range(inner):
            np.copyto(dst, src)

    run()
    return 2.0 * half * inner / _best_time(run)


# The compiled probe: independent FMA chains, a streaming read and a copy, once per vector
# width (the widest one the machine runs at full speed wins). GNU C vector types keep it
# free of intrinsics, so it builds on any target GCC or Clang supports.
_PROBE_C = r"""
#include <stdint.h>
#include <string.h>
#define PROBE(W)                                                                         \
typedef float f##W __attribute__((vector_size(W)));                                      \
double fma_##W(int64_t iters, float seed) {                                              \
    f##W acc[CHAINS], m, a;                                                               \
    for (int i = 0; i < W / 4; i++) { m[i] = 0.9999999f; a[i] = seed * 1e-7f; }          \
    for (int k = 0; k < CHAINS; k++)                                                      \
        for (int i = 0; i < W / 4; i++) acc[k][i] = seed + (float)k;                      \
    for (int64_t t = 0; t < iters; t++)                                                  \
        for (int k = 0; k < CHAINS; k++) acc[k] = acc[k] * m + a;                         \
    double r = 0;                                                                        \
    for (int k = 0; k < CHAINS; k++) for (int i = 0; i < W / 4; i++) r += acc[k][i];      \
    return r;                                                                            \
}                                                                                        \
double read_##W(const char *p, int64_t bytes, int64_t reps) {                            \
    f##W acc[8];                                                                         \
    memset(acc, 0, sizeof acc);                                                          \
    int64_t step = 8 * W, end = bytes / step * step;                                     \
    for (int64_t r = 0; r < reps; r++)                                                   \
        for (int64_t i = 0; i < end; i += step)                                          \
            for (int k = 0; k < 8; k++) {                                                \
                f##W v; memcpy(&v, p + i + k * W, W); acc[k] += v;                       \
            }                                                                            \
    double r = 0;                                                                        \
    for (int k = 0; k < 8; k++) for (int i = 0; i < W / 4; i++) r += acc[k][i];          \
    return r;                                                                            \
}
PROBE(16)
PROBE(32)
PROBE(64)
void copy_bytes(char *dst, const char *src, int64_t bytes, int64_t reps) {
    for (int64_t r = 0; r < reps; r++) {
        memcpy(dst, src, (size_t)bytes);
        __asm__ __volatile__("" ::: "memory");  /* every repetition copies */
    }
}
"""


def _compiler() -> list[str] | None:
    explicit = os.environ.get("CC", "").strip()
    if explicit:
        return shlex.split(explicit)
    for name in ("cc", "gcc", "clang"):
        if shutil.which(name):
            return [name]
    return None


class _Probe:
    """The compiled probe, loaded from a temporary folder (None where no compiler works)."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self.lib = lib
        for width in _VECTOR_BYTES:
            fma = getattr(lib, f"fma_{width}")
            fma.restype, fma.argtypes = ctypes.c_double, [ctypes.c_int64, ctypes.c_float]
            read = getattr(lib, f"read_{width}")
            read.restype = ctypes.c_double
            read.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64]
        lib.copy_bytes.restype = None
        lib.copy_bytes.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64]

    @staticmethod
    @contextlib.contextmanager
    def build() -> Any:
        cc = _compiler()
        if cc is None:
            yield None
            return
        with tempfile.TemporaryDirectory(prefix="perfsmith-roofline-") as tmp:
            src, lib = Path(tmp) / "probe.c", Path(tmp) / "probe.so"
            src.write_text(_PROBE_C, encoding="utf-8")
            argv = [*cc, "-O3", "-march=native", "-ffp-contract=fast", "-std=gnu11", "-fPIC",
                    "-shared", f"-DCHAINS={_FMA_CHAINS}", str(src), "-o", str(lib)]  # fmt: skip
            try:
                done = subprocess.run(
                    argv, capture_output=True, timeout=_COMPILE_TIMEOUT_S, check=False
                )
                loaded = ctypes.CDLL(str(lib)) if done.returncode == 0 else None
            except (OSError, subprocess.TimeoutExpired):
                loaded = None
            yield None if loaded is None else _Probe(loaded)

    def fma_per_core(self) -> float:
        """The best FMA rate of one thread, in FLOP/s."""
        best = 0.0
        for width in _VECTOR_BYTES:
            fma = getattr(self.lib, f"fma_{width}")
            fma(_FMA_ITERS // 16, 1.0)
            seconds = _best_time(functools.partial(fma, _FMA_ITERS, 1.0))
            best = max(best, _FMA_ITERS * _FMA_CHAINS * (width // 4) * 2 / seconds)
        return best

    def bandwidth(self, working_set: int, cpus: int) -> dict[str, float]:
        """Read and copy rates at ``working_set`` bytes, on one thread and on ``cpus``."""
        buf = ctypes.create_string_buffer(working_set)
        ctypes.memset(buf, 1, working_set)  # touched: untouched pages would read as one page
        base = ctypes.addressof(buf)
        inner = max(1, _TARGET_BYTES // working_set)
        half = working_set // 2

        def copy(lo: int, size: int) -> None:
            # The first half is the source, the second the destination: ``size`` bytes
            # move (read size / 2, write size / 2).
            self.lib.copy_bytes(base + half + lo // 2, base + lo // 2, size // 2, inner)

        def reader(width: int) -> Callable[[int, int], object]:
            read = getattr(self.lib, f"read_{width}")

            def run(lo: int, size: int) -> object:
                return read(base + lo, size, inner)

            return run

        out = {"read probe": 0.0, "copy probe": 0.0}
        for threads in sorted({1, cpus}):
            for width in _VECTOR_BYTES:
                rate = _threaded(threads, working_set, reader(width), inner)
                out["read probe"] = max(out["read probe"], rate)
            out["copy probe"] = max(out["copy probe"], _threaded(threads, working_set, copy, inner))
        return out


def _threaded(threads: int, total: int, run: Callable[[int, int], object], inner: int) -> float:
    """Bytes per second of ``run`` on ``threads`` threads, each on its share of ``total``.

    Every repetition starts all threads together (a barrier); each thread keeps its best
    time, and the rate is the sum of the threads' best rates. Where the threads did not
    overlap fully that sum is higher than what they reach together, which errs on the
    safe side (a looser bound).
    """
    # At least 512 bytes (8 of the widest vectors) per thread, so that no share runs past
    # the buffer and every share is one the probes really read.
    threads = max(1, min(threads, total // 512))
    share = max(64, total // threads // 64 * 64)
    barrier = threading.Barrier(threads)
    best = [math.inf] * threads

    def worker(i: int) -> None:
        lo = i * share
        run(lo, share)  # warm: the share's lines come into this CPU's caches
        for _ in range(_REPEATS):
            barrier.wait()
            t0 = time.perf_counter()
            run(lo, share)
            best[i] = min(best[i], time.perf_counter() - t0)

    if threads == 1:
        worker(0)
    else:
        pool = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
    return sum(share * inner / t for t in best if t > 0)
