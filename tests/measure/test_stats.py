"""Statistics on synthetic samples: medians, bootstrap intervals and decisions."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from perfsmith.core import Interval
from perfsmith.measure import ranks, stats


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


# -- Mann-Whitney U -------------------------------------------------------------------


def _brute_force_p(a: list[float], b: list[float]) -> float:
    """Two-sided p of the rank sum by enumerating every split (ties get mid-ranks)."""
    pooled = sorted(a + b)
    rank = {x: (pooled.index(x) + 1 + len(pooled) - pooled[::-1].index(x)) / 2 for x in pooled}
    ranks = [rank[x] for x in a + b]
    observed = sum(rank[x] for x in a)
    sums = [sum(c) for c in itertools.combinations(ranks, len(a))]
    low = sum(s <= observed + 1e-9 for s in sums) / len(sums)
    high = sum(s >= observed - 1e-9 for s in sums) / len(sums)
    return min(1.0, 2 * min(low, high))


def test_mann_whitney_exact_matches_enumeration_with_and_without_ties() -> None:
    rng = random.Random(3)
    for _ in range(300):
        a = [float(rng.randint(0, 6)) for _ in range(rng.randint(1, 7))]
        b = [float(rng.randint(0, 8)) for _ in range(rng.randint(1, 7))]
        assert stats.mann_whitney_p(a, b) == pytest.approx(_brute_force_p(a, b), abs=1e-12)


def test_mann_whitney_known_values() -> None:
    # Complete separation of 5 and 5: 2 of the C(10, 5) = 252 splits are as extreme.
    assert stats.mann_whitney_p([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]) == pytest.approx(2 / 252)
    assert stats.mann_whitney_p([1, 2, 3], [4, 5, 6]) == pytest.approx(stats.min_p_value(3, 3))
    assert stats.mann_whitney_p([1.0] * 5, [1.0] * 5) == 1.0
    assert stats.mann_whitney_p([], [1.0]) == 1.0
    assert stats.mann_whitney_p([2.0], [1.0]) == 1.0


def test_mann_whitney_is_symmetric_and_scale_free() -> None:
    rng = random.Random(4)
    for n in (4, 9, 15, 30):
        a = [rng.lognormvariate(0, 0.2) for _ in range(n)]
        b = [rng.lognormvariate(0.1, 0.2) for _ in range(n + 3)]
        p = stats.mann_whitney_p(a, b)
        assert 0 < p <= 1
        assert stats.mann_whitney_p(b, a) == pytest.approx(p)
        assert stats.mann_whitney_p([3 * x for x in a], [3 * x for x in b]) == pytest.approx(p)


def test_normal_approximation_is_close_to_the_exact_distribution() -> None:
    rng = random.Random(5)
    for _ in range(20):
        a = [round(rng.gauss(0, 1), 1) for _ in range(12)]  # rounding makes ties
        b = [round(rng.gauss(0.6, 1), 1) for _ in range(14)]
        ranks2, observed, _ = ranks._doubled_midranks(a, b)
        low, high = ranks._exact_rank_sum_tails(ranks2, len(a), observed)
        exact = min(1.0, 2 * min(low, high))
        assert stats.mann_whitney_p(a, b) == pytest.approx(exact, abs=0.02)


@pytest.mark.parametrize("n", [5, 12, 25])
def test_mann_whitney_false_positive_rate_is_at_most_alpha(n: int) -> None:
    rng = random.Random(n)
    trials = 400
    hits = sum(
        stats.mann_whitney_p(_bimodal(1.0, n, rng), _bimodal(1.0, n, rng)) < 0.05
        for _ in range(trials)
    )
    assert hits / trials <= 0.075  # 5% nominal, with room for 400 trials


def test_mann_whitney_finds_a_bimodal_shift() -> None:
    rng = random.Random(9)
    p = stats.mann_whitney_p(_bimodal(1.25, 30, rng), _bimodal(1.0, 30, rng))
    assert p < 0.01


# -- two-speed machine: each process at one of two speeds -------------------------------


def _bimodal(
    factor: float, n: int, rng: random.Random, slow: float = 1.35, p_slow: float = 0.5
) -> list[float]:
    """Per-process medians on a machine that runs a process at one of two speeds."""
    return [
        factor * (slow if rng.random() < p_slow else 1.0) * (1 + rng.gauss(0, 0.01))
        for _ in range(n)
    ]


def _runs(factor: float, n: int, rng: random.Random, values: int = 3) -> list[list[float]]:
    """Runs of ``values`` each; the process's speed is shared by its values."""
    return [[x * (1 + rng.gauss(0, 0.01)) for _ in range(values)] for x in _bimodal(factor, n, rng)]


def test_noise_floor_is_the_larger_excursion_of_an_aa_interval() -> None:
    assert stats.noise_floor(Interval(1.0, 0.9, 1.05)) == pytest.approx(0.1)
    assert stats.noise_floor(Interval(1.0, 0.97, 1.08)) == pytest.approx(0.08)
    assert stats.noise_floor(Interval(1.2, 1.1, 1.3)) == pytest.approx(0.3)
    assert stats.noise_floor(Interval(1.0, 1.0, 1.0)) == 0.0
    floor = stats.noise_floor(Interval(1.0, 0.92, 1.05))
    assert stats.threshold_for(0.05, floor) == pytest.approx(1.08)
    assert stats.threshold_for(0.10, floor) == pytest.approx(1.10)


def test_hodges_lehmann_estimate_is_the_median_pairwise_ratio() -> None:
    base, cand = [2.0, 4.0, 3.0], [1.0, 2.0]
    ratios = sorted(b / c for b in base for c in cand)
    iv = ranks.hodges_lehmann_ratio(base, cand)
    assert iv.estimate == pytest.approx(stats.median(ratios))
    assert iv.low == pytest.approx(ratios[0]) and iv.high == pytest.approx(ratios[-1])


@pytest.mark.parametrize(
    ("m", "n", "k"), [(3, 3, 0), (4, 4, 1), (5, 5, 3), (6, 6, 6), (10, 10, 24), (20, 20, 128)]
)
def test_moses_cut_matches_the_mann_whitney_critical_values(m: int, n: int, k: int) -> None:
    # Tabled two-sided 5% critical values of U are k - 1 (e.g. 23 for 10 and 10).
    assert ranks._u_lower_count(m, n, 0.05) == k


def test_hodges_lehmann_interval_covers_the_true_ratio_on_a_two_speed_machine() -> None:
    rng = random.Random(11)
    trials, covered = 300, 0
    for _ in range(trials):
        iv = ranks.hodges_lehmann_ratio(_bimodal(1.2, 12, rng), _bimodal(1.0, 12, rng))
        covered += iv.low <= 1.2 <= iv.high
    assert covered / trials >= 0.93


def test_hodges_lehmann_beats_the_mean_of_run_medians_on_a_two_speed_machine() -> None:
    # The evidence for the default centre: same data, same threshold, 10% gain.
    rng = random.Random(12)
    found = {"hodges_lehmann": 0, "run_medians": 0}
    for _ in range(60):
        base, cand = _runs(1.10, 20, rng), _runs(1.0, 20, rng)
        for center in found:
            d = stats.decide_runs(base, cand, min_gain=0.05, center=center, n_boot=500)  # type: ignore[arg-type]
            found[center] += d.significant
    assert found["hodges_lehmann"] >= 45
    assert found["hodges_lehmann"] > 2 * found["run_medians"]


def test_identical_two_speed_samples_are_rarely_called_faster() -> None:
    rng = random.Random(13)
    calls = 0
    for _ in range(300):
        d = stats.decide_runs(
            _runs(1.0, 10, rng), _runs(1.0, 10, rng), min_gain=0.05, center="hodges_lehmann"
        )
        calls += d.significant
    assert calls <= 3  # the bar of 1.05 on top of 95% confidence


def test_decide_runs_fills_the_p_value_and_settles() -> None:
    rng = random.Random(14)
    fast = stats.decide_runs(_runs(2.0, 6, rng), _runs(1.0, 6, rng), min_gain=0.05,
                             center="hodges_lehmann")  # fmt: skip
    assert fast.significant and fast.settled
    assert fast.p_value == pytest.approx(2 / math.comb(12, 6))
    assert fast.interval.low > 1.05
    same = stats.decide_runs([[1.0], [1.01], [0.99], [1.0]], [[1.0], [1.0], [1.01], [0.99]],
                             min_gain=0.05, center="hodges_lehmann")  # fmt: skip
    assert not same.significant and same.interval.high < 1.05 and same.settled
    assert same.p_value > 0.5
    unclear = stats.classify(Interval(1.05, 0.9, 1.2), min_gain=0.05)
    assert not unclear.settled
    too_few = stats.classify(Interval(2.0, 1.9, 2.1), min_gain=0.05, decidable=False)
    assert not too_few.settled


def test_decide_also_reports_a_p_value() -> None:
    d = stats.decide(_noisy(2.0, 20, seed=1), _noisy(1.0, 20, seed=2), min_gain=0.05)
    assert d.significant and d.p_value < 1e-6
