"""Statistics on synthetic samples: medians, bootstrap intervals and decisions."""

from __future__ import annotations

import math
import random

import pytest

from perfsmith.core import Interval
from perfsmith.measure import stats


def _noisy(center: float, n: int, seed: int, spread: float = 0.1) -> list[float]:
    rng = random.Random(seed)
    return [center * (1 + rng.uniform(-spread, spread)) for _ in range(n)]


# -- median and spread ----------------------------------------------------------------


def test_median_odd_even_and_single() -> None:
    assert stats.median([3.0, 1.0, 2.0]) == 2.0
    assert stats.median([4.0, 1.0, 3.0, 2.0]) == 2.5
    assert stats.median([7.0]) == 7.0


def test_median_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError):
        stats.median([])


def test_relative_spread_is_mad_over_median() -> None:
    assert stats.relative_spread([1.0, 1.0, 1.0]) == 0.0
    assert stats.relative_spread([5.0]) == 0.0
    # median 2, deviations 1, 0, 1 -> MAD 1 -> 50%
    assert stats.relative_spread([1.0, 2.0, 3.0]) == pytest.approx(0.5)


def test_relative_spread_ignores_one_outlier() -> None:
    base = [1.0, 1.01, 0.99, 1.02, 0.98]
    assert stats.relative_spread([*base, 100.0]) < 0.05


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf])
def test_relative_spread_rejects_bad_times(bad: float) -> None:
    with pytest.raises(ValueError):
        stats.relative_spread([1.0, bad])


# -- bootstrap ------------------------------------------------------------------------


def test_identical_distributions_are_not_significant() -> None:
    base = _noisy(1.0, 50, seed=1)
    cand = _noisy(1.0, 50, seed=2)
    d = stats.decide(base, cand, min_gain=0.05)
    assert d.interval.low < 1.0 < d.interval.high
    assert not d.significant
    assert not d.slower


def test_twice_as_fast_is_significant_and_interval_holds_two() -> None:
    base = _noisy(2.0, 50, seed=3)
    cand = _noisy(1.0, 50, seed=4)
    d = stats.decide(base, cand, min_gain=0.05)
    assert d.significant
    assert not d.slower
    assert d.interval.low < 2.0 < d.interval.high
    assert d.interval.low > d.threshold == pytest.approx(1.05)


def test_twice_as_slow_is_slower_not_significant() -> None:
    d = stats.decide(_noisy(1.0, 30, seed=5), _noisy(2.0, 30, seed=6), min_gain=0.05)
    assert d.slower
    assert not d.significant
    assert d.interval.high < 1.0


def test_estimate_is_ratio_of_medians_and_inside_interval() -> None:
    base = [2.0, 2.2, 1.8, 2.1, 1.9]
    cand = [1.0, 1.1, 0.9]
    iv = stats.bootstrap_ratio(base, cand)
    assert iv.estimate == pytest.approx(stats.median(base) / stats.median(cand))
    assert iv.low <= iv.estimate <= iv.high
    assert iv.confidence == 0.95


def test_same_seed_same_interval_other_seed_other_interval() -> None:
    base, cand = _noisy(1.5, 20, seed=7), _noisy(1.0, 20, seed=8)
    a = stats.bootstrap_ratio(base, cand, seed=11)
    b = stats.bootstrap_ratio(base, cand, seed=11)
    c = stats.bootstrap_ratio(base, cand, seed=12)
    assert a == b
    assert (a.low, a.high) != (c.low, c.high)


def test_higher_confidence_gives_wider_interval() -> None:
    base, cand = _noisy(1.2, 20, seed=9), _noisy(1.0, 20, seed=10)
    narrow = stats.bootstrap_ratio(base, cand, confidence=0.8)
    wide = stats.bootstrap_ratio(base, cand, confidence=0.99)
    assert wide.low <= narrow.low
    assert wide.high >= narrow.high
    assert wide.high - wide.low > narrow.high - narrow.low


def test_swapping_sides_inverts_the_estimate() -> None:
    base, cand = _noisy(3.0, 15, seed=13), _noisy(1.0, 15, seed=14)
    forward = stats.bootstrap_ratio(base, cand)
    backward = stats.bootstrap_ratio(cand, base)
    assert forward.estimate * backward.estimate == pytest.approx(1.0)


def test_more_samples_give_a_narrower_interval() -> None:
    few = stats.bootstrap_ratio(_noisy(1.0, 5, seed=15), _noisy(1.0, 5, seed=16))
    many = stats.bootstrap_ratio(_noisy(1.0, 200, seed=15), _noisy(1.0, 200, seed=16))
    assert many.high - many.low < few.high - few.low


@pytest.mark.parametrize("sizes", [(1, 5), (5, 1), (1, 1), (0, 3)])
def test_fewer_than_two_samples_per_side_is_an_error(sizes: tuple[int, int]) -> None:
    nb, nc = sizes
    with pytest.raises(ValueError, match="at least 2"):
        stats.bootstrap_ratio([1.0] * nb, [1.0] * nc)


def test_two_samples_per_side_give_an_interval_within_the_extreme_ratios() -> None:
    iv = stats.bootstrap_ratio([2.0, 4.0], [1.0, 2.0])
    assert iv.estimate == pytest.approx(3.0 / 1.5)
    assert 2.0 / 2.0 <= iv.low <= iv.estimate <= iv.high <= 4.0 / 1.0
    d = stats.decide([2.0, 4.0], [1.0, 2.0], min_gain=0.05)
    assert not d.decidable and not d.significant and not d.slower


def test_constant_samples_give_a_point_interval() -> None:
    iv = stats.bootstrap_ratio([2.0, 2.0, 2.0], [1.0, 1.0])
    assert iv.low == iv.estimate == iv.high == pytest.approx(2.0)


@pytest.mark.parametrize("bad", [0.0, -0.5, math.nan, math.inf])
@pytest.mark.parametrize("side", ["baseline", "candidate"])
def test_zero_negative_and_nonfinite_times_are_rejected(bad: float, side: str) -> None:
    good = [1.0, 1.1, 0.9]
    base, cand = ([*good, bad], good) if side == "baseline" else (good, [*good, bad])
    with pytest.raises(ValueError, match=side):
        stats.bootstrap_ratio(base, cand)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"confidence": 0.0}, "confidence"), ({"confidence": 1.0}, "confidence"),
     ({"n_boot": 0}, "n_boot")],
)  # fmt: skip
def test_bad_bootstrap_settings_are_rejected(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        stats.bootstrap_ratio([1.0, 2.0], [1.0, 2.0], **kwargs)  # type: ignore[arg-type]


# -- runs (cluster bootstrap) ---------------------------------------------------------


def test_runs_with_one_value_each_match_the_flat_bootstrap() -> None:
    base, cand = _noisy(1.3, 12, seed=17), _noisy(1.0, 12, seed=18)
    flat = stats.bootstrap_ratio(base, cand, seed=3)
    runs = stats.bootstrap_ratio_runs([[x] for x in base], [[x] for x in cand], seed=3)
    assert flat == runs


def test_runs_bootstrap_is_wider_when_processes_differ() -> None:
    # Each process runs at one of two speeds; values inside a process agree closely.
    # Treating the 30 values as independent would understate the uncertainty.
    def runs(speeds: list[float], seed: int) -> list[list[float]]:
        return [_noisy(s, 10, seed=seed + i, spread=0.01) for i, s in enumerate(speeds)]

    base = runs([1.0, 1.4, 1.0], seed=20)
    cand = runs([1.4, 1.0, 1.0], seed=40)
    flat = stats.bootstrap_ratio([x for r in base for x in r], [x for r in cand for x in r])
    clustered = stats.bootstrap_ratio_runs(base, cand)
    assert clustered.high - clustered.low > flat.high - flat.low
    assert clustered.low < 1.0 < clustered.high


def test_runs_need_two_per_side_and_no_empty_run() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        stats.bootstrap_ratio_runs([[1.0, 1.1, 1.2]], [[1.0], [1.1]])
    with pytest.raises(ValueError, match="no samples"):
        stats.bootstrap_ratio_runs([[1.0], []], [[1.0], [1.1]])


def test_decide_runs_finds_a_big_gain() -> None:
    base = [_noisy(10.0, 3, seed=i) for i in range(6)]
    cand = [_noisy(1.0, 3, seed=100 + i) for i in range(6)]
    d = stats.decide_runs(base, cand, min_gain=0.05)
    assert d.significant
    assert d.interval.low < 10.0 < d.interval.high


# -- classify and thresholds ----------------------------------------------------------


def test_threshold_uses_the_larger_of_min_gain_and_noise() -> None:
    assert stats.threshold_for(0.05) == pytest.approx(1.05)
    assert stats.threshold_for(0.05, noise=0.2) == pytest.approx(1.2)
    assert stats.threshold_for(0.3, noise=0.1) == pytest.approx(1.3)
    with pytest.raises(ValueError):
        stats.threshold_for(-0.1)
    with pytest.raises(ValueError):
        stats.threshold_for(0.1, noise=-0.1)


def test_classify_boundaries_are_strict() -> None:
    at_bar = stats.classify(Interval(1.2, 1.05, 1.4), min_gain=0.05)
    assert not at_bar.significant  # must clear the bar, not touch it
    above = stats.classify(Interval(1.2, 1.06, 1.4), min_gain=0.05)
    assert above.significant
    # "Slower" needs the same margin the other way: high < 1 / 1.05 = 0.952...
    barely_below_one = stats.classify(Interval(0.9, 0.8, 0.99), min_gain=0.05)
    assert not barely_below_one.slower
    below = stats.classify(Interval(0.9, 0.8, 0.95), min_gain=0.05)
    assert below.slower and not below.significant


def test_small_gain_between_one_and_threshold_is_neither_faster_nor_slower() -> None:
    d = stats.classify(Interval(1.03, 1.01, 1.04), min_gain=0.05)
    assert not d.significant
    assert not d.slower


def test_measured_noise_raises_the_bar() -> None:
    base, cand = _noisy(1.15, 50, seed=50, spread=0.02), _noisy(1.0, 50, seed=51, spread=0.02)
    assert stats.decide(base, cand, min_gain=0.05).significant
    noisy = stats.decide(base, cand, min_gain=0.05, noise=0.25)
    assert not noisy.significant
    assert noisy.threshold == pytest.approx(1.25)


def test_decision_is_frozen() -> None:
    d = stats.classify(Interval(1.0, 0.9, 1.1), min_gain=0.05)
    with pytest.raises(AttributeError):
        d.significant = True  # type: ignore[misc]


# -- too few samples to decide ----------------------------------------------------------


def test_min_p_value_is_two_over_the_number_of_splits() -> None:
    assert stats.min_p_value(3, 3) == pytest.approx(2 / 20)
    assert stats.min_p_value(4, 4) == pytest.approx(2 / 70)
    assert stats.min_p_value(2, 2) == pytest.approx(2 / 6)
    assert stats.min_p_value(1, 1) == 1.0
    assert stats.min_p_value(0, 5) == 1.0


def test_can_decide_depends_on_counts_and_confidence() -> None:
    assert not stats.can_decide(3, 3, 0.95)
    assert stats.can_decide(3, 3, 0.90)
    assert stats.can_decide(4, 4, 0.95)
    assert not stats.can_decide(4, 4, 0.99)
    assert stats.can_decide(5, 5, 0.99)
    assert stats.can_decide(2, 50, 0.95)


def test_three_separated_processes_per_side_are_not_enough() -> None:
    # Every baseline process is slower than every candidate process: a percentile
    # bootstrap excludes 1, but chance alone does this one time in ten.
    base = [[1.30, 1.31], [1.32, 1.30], [1.29, 1.31]]
    cand = [[1.00, 1.01], [1.02, 1.00], [0.99, 1.01]]
    d = stats.decide_runs(base, cand, min_gain=0.05)
    assert d.interval.low > 1.05
    assert not d.decidable and not d.significant
    more = stats.decide_runs([*base, [1.3, 1.31]], [*cand, [1.0, 1.01]], min_gain=0.05)
    assert more.decidable and more.significant


def test_undecidable_slower_is_not_flagged() -> None:
    d = stats.decide_runs([[1.0], [1.0], [1.01]], [[2.0], [2.1], [2.0]], min_gain=0.05)
    assert d.interval.high < 0.9
    assert not d.slower


# -- run medians ----------------------------------------------------------------------


def test_run_medians_estimate_is_the_ratio_of_mean_run_medians() -> None:
    base = [[2.0, 2.2, 9.0], [4.0, 4.1, 3.9]]  # run medians 2.2 and 4.0
    cand = [[1.0, 1.0], [2.0, 2.2]]  # run medians 1.0 and 2.1
    iv = stats.bootstrap_ratio_runs(base, cand, center="run_medians")
    assert iv.estimate == pytest.approx(3.1 / 1.55)
    assert iv.low <= iv.estimate <= iv.high


def test_run_medians_are_steadier_on_a_two_speed_machine() -> None:
    # Processes run at one of two speeds, half and half. The pooled median jumps
    # between the two; the mean of the run medians moves smoothly.
    rng = random.Random(5)

    def runs(factor: float) -> list[list[float]]:
        out = []
        for i in range(8):
            speed = factor * (1.0 if i % 2 else 1.35)
            out.append([speed * (1 + rng.gauss(0, 0.01)) for _ in range(3)])
        return out

    base, cand = runs(1.3), runs(1.0)
    by_median = stats.bootstrap_ratio_runs(base, cand)
    by_runs = stats.bootstrap_ratio_runs(base, cand, center="run_medians")
    assert by_runs.high - by_runs.low < by_median.high - by_median.low
    assert stats.decide_runs(base, cand, min_gain=0.05, center="run_medians").significant


def test_unknown_center_is_rejected() -> None:
    with pytest.raises(ValueError, match="center"):
        stats.bootstrap_ratio_runs([[1.0], [1.0]], [[1.0], [1.0]], center="mean")  # type: ignore[arg-type]
