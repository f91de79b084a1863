"""Pure statistics for timing samples: medians, bootstrap intervals, decisions.

Nothing here does I/O. Speedup is ``median(baseline) / median(candidate)`` (or, on
request, the ratio of the mean per-process medians), so values above 1 mean the
candidate is faster.

Two bootstraps are offered. ``bootstrap_ratio`` resamples individual samples, which
is right when every sample comes from its own process. ``bootstrap_ratio_runs``
resamples whole runs (one run = the values of one worker process) and pools the
values of the chosen runs: on machines where a process runs at one of two speeds,
values from the same process are not independent, and treating them as independent
would give intervals that are too narrow and claim gains that are not there.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from perfsmith.core import Interval
from perfsmith.measure.ranks import hodges_lehmann_ratio, mann_whitney_p

__all__ = [
    "SpeedupDecision",
    "bootstrap_ratio",
    "bootstrap_ratio_runs",
    "can_decide",
    "classify",
    "decide",
    "decide_runs",
    "hodges_lehmann_ratio",
    "mann_whitney_p",
    "median",
    "min_p_value",
    "noise_floor",
    "relative_spread",
    "threshold_for",
]

Center = Literal["median", "run_medians", "hodges_lehmann"]
CENTERS: tuple[Center, ...] = ("median", "run_medians", "hodges_lehmann")
DEFAULT_N_BOOT = 5000  # ~0.1 s for 50 samples per side in pure Python (measured)


@dataclass(frozen=True)
class SpeedupDecision:
    """What a speedup interval means against the minimum gain.

    Attributes:
        interval: Bootstrap interval of ``median(baseline) / median(candidate)``.
        threshold: ``1 + max(min_gain, noise)``; the interval's low end must exceed it.
        significant: The candidate is faster: ``interval.low > threshold``.
        slower: The candidate is slower beyond doubt: ``interval.high < 1 / threshold``.
            The bar is symmetric on purpose: on a machine where a process runs at
            one of two speeds, an identical candidate measured in few processes
            lands entirely below 1 far more often than the confidence promises,
            so "slower" needs the same margin as "faster".
        decidable: Whether this many independent samples can reach the confidence
            at all (see ``min_p_value``); when not, neither flag is ever set.
        p_value: Two-sided Mann-Whitney p-value of the independent samples (one per
            process); 1.0 where not computed.
    """

    interval: Interval
    threshold: float
    significant: bool
    slower: bool
    decidable: bool = True
    p_value: float = 1.0

    @property
    def settled(self) -> bool:
        """Whether more samples would hardly change the verdict: significantly faster,
        significantly slower, or confidently below the bar (``interval.high < threshold``)."""
        return self.decidable and (
            self.significant or self.slower or self.interval.high < self.threshold
        )


def _check_samples(samples: Sequence[float], what: str) -> None:
    if not samples:
        raise ValueError(f"{what}: no samples")
    for x in samples:
        # ``not x > 0`` also catches NaN.
        if not x > 0 or math.isinf(x):
            raise ValueError(f"{what}: timing samples must be positive and finite, got {x!r}")


def median(samples: Sequence[float]) -> float:
    """Return the median (the mean of the two middle values for an even count).

    Raises:
        ValueError: If ``samples`` is empty.
    """
    if not samples:
        raise ValueError("median of no samples")
    s = sorted(samples)
    n = len(s)
    mid = n // 2
    return s[mid] if n % 2 else (s[mid - 1] + s[mid]) / 2


def _median_sorted(s: list[float]) -> float:
    n = len(s)
    mid = n // 2
    return s[mid] if n % 2 else (s[mid - 1] + s[mid]) / 2


def _quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between order statistics (numpy's default method)."""
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    frac = pos - lo
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac


def relative_spread(samples: Sequence[float]) -> float:
    """Return the median absolute deviation divided by the median.

    A robust "± x%" for reports: one slow outlier barely moves it. One sample has
    a spread of 0.

    Raises:
        ValueError: If there are no samples or one is not positive.
    """
    _check_samples(samples, "relative_spread")
    m = median(samples)
    return median([abs(x - m) for x in samples]) / m


def _check_confidence(confidence: float, n_boot: int) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}")


def _percentile_interval(ratios: list[float], estimate: float, confidence: float) -> Interval:
    ratios.sort()
    alpha = (1 - confidence) / 2
    low = _quantile(ratios, alpha)
    high = _quantile(ratios, 1 - alpha)
    # Keep the point estimate inside its interval even for tiny, lopsided samples.
    return Interval(
        estimate=estimate,
        low=min(low, estimate),
        high=max(high, estimate),
        confidence=confidence,
    )


def bootstrap_ratio(
    baseline: Sequence[float],
    candidate: Sequence[float],
    *,
    confidence: float = 0.95,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = 0,
) -> Interval:
    """Percentile-bootstrap interval of ``median(baseline) / median(candidate)``.

    Both sides are resampled independently, with replacement. The result depends
    only on the inputs and ``seed``.

    Args:
        baseline: Seconds per call of the baseline, one value per sample.
        candidate: Seconds per call of the candidate.
        confidence: Two-sided coverage of the interval.
        n_boot: Number of resamples.
        seed: Seed of the private random generator.

    Returns:
        The speedup estimate with its interval.

    Raises:
        ValueError: If a side has fewer than 2 samples (one sample says nothing
            about spread, so no interval exists), or a sample is not positive.
    """
    return bootstrap_ratio_runs(
        [[x] for x in baseline],
        [[x] for x in candidate],
        confidence=confidence,
        n_boot=n_boot,
        seed=seed,
    )


def bootstrap_ratio_runs(
    baseline_runs: Sequence[Sequence[float]],
    candidate_runs: Sequence[Sequence[float]],
    *,
    confidence: float = 0.95,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = 0,
    center: Center = "median",
) -> Interval:
    """Cluster-bootstrap interval of the speedup, resampling whole runs.

    Each resample draws as many runs as there are, with replacement, and takes the
    center of each side. With one value per run and ``center="median"`` this is
    ``bootstrap_ratio``.

    Args:
        baseline_runs: The baseline's values, one inner sequence per process.
        candidate_runs: The candidate's values, one inner sequence per process.
        confidence: Two-sided coverage of the interval.
        n_boot: Number of resamples.
        seed: Seed of the private random generator.
        center: ``"median"``: the median of all values of the chosen runs.
            ``"run_medians"``: the mean of the runs' own medians. When each process
            runs at one of two speeds, the pooled median jumps between the two and
            the second is much steadier (in a simulation of a 50/50 two-speed
            machine it found a 1.3x gain about 2.5 times as often, with 6 runs and
            a similar A/A false-positive rate).

    Returns:
        The speedup estimate (ratio of the centers of all runs) with its interval.

    Raises:
        ValueError: If a side has fewer than 2 runs, a run is empty, or a value is
            not positive and finite.
    """
    _check_confidence(confidence, n_boot)
    for what, runs in (("baseline", baseline_runs), ("candidate", candidate_runs)):
        if len(runs) < 2:
            raise ValueError(
                f"{what}: need at least 2 independent samples for an interval, got {len(runs)}"
            )
        for run in runs:
            _check_samples(run, what)
    rng = random.Random(seed)
    choices = rng.choices
    kb, kc = len(baseline_runs), len(candidate_runs)
    ratios: list[float] = []
    if center == "run_medians":
        meds_b = [median(r) for r in baseline_runs]
        meds_c = [median(r) for r in candidate_runs]
        estimate = math.fsum(meds_b) / kb / (math.fsum(meds_c) / kc)
        for _ in range(n_boot):
            mean_b = math.fsum(choices(meds_b, k=kb)) / kb
            ratios.append(mean_b / (math.fsum(choices(meds_c, k=kc)) / kc))
        return _percentile_interval(ratios, estimate, confidence)
    if center != "median":
        raise ValueError(f"center must be 'median' or 'run_medians' here, got {center!r}")
    flat_b = [x for run in baseline_runs for x in run]
    flat_c = [x for run in candidate_runs for x in run]
    estimate = median(flat_b) / median(flat_c)
    runs_b = [list(r) for r in baseline_runs]
    runs_c = [list(r) for r in candidate_runs]
    for _ in range(n_boot):
        sb = sorted([x for run in choices(runs_b, k=kb) for x in run])
        sc = sorted([x for run in choices(runs_c, k=kc) for x in run])
        ratios.append(_median_sorted(sb) / _median_sorted(sc))
    return _percentile_interval(ratios, estimate, confidence)


def noise_floor(interval: Interval) -> float:
    """Return the relative noise an A/A comparison shows: how far its interval strays from 1.

    ``max(high - 1, 1 - low, 0)``: an identical candidate measured this way could look
    this much faster or slower by chance, so a real gain must clear it (``threshold_for``).
    """
    return max(interval.high - 1.0, 1.0 - interval.low, 0.0)


def threshold_for(min_gain: float, noise: float = 0.0) -> float:
    """Return the bar the interval's low end must clear: ``1 + max(min_gain, noise)``.

    Raises:
        ValueError: If ``min_gain`` or ``noise`` is negative.
    """
    if min_gain < 0 or noise < 0:
        raise ValueError(f"min_gain and noise must be >= 0, got {min_gain} and {noise}")
    return 1.0 + max(min_gain, noise)


def min_p_value(n_baseline: int, n_candidate: int) -> float:
    """Smallest two-sided p-value any rank test can reach with these sample counts.

    With 3 processes per side even a complete separation (every baseline process
    slower than every candidate process) happens by chance with probability
    2 / C(6, 3) = 0.1, so no 95% claim is possible, yet a percentile bootstrap
    would still exclude 1: the bootstrap cannot see outside its few samples.
    """
    if n_baseline < 1 or n_candidate < 1:
        return 1.0
    return min(1.0, 2 / math.comb(n_baseline + n_candidate, n_baseline))


def can_decide(n_baseline: int, n_candidate: int, confidence: float) -> bool:
    """Whether ``confidence`` is reachable with these counts (see ``min_p_value``)."""
    # The epsilon keeps e.g. 3 vs 3 at 90% (p = 0.1 exactly) decidable.
    return min_p_value(n_baseline, n_candidate) <= (1 - confidence) + 1e-9


def classify(
    interval: Interval, *, min_gain: float, noise: float = 0.0, decidable: bool = True
) -> SpeedupDecision:
    """Turn a speedup interval into a decision (see ``SpeedupDecision``).

    Args:
        interval: Speedup interval, baseline over candidate.
        min_gain: Smallest relative gain worth keeping (0.05 = 5%).
        noise: Relative noise measured on this task (an A/A run); raises the bar
            when larger than ``min_gain``.
        decidable: False when the samples are too few to reach the interval's
            confidence at all; then the candidate is neither faster nor slower.
    """
    threshold = threshold_for(min_gain, noise)
    return SpeedupDecision(
        interval=interval,
        threshold=threshold,
        significant=decidable and interval.low > threshold,
        slower=decidable and interval.high < 1.0 / threshold,
        decidable=decidable,
    )


def decide(
    baseline: Sequence[float],
    candidate: Sequence[float],
    *,
    min_gain: float,
    noise: float = 0.0,
    confidence: float = 0.95,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = 0,
) -> SpeedupDecision:
    """Bootstrap the speedup of independent samples and classify it.

    Raises:
        ValueError: As ``bootstrap_ratio`` and ``threshold_for``.
    """
    interval = bootstrap_ratio(baseline, candidate, confidence=confidence, n_boot=n_boot, seed=seed)
    decidable = can_decide(len(baseline), len(candidate), confidence)
    decision = classify(interval, min_gain=min_gain, noise=noise, decidable=decidable)
    return replace(decision, p_value=mann_whitney_p(baseline, candidate))


def decide_runs(
    baseline_runs: Sequence[Sequence[float]],
    candidate_runs: Sequence[Sequence[float]],
    *,
    min_gain: float,
    noise: float = 0.0,
    confidence: float = 0.95,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = 0,
    center: Center = "median",
) -> SpeedupDecision:
    """Estimate the speedup of runs (one per process) and classify it.

    ``center="hodges_lehmann"`` takes each run's median and gives the Hodges-Lehmann
    interval of those (no bootstrap); the other centres bootstrap whole runs (see
    ``bootstrap_ratio_runs``). The p-value always compares the run medians.

    Raises:
        ValueError: As ``bootstrap_ratio_runs`` and ``threshold_for``.
    """
    if center == "hodges_lehmann":
        for what, runs in (("baseline", baseline_runs), ("candidate", candidate_runs)):
            for run in runs:
                _check_samples(run, what)
        interval = hodges_lehmann_ratio(
            [median(r) for r in baseline_runs],
            [median(r) for r in candidate_runs],
            confidence=confidence,
        )
    else:
        interval = bootstrap_ratio_runs(
            baseline_runs,
            candidate_runs,
            confidence=confidence,
            n_boot=n_boot,
            seed=seed,
            center=center,
        )
    decidable = can_decide(len(baseline_runs), len(candidate_runs), confidence)
    decision = classify(interval, min_gain=min_gain, noise=noise, decidable=decidable)
    p = mann_whitney_p([median(r) for r in baseline_runs], [median(r) for r in candidate_runs])
    return replace(decision, p_value=p)
