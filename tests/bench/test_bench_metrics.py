from __future__ import annotations

import math
from typing import Any

import pytest

from perfsmith.bench.metrics import (
    CLASSES,
    effective_speedup,
    fast_p,
    fast_p_key,
    geometric_mean,
    harmonic_mean,
    speedup_ratio,
    summarize,
    task_class,
)


def res(iid: str, *, correct: bool | None, speedup: Any, expert: Any, **kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "instance_id": iid,
        "suite": "s",
        "category": None,
        "model_name_or_path": "m",
        "status": "faster" if correct else "test_failed",
        "correct": correct,
        "speedup": speedup,
        "speedup_ci_low": None,
        "speedup_ci_high": None,
        "n": None,
        "expert_status": "faster",
        "expert_speedup": expert,
        "expert_ci_low": None,
        "expert_ci_high": None,
        "expert_n": None,
        "cost_usd": 0.0,
        "wall_s": 0.0,
        "tokens": 0,
        "error": "",
    }
    row.update(kw)
    return row


# SRs: a 0.5, b 1.0, c 2.0, d 0.25 (incorrect, expert 4x), e 0.4 (slower), f 1.0 (1.1x == 1.1x)
CRAFTED = [
    res("a", correct=True, speedup=2.0, expert=4.0, cost_usd=1.0, wall_s=10.0),
    res("b", correct=True, speedup=3.0, expert=3.0, cost_usd=2.0, wall_s=20.0),
    res("c", correct=True, speedup=4.0, expert=2.0, cost_usd=3.0, wall_s=30.0),
    res("d", correct=False, speedup=5.0, expert=4.0, cost_usd=4.0, wall_s=40.0),
    res("e", correct=True, speedup=0.8, expert=2.0, cost_usd=5.0, wall_s=50.0),
    res("f", correct=True, speedup=1.1, expert=1.1, cost_usd=6.0, wall_s=60.0),
]
UNSCORABLE = res("u", correct=True, speedup=3.0, expert=None, cost_usd=7.0, wall_s=70.0)


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (res("x", correct=True, speedup=2.5, expert=2.0), 2.5),
        (res("x", correct=True, speedup=0.7, expert=2.0), 0.7),
        (res("x", correct=False, speedup=2.5, expert=2.0), 1.0),
        (res("x", correct=None, speedup=2.5, expert=2.0), 1.0),
        (res("x", correct=True, speedup=None, expert=2.0), 1.0),
        (res("x", correct=True, speedup=0.0, expert=2.0), 1.0),
        (res("x", correct=True, speedup=-3.0, expert=2.0), 1.0),
        (res("x", correct=True, speedup=math.nan, expert=2.0), 1.0),
        (res("x", correct=True, speedup=True, expert=2.0), 1.0),
        (res("x", correct=True, speedup=3, expert=2.0), 3.0),
        ({"instance_id": "x"}, 1.0),
    ],
)
def test_effective_speedup(row: dict[str, Any], expected: float) -> None:
    assert effective_speedup(row) == expected


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (res("x", correct=True, speedup=2.0, expert=4.0), 0.5),
        (res("x", correct=True, speedup=6.0, expert=2.0), 3.0),
        (res("x", correct=False, speedup=8.0, expert=4.0), 0.25),
        (res("x", correct=True, speedup=None, expert=4.0), 0.25),
        (res("x", correct=True, speedup=0.5, expert=2.0), 0.25),
        (res("x", correct=True, speedup=2.0, expert=None), None),
        (res("x", correct=True, speedup=2.0, expert=0.0), None),
        (res("x", correct=True, speedup=2.0, expert=-1.5), None),
        (res("x", correct=True, speedup=2.0, expert=math.inf), None),
        ({"instance_id": "x", "correct": True, "speedup": 2.0}, None),
    ],
)
def test_speedup_ratio(row: dict[str, Any], expected: float | None) -> None:
    assert speedup_ratio(row) == expected


def test_incorrect_task_with_expert_4x_scores_quarter() -> None:
    assert speedup_ratio(CRAFTED[3]) == 0.25


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (CRAFTED[0], "faster_below_expert"),
        (CRAFTED[1], "at_or_above_expert"),
        (CRAFTED[2], "at_or_above_expert"),
        (CRAFTED[3], "incorrect"),
        (CRAFTED[4], "correct_but_slower"),
        (CRAFTED[5], "at_or_above_expert"),
        (res("x", correct=True, speedup=1.0, expert=2.0), "correct_but_slower"),
        (res("x", correct=True, speedup=None, expert=2.0), "correct_but_slower"),
        (res("x", correct=True, speedup=1.9999, expert=2.0), "faster_below_expert"),
        (res("x", correct=False, speedup=None, expert=None), "incorrect"),
        (res("x", correct=True, speedup=0.9, expert=None), "correct_but_slower"),
        (UNSCORABLE, "unscorable"),
    ],
)
def test_task_class(row: dict[str, Any], expected: str) -> None:
    assert task_class(row) == expected


@pytest.mark.parametrize(
    ("xs", "expected"),
    [
        ([0.5, 1.0, 2.0], 3 / (2 + 1 + 0.5)),
        ([4.0], 4.0),
        ([2.0, 2.0, 2.0], 2.0),
        ([1.0, 3.0], 1.5),
        ([0.01, 100.0], 2 / 100.01),
    ],
)
def test_harmonic_mean(xs: list[float], expected: float) -> None:
    assert harmonic_mean(xs) == pytest.approx(expected, rel=1e-12)


def test_harmonic_mean_headline_value() -> None:
    assert harmonic_mean([0.5, 1.0, 2.0]) == pytest.approx(0.857142857142857, rel=1e-12)


@pytest.mark.parametrize(
    ("xs", "expected"),
    [
        ([0.5, 1.0, 2.0], 1.0),
        ([1.0, 4.0], 2.0),
        ([2.0, 8.0], 4.0),
        ([3.0], 3.0),
        ([0.1, 10.0, 1000.0], 10.0),
    ],
)
def test_geometric_mean(xs: list[float], expected: float) -> None:
    assert geometric_mean(xs) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("fn", [harmonic_mean, geometric_mean])
@pytest.mark.parametrize("xs", [[], [1.0, 0.0], [1.0, -2.0], [math.nan], [math.inf]])
def test_means_reject_undefined_input(fn: Any, xs: list[float]) -> None:
    with pytest.raises(ValueError):
        fn(xs)


@pytest.mark.parametrize(
    ("p", "expected"),
    [
        (0.0, 5 / 6),  # correctness rate: all but d
        (0.5, 5 / 6),  # d's effective 1.0 would pass 0.5; it must not count (incorrect)
        (0.8, 4 / 6),  # e's 0.8 is not strictly above 0.8
        (1.0, 4 / 6),  # a, b, c, f
        (1.1, 3 / 6),  # f's 1.1 is not strictly above 1.1
        (1.5, 3 / 6),
        (2.0, 2 / 6),  # a's 2.0 is not strictly above 2.0
        (3.5, 1 / 6),
        (4.0, 0.0),
    ],
)
def test_fast_p_thresholds_are_strict(p: float, expected: float) -> None:
    assert fast_p(CRAFTED, p) == pytest.approx(expected)
    # unscorable tasks are outside the scope, whatever their speedup
    assert fast_p([*CRAFTED, UNSCORABLE], p) == pytest.approx(expected)


def test_fast_p_of_nothing_scored_is_zero() -> None:
    assert fast_p([], 1.0) == 0.0
    assert fast_p([UNSCORABLE], 1.0) == 0.0


@pytest.mark.parametrize(
    ("p", "key"), [(0.0, "fast_0"), (1.0, "fast_1"), (1.1, "fast_1.1"), (2.0, "fast_2")]
)
def test_fast_p_key(p: float, key: str) -> None:
    assert fast_p_key(p) == key


def test_summarize_crafted_set() -> None:
    s = summarize(CRAFTED, suite_tasks=6)
    assert s["tasks_scored"] == 6
    assert s["tasks_unscorable"] == []
    assert s["tasks_in_results"] == 6
    assert s["subset"] is False
    assert s["scope"] == "full suite: 6 of 6 tasks"
    # SRs 0.5, 1, 2, 0.25, 0.4, 1 -> 6 / (2 + 1 + 0.5 + 4 + 2.5 + 1)
    assert s["hmean_sr"] == pytest.approx(6 / 11)
    assert s["gmean_sr"] == pytest.approx(0.1 ** (1 / 6))
    assert s["fast_p"] == pytest.approx(
        {"fast_0": 5 / 6, "fast_1": 4 / 6, "fast_1.1": 3 / 6, "fast_1.5": 3 / 6, "fast_2": 2 / 6}
    )
    assert s["share_sr_ge_0_95"] == pytest.approx(3 / 6)
    assert s["proportions"] == pytest.approx(
        {
            "incorrect": 1 / 6,
            "correct_but_slower": 1 / 6,
            "faster_below_expert": 1 / 6,
            "at_or_above_expert": 3 / 6,
        }
    )
    assert list(s["proportions"]) == list(CLASSES)
    assert sum(s["proportions"].values()) == pytest.approx(1.0)
    assert s["correct_rate"] == pytest.approx(5 / 6)
    assert s["cost_usd_total"] == pytest.approx(21.0)
    assert s["cost_usd_mean"] == pytest.approx(3.5)
    assert s["wall_s_total"] == pytest.approx(210.0)
    assert s["wall_s_mean"] == pytest.approx(35.0)
    assert s["expert_speedup_mean"] == pytest.approx((4 + 3 + 2 + 4 + 2 + 1.1) / 6)


def test_summarize_headline_three_tasks() -> None:
    s = summarize(CRAFTED[:3])
    assert s["hmean_sr"] == pytest.approx(0.857142857142857)
    assert s["gmean_sr"] == pytest.approx(1.0)


def test_subset_is_labelled() -> None:
    s = summarize(CRAFTED[:3], suite_tasks=12)
    assert s["subset"] is True
    assert s["suite_tasks"] == 12
    assert s["tasks_scored"] == 3
    assert s["scope"] == "subset: 3 of 12 tasks (missing tasks are not counted as failures)"
    # the subset's score is its own, not padded with failures for the 9 missing tasks
    assert s["hmean_sr"] == pytest.approx(3 / 3.5)


def test_unknown_suite_size() -> None:
    s = summarize(CRAFTED[:3])
    assert s["subset"] is False
    assert s["suite_tasks"] is None
    assert s["scope"] == "3 tasks scored (suite size not given)"


def test_unscorable_tasks_are_listed_not_dropped() -> None:
    zero = res("z", correct=False, speedup=None, expert=0.0, cost_usd=1.0, wall_s=5.0)
    s = summarize([UNSCORABLE, *CRAFTED, zero], suite_tasks=8)
    assert s["tasks_unscorable"] == ["u", "z"]
    assert s["tasks_scored"] == 6
    assert s["tasks_in_results"] == 8
    assert s["subset"] is True
    assert s["scope"] == (
        "subset: 6 of 8 tasks (missing tasks are not counted as failures); "
        "2 unscorable (no usable expert speedup), listed separately"
    )
    # quality metrics are over the scored tasks only...
    assert s["hmean_sr"] == pytest.approx(6 / 11)
    assert s["fast_p"]["fast_0"] == pytest.approx(5 / 6)
    assert sum(s["proportions"].values()) == pytest.approx(1.0)
    assert s["expert_speedup_mean"] == pytest.approx(16.1 / 6)
    # ...but their cost and time are spent all the same
    assert s["cost_usd_total"] == pytest.approx(21.0 + 7.0 + 1.0)
    assert s["wall_s_total"] == pytest.approx(210.0 + 70.0 + 5.0)


def test_summarize_nothing_scored() -> None:
    s = summarize([UNSCORABLE], suite_tasks=5)
    assert s["tasks_scored"] == 0
    assert s["tasks_unscorable"] == ["u"]
    assert s["subset"] is True
    for key in ("hmean_sr", "hmean_sr_ci", "gmean_sr", "share_sr_ge_0_95", "correct_rate"):
        assert s[key] is None
    assert set(s["fast_p"].values()) == {None}
    assert set(s["proportions"].values()) == {None}
    assert s["cost_usd_total"] == pytest.approx(7.0)
    assert s["expert_speedup_mean"] is None


def test_summarize_missing_cost_and_time() -> None:
    rows = [
        res("a", correct=True, speedup=2.0, expert=2.0, cost_usd=None, wall_s=None),
        res("b", correct=True, speedup=2.0, expert=2.0, cost_usd=3.0, wall_s=None),
    ]
    s = summarize(rows)
    assert s["cost_usd_total"] == 3.0
    assert s["cost_usd_mean"] == 3.0  # the mean is over tasks where cost was measured
    assert s["wall_s_total"] is None
    assert s["wall_s_mean"] is None


def test_custom_thresholds() -> None:
    s = summarize(CRAFTED, ps=(1.05, 3.0))
    assert s["fast_p"] == pytest.approx({"fast_1.05": 4 / 6, "fast_3": 1 / 6})


def test_bootstrap_is_deterministic_and_contains_point() -> None:
    one = summarize(CRAFTED, seed=7)
    two = summarize(CRAFTED, seed=7)
    assert one["hmean_sr_ci"] == two["hmean_sr_ci"]
    low, high = one["hmean_sr_ci"]
    assert low < one["hmean_sr"] < high
    assert one["bootstrap_resamples"] == 2000
    assert one["seed"] == 7
    # resampled harmonic means are bounded by the smallest and largest SR
    assert low >= 0.25 and high <= 2.0
    # a different seed draws different resamples (the interval is not a constant)
    others = {tuple(summarize(CRAFTED, seed=s)["hmean_sr_ci"]) for s in range(5)}
    assert len(others) > 1


def test_bootstrap_needs_two_tasks() -> None:
    assert summarize(CRAFTED[:1])["hmean_sr_ci"] is None
    assert summarize(CRAFTED[:1])["hmean_sr"] == pytest.approx(0.5)


def test_bootstrap_of_identical_tasks_is_a_point() -> None:
    rows = [res(str(i), correct=True, speedup=3.0, expert=2.0) for i in range(4)]
    assert summarize(rows)["hmean_sr_ci"] == pytest.approx([1.5, 1.5])
