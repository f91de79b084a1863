"""The roofline bound of gate 6: the least time one call can take on this machine.

A kernel task may declare the work one workload call must do (``cost`` in task.yaml:
floating-point operations and bytes of memory traffic). No code does that work faster
than the machine's peak arithmetic rate and memory bandwidth allow, so a candidate whose
median time per call is well below ``max(flops / peak_flops, bytes / bandwidth)`` did not
do the work inside the timed call: it left it to a detached thread, to the untimed setup of
the next call, or skipped it in a way the output checks missed. Such a gain is quarantined
(``perfsmith.measure.plausibility``).

The peaks are measured on all allowed CPUs (``perfsmith.measure.peaks``: BLAS matrix
products and a compiled multiply-add probe for the arithmetic, copy and read probes for the
bandwidth), each the best of several sources, because an underestimated peak would make
the bound wrong (too tight) while an overestimated one only loosens it. The bandwidth is
measured at the kernel's working-set size rounded down to a power of two: the size decides
which cache level answers, and a kernel's inputs were just written by the untimed setup,
so they may well be in cache.

Measurements are cached per machine fingerprint in ``roofline.json`` under perfsmith's
cache folder; a cached value is only ever replaced by a higher one. Before a candidate is
quarantined on cached peaks, they are measured again (``fresh=True``).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from perfsmith.measure import hardware
from perfsmith.measure.peaks import measure_peaks, numpy_module
from perfsmith.trajectory import atomic_write

__all__ = [
    "CACHE_NAME",
    "SLACK",
    "Peaks",
    "RooflineVerdict",
    "cache_path",
    "machine_key",
    "machine_peaks",
    "measure_peaks",
    "roofline_min_s",
    "roofline_verdict",
    "working_set_size",
]

# A candidate is implausible when its median time per call is below min_s / SLACK, i.e.
# when it claims more than twice the measured peak. Why twice and not once: the peaks are
# measured, not taken from a data sheet, and a measurement can fall short of what a kernel
# reaches (a busy neighbour on a shared machine, all-core against one-core clock speeds, a
# probe a few per cent short of the hardware's limit, a cache level the rounded working set
# does not quite hit). Every other error points the safe way: the declared work is a lower
# bound (an exp counts as one operation, fast algorithms are allowed for), and the timed
# call includes the workload's own overhead (the ctypes call, the output fingerprint). So a
# real kernel sits inside the roofline, and more than twice the peak is outside what the
# measurement errors explain. The cheats this gate is for, work moved out of the timed call,
# land several to a thousand times below the bound: on a large memory-bound task, a kernel
# that hands its work to a detached thread measures about four times below it here.
SLACK = 2.0
CACHE_NAME = "roofline.json"
CACHE_VERSION = 1
MIN_WORKING_SET = 1 << 12  # 4 KiB: smaller sets are measured as 4 KiB (a faster cache)
MAX_WORKING_SET = 1 << 28  # 256 MiB: larger sets are measured as 256 MiB (main memory)

Bound = Literal["compute", "memory", "none"]


# ------------------------------------------------------------------ the bound (pure)
def roofline_min_s(
    flops: float | None, bytes: float | None, peak_flops: float | None, bandwidth: float | None
) -> float:
    """The least time one call can take: ``max(flops / peak_flops, bytes / bandwidth)``.

    Args:
        flops: floating-point operations the call must do (None: not declared).
        bytes: bytes the call must move (None: not declared).
        peak_flops: the machine's peak, in operations per second (None: not measured).
        bandwidth: the machine's bandwidth at the call's working set, in bytes per second
            (None: not measured).

    Returns:
        Seconds; a term whose work or peak is None is left out (0.0 when both are).

    Raises:
        ValueError: a work value is negative, or a peak is not a positive finite number
            where its work is given.
    """
    terms = [0.0]
    for work, peak, what in ((flops, peak_flops, "flops"), (bytes, bandwidth, "bytes")):
        if work is None or peak is None:
            continue
        if not math.isfinite(work) or work < 0:
            raise ValueError(f"{what} must be a finite number >= 0, not {work}")
        if not math.isfinite(peak) or peak <= 0:
            raise ValueError(f"the peak for {what} must be a positive finite number, not {peak}")
        terms.append(work / peak)
    return max(terms)


@dataclass(frozen=True)
class RooflineVerdict:
    """A time per call held against the roofline.

    Attributes:
        plausible: False when ``time_s < min_s / slack``.
        time_s: the candidate's median seconds per call.
        min_s: the least time the declared work takes at the measured peaks.
        slack: how far below ``min_s`` a time may be before it is not believed.
        flops, bytes: the declared work (None: not declared).
        peak_flops, bandwidth: the peaks used (None: not measured or not needed).
    """

    plausible: bool
    time_s: float
    min_s: float
    slack: float
    flops: float | None
    bytes: float | None
    peak_flops: float | None
    bandwidth: float | None

    @property
    def fraction(self) -> float:
        """``min_s / time_s``: the share of the roofline reached (1.0 = at the bound)."""
        if self.min_s == 0:
            return 0.0
        return self.min_s / self.time_s if self.time_s > 0 else math.inf

    @property
    def bound(self) -> Bound:
        """Which term decides ``min_s``: ``compute``, ``memory`` or ``none``."""
        compute = _term(self.flops, self.peak_flops)
        memory = _term(self.bytes, self.bandwidth)
        if compute == memory == 0:
            return "none"
        return "compute" if compute >= memory else "memory"

    def work_text(self) -> str:
        """The deciding work and its peak, e.g. ``180 MFLOP at 530 GFLOP/s``."""
        if self.bound == "compute" and self.flops is not None and self.peak_flops is not None:
            return f"{_si(self.flops)}FLOP at {_si(self.peak_flops)}FLOP/s"
        if self.bound == "memory" and self.bytes is not None and self.bandwidth is not None:
            return f"{_si(self.bytes)}B at {_si(self.bandwidth)}B/s"
        return "no declared work"

    def note(self) -> str:
        """A short note for a kept candidate's latency metric."""
        return (
            f"{self.fraction:.0%} of the roofline (at least {_seconds(self.min_s)} per call: "
            f"{self.work_text()})"
        )

    def reason(self) -> str:
        """Why the time is not believed, with the numbers."""
        parts = []
        if self.flops and self.peak_flops:
            rate = self.flops / self.time_s if self.time_s > 0 else math.inf
            parts.append(
                f"{_si(rate)}FLOP/s against a measured peak of {_si(self.peak_flops)}FLOP/s"
            )
        if self.bytes and self.bandwidth:
            rate = self.bytes / self.time_s if self.time_s > 0 else math.inf
            parts.append(f"{_si(rate)}B/s against a measured {_si(self.bandwidth)}B/s")
        implied = " and ".join(parts)
        return (
            f"{_seconds(self.time_s)} per call is below what this machine can do: the call "
            f"must do at least {self.work_text()}, which takes {_seconds(self.min_s)}; "
            f"{_seconds(self.time_s)} would mean {implied}, {self.fraction:.1f}x the roofline "
            f"(more than {self.slack:g}x is not believed). Work that finishes outside the "
            "timed call (a detached thread, work left for the next call's setup) looks "
            "like this"
        )


def roofline_verdict(
    time_s: float,
    *,
    flops: float | None,
    bytes: float | None,
    peak_flops: float | None,
    bandwidth: float | None,
    slack: float = SLACK,
) -> RooflineVerdict:
    """Hold a measured time per call against the roofline.

    Args:
        time_s: the candidate's median seconds per call.
        flops: declared floating-point operations per call (None: not declared).
        bytes: declared bytes per call (None: not declared).
        peak_flops: measured peak operations per second (None: not measured).
        bandwidth: measured bytes per second at the working set (None: not measured).
        slack: a time is implausible below ``min_s / slack`` (>= 1).

    Returns:
        The verdict with every number it used.

    Raises:
        ValueError: ``slack`` < 1, ``time_s`` is negative or not finite, or
            ``roofline_min_s`` refuses the work or peaks.
    """
    if not slack >= 1:
        raise ValueError(f"slack must be >= 1, not {slack}")
    if not math.isfinite(time_s) or time_s < 0:
        raise ValueError(f"time_s must be a finite number >= 0, not {time_s}")
    min_s = roofline_min_s(flops, bytes, peak_flops, bandwidth)
    return RooflineVerdict(
        plausible=not time_s < min_s / slack,
        time_s=time_s,
        min_s=min_s,
        slack=slack,
        flops=flops,
        bytes=bytes,
        peak_flops=peak_flops,
        bandwidth=bandwidth,
    )


def working_set_size(nbytes: float) -> int:
    """The size at which bandwidth is measured: ``nbytes`` rounded down to a power of two.

    Rounding down errs on the safe side: a smaller set sits in a faster cache, so the
    measured bandwidth is at least the one at ``nbytes`` and the bound only gets looser.

    Args:
        nbytes: the kernel's working set (its declared bytes per call).

    Returns:
        A power of two between ``MIN_WORKING_SET`` and ``MAX_WORKING_SET``.
    """
    if not math.isfinite(nbytes) or nbytes < MIN_WORKING_SET:
        return MIN_WORKING_SET if not math.isinf(nbytes) else MAX_WORKING_SET
    return min(1 << (int(nbytes).bit_length() - 1), MAX_WORKING_SET)


def _term(work: float | None, peak: float | None) -> float:
    return work / peak if work is not None and peak else 0.0


def _si(value: float) -> str:
    """``1.8e8`` -> ``180 M`` (followed by the unit)."""
    if not math.isfinite(value):
        return "infinite "
    for factor, prefix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g} {prefix}"
    return f"{value:.3g} "


def _seconds(value: float) -> str:
    if value >= 1:
        return f"{value:.3g} s"
    if value >= 1e-3:
        return f"{value * 1e3:.3g} ms"
    if value >= 1e-6:
        return f"{value * 1e6:.3g} µs"
    return f"{value * 1e9:.3g} ns"


# ------------------------------------------------------------------ peaks and their cache
@dataclass(frozen=True)
class Peaks:
    """The machine's measured peaks (None where nothing could measure them).

    Attributes:
        flops_per_s: peak floating-point operations per second, all allowed CPUs.
        bytes_per_s: bandwidth at ``working_set`` (None when no working set was asked).
        working_set: the size, in bytes, at which the bandwidth was measured.
        sources: each measurement by name (``fma probe``, ``numpy matmul float32``,
            ``read probe``...), so a report can say where a peak came from.
        cached: the values came from the cache file, not from a measurement just now.
    """

    flops_per_s: float | None
    bytes_per_s: float | None
    working_set: int | None
    sources: Mapping[str, float] = field(default_factory=dict)
    cached: bool = False


def cache_path() -> Path:
    """``roofline.json`` in perfsmith's cache folder (``$PERFSMITH_CACHE`` or its default)."""
    from perfsmith.kernels.mode import cache_root  # the one definition of the cache folder

    return cache_root() / CACHE_NAME


def machine_key(fingerprint: Mapping[str, Any], numpy_version: str | None) -> str:
    """The cache key of a machine: its fingerprint (without ``id``) and NumPy's version.

    NumPy's version is part of it because its BLAS is one of the measurements.

    Args:
        fingerprint: ``hardware.fingerprint()``'s dict.
        numpy_version: ``numpy.__version__``, or None where NumPy is missing.

    Returns:
        16 hex digits.
    """
    data = {k: v for k, v in fingerprint.items() if k != "id"}
    data["numpy"] = numpy_version or "none"
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


@functools.cache
def _this_machine() -> tuple[str, dict[str, Any]]:
    np = numpy_module()
    fp = dict(hardware.fingerprint(python=sys.executable, sandbox="host"))
    return machine_key(fp, None if np is None else str(np.__version__)), fp


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {"version": CACHE_VERSION, "machines": {}}
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
        return {"version": CACHE_VERSION, "machines": {}}
    if not isinstance(data.get("machines"), dict):
        data["machines"] = {}
    return data


def _numbers(raw: Any) -> dict[str, float]:
    if not isinstance(raw, dict):
        return {}
    return {
        str(k): float(v)
        for k, v in raw.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v > 0
    }


def _best_of(old: Mapping[str, float], new: Mapping[str, float]) -> dict[str, float]:
    """Merge two measurement sets, keeping the higher value of each source."""
    out = dict(old)
    for name, value in new.items():
        out[name] = max(value, out.get(name, 0.0))
    return out


def machine_peaks(
    nbytes: float | None = None,
    *,
    fresh: bool = False,
    path: Path | None = None,
) -> Peaks:
    """This machine's peaks, from the cache or measured (and then cached).

    Args:
        nbytes: the kernel's working set in bytes; None when no bandwidth is needed.
        fresh: measure again even where the cache has values (the new values are merged
            with the cached ones, keeping the higher of each).
        path: the cache file (default: ``cache_path()``).

    Returns:
        The peaks; ``cached`` says whether nothing was measured just now.
    """
    path = path or cache_path()
    key, fp = _this_machine()
    data = _load(path)
    entry = data["machines"].get(key)
    entry = entry if isinstance(entry, dict) else {}
    ws = None if nbytes is None else working_set_size(nbytes)
    flops = _numbers(entry.get("flops"))
    raw = entry.get("bandwidth")
    bandwidths: dict[str, Any] = raw if isinstance(raw, dict) else {}
    bandwidth = _numbers(bandwidths.get(str(ws))) if ws is not None else {}
    need_flops = fresh or not flops
    need_bandwidth = ws is not None and (fresh or not bandwidth)
    if need_flops or need_bandwidth:
        measured = measure_peaks(ws if need_bandwidth else None, flops=need_flops)
        flops = _best_of(flops, _numbers(measured.get("flops")))
        if ws is not None:
            bandwidth = _best_of(bandwidth, _numbers(measured.get("bandwidth")))
        _store(path, key, fp, flops, ws, bandwidth)
    sources = {**flops, **bandwidth}
    return Peaks(
        flops_per_s=max(flops.values(), default=None),
        bytes_per_s=max(bandwidth.values(), default=None),
        working_set=ws,
        sources=sources,
        cached=not (need_flops or need_bandwidth),
    )


def _store(
    path: Path,
    key: str,
    fp: Mapping[str, Any],
    flops: Mapping[str, float],
    ws: int | None,
    bandwidth: Mapping[str, float],
) -> None:
    """Merge new values into the cache file (re-read first: another process may have
    written meanwhile), keeping the higher value of each source, and write it atomically."""
    latest = _load(path)
    old = latest["machines"].get(key)
    old = old if isinstance(old, dict) else {}
    raw = old.get("bandwidth")
    bandwidths: dict[str, Any] = dict(raw) if isinstance(raw, dict) else {}
    if ws is not None:
        bandwidths[str(ws)] = _best_of(_numbers(bandwidths.get(str(ws))), bandwidth)
    latest["machines"][key] = {
        "fingerprint": dict(fp),
        "flops": _best_of(_numbers(old.get("flops")), flops),
        "bandwidth": bandwidths,
    }
    with contextlib.suppress(OSError):  # an unwritable cache only costs a measurement
        atomic_write(path, json.dumps(latest, indent=1, sort_keys=True) + "\n")
