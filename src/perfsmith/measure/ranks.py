"""Rank statistics for timing samples: the Mann-Whitney U test and the Hodges-Lehmann
speedup with its distribution-free interval. Pure: no I/O.

Rank methods suit this machine: each process runs at one of a few speeds, so values are
far from normal, and a slow mode that inflates a mean barely moves a rank.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from statistics import NormalDist

from perfsmith.core import Interval

__all__ = ["EXACT_MAX_N", "hodges_lehmann_ratio", "mann_whitney_p"]


def _doubled_midranks(a: Sequence[float], b: Sequence[float]) -> tuple[list[int], int, list[int]]:
    """Twice the mid-rank of every value (integers keep ties exact), the doubled rank
    sum of ``a``, and the size of every group of equal values."""
    pooled = sorted([(x, True) for x in a] + [(y, False) for y in b], key=lambda p: p[0])
    ranks2: list[int] = []
    sum_a = 0
    ties: list[int] = []
    i = 0
    while i < len(pooled):
        j = i
        while j + 1 < len(pooled) and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks2.append(i + j + 2)  # (i + 1) + (j + 1): twice the group's mean rank
            sum_a += (i + j + 2) if pooled[k][1] else 0
        ties.append(j - i + 1)
        i = j + 1
    return ranks2, sum_a, ties


def _exact_rank_sum_tails(ranks2: list[int], n1: int, observed: int) -> tuple[float, float]:
    """P(S <= observed) and P(S >= observed) for S the sum of ``n1`` of ``ranks2``,
    every subset equally likely (the permutation distribution, ties included)."""
    # counts[k] maps a sum of k chosen (doubled) ranks to the number of ways to get it.
    counts: list[dict[int, int]] = [{0: 1}] + [{} for _ in range(n1)]
    for seen, r in enumerate(ranks2):
        for k in range(min(n1, seen + 1), 0, -1):  # downwards: each value is chosen once
            here = counts[k]
            for s, c in counts[k - 1].items():
                here[s + r] = here.get(s + r, 0) + c
    dist = counts[n1]
    total = math.comb(len(ranks2), n1)
    low = sum(c for s, c in dist.items() if s <= observed)
    high = sum(c for s, c in dist.items() if s >= observed)
    return low / total, high / total


EXACT_MAX_N = 10  # exact distribution when both sides have at most this many samples


def mann_whitney_p(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p-value of the Mann-Whitney U test that ``a`` and ``b`` share a distribution.

    Small samples (both sides at most ``EXACT_MAX_N``) use the exact permutation
    distribution of the rank sum, ties included; larger ones the normal
    approximation with tie and continuity corrections. Give it independent
    samples: one value per process, not every value of a process.

    Returns:
        The p-value in (0, 1]; 1.0 when a side is empty or every value is equal.
    """
    n1, n2 = len(a), len(b)
    if n1 == 0 or n2 == 0:
        return 1.0
    ranks2, observed, ties = _doubled_midranks(a, b)
    if n1 <= EXACT_MAX_N and n2 <= EXACT_MAX_N:
        low, high = _exact_rank_sum_tails(ranks2, n1, observed)
        return min(1.0, 2 * min(low, high))
    n = n1 + n2
    u1 = observed / 2 - n1 * (n1 + 1) / 2
    mu = n1 * n2 / 2
    tie_term = sum(t**3 - t for t in ties) / (n * (n - 1))
    sigma = math.sqrt(n1 * n2 / 12 * ((n + 1) - tie_term))
    if sigma == 0:
        return 1.0
    z = max(abs(u1 - mu) - 0.5, 0.0) / sigma
    return min(1.0, math.erfc(z / math.sqrt(2)))


@functools.lru_cache(maxsize=256)
def _u_lower_count(m: int, n: int, alpha: float) -> int:
    """How many pairwise differences a ``1 - alpha`` Moses interval cuts from each end:
    the largest ``c`` with ``P(U <= c - 1) <= alpha / 2`` (no ties), 0 if none."""
    if m <= EXACT_MAX_N and n <= EXACT_MAX_N:
        ranks2 = [2 * r for r in range(1, m + n + 1)]
        base = m * (m + 1)  # twice the smallest rank sum, where U = 0
        c = 0
        while c < m * n and _exact_rank_sum_tails(ranks2, m, base + 2 * c)[0] <= alpha / 2:
            c += 1
        return c
    z = NormalDist().inv_cdf(1 - alpha / 2)
    c = math.floor(m * n / 2 - z * math.sqrt(m * n * (m + n + 1) / 12) + 0.5)
    return max(c, 0)


def hodges_lehmann_ratio(
    baseline: Sequence[float], candidate: Sequence[float], *, confidence: float = 0.95
) -> Interval:
    """Hodges-Lehmann speedup with its distribution-free (Moses) confidence interval.

    Works on logs, so a speedup is a shift: the estimate is the median of all
    pairwise ratios ``baseline[i] / candidate[j]`` and the interval takes order
    statistics of those ratios at the Mann-Whitney critical value, so it agrees
    with ``mann_whitney_p``. Its coverage holds whatever the shape of the
    distribution (two speeds per process included), provided both sides share that
    shape; a slow mode inflates a mean but barely moves this median, because pairs
    from the same mode cluster tightly around the true ratio.

    Args:
        baseline: One value per independent sample (per process), seconds.
        candidate: The same for the candidate.
        confidence: Two-sided coverage.

    Returns:
        The speedup and its interval; when too few samples make the interval
        unbounded, it spans the extreme pairwise ratios.

    Raises:
        ValueError: If a side has fewer than 2 values or a value is not positive.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    for what, values in (("baseline", baseline), ("candidate", candidate)):
        if len(values) < 2:
            raise ValueError(
                f"{what}: need at least 2 independent samples for an interval, got {len(values)}"
            )
        for x in values:
            if not x > 0 or math.isinf(x):  # ``not x > 0`` also catches NaN
                raise ValueError(f"{what}: samples must be positive and finite, got {x!r}")
    logs_c = [math.log(x) for x in candidate]
    diffs = sorted(math.log(b) - c for b in baseline for c in logs_c)
    k = _u_lower_count(len(baseline), len(candidate), round(1 - confidence, 12))
    k = min(max(k, 1), (len(diffs) + 1) // 2)
    return Interval(
        estimate=math.exp((diffs[(len(diffs) - 1) // 2] + diffs[len(diffs) // 2]) / 2),
        low=math.exp(diffs[k - 1]),
        high=math.exp(diffs[len(diffs) - k]),
        confidence=confidence,
    )
