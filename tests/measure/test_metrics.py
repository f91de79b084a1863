from __future__ import annotations

import pytest

from perfsmith.core import Comparison, Interval, MetricResult
from perfsmith.measure.metrics import deciding_status, latency_metric, order
from perfsmith.measure.timing import TimingResult


def timing(low: float, est: float, high: float, *, decided: bool = True) -> TimingResult:
    comp = Comparison(
        baseline_s=(0.02, 0.021, 0.019),
        candidate_s=(0.01, 0.011, 0.009),
        speedup=Interval(est, low, high),
        threshold=1.05,
        significant=low > 1.05,
        slower=high < 1 / 1.05,
        processes=3,
        decided=decided,
    )
    return TimingResult(comparison=comp, inner_s=1.0, loops=1)


def metric(name: str, low: float, est: float, high: float, **kw: object) -> MetricResult:
    return MetricResult(name, "u", 2.0, 1.0, Interval(est, low, high), 3, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("iv", "status", "code"),
    [
        ((1.8, 2.0, 2.2), "faster", "ok"),
        ((0.9, 1.0, 1.1), "not_significant", "not_significant"),
        ((1.04, 1.2, 1.4), "not_significant", "not_significant"),
        ((0.5, 0.6, 0.7), "slower", "slower"),
    ],
)
def test_latency_decides_by_the_timing_comparison(
    iv: tuple[float, float, float], status: str, code: str
) -> None:
    got = deciding_status("latency", timing(*iv), (), 0.05)
    assert got[:2] == (status, code)


def test_undecided_timing_says_the_cap_was_reached() -> None:
    _, _, reason = deciding_status("latency", timing(0.9, 1.0, 1.1, decided=False), (), 0.05)
    assert "cap" in reason


@pytest.mark.parametrize(
    ("target", "name"),
    [("memory", "peak_memory"), ("instructions", "instructions"), ("energy", "energy")],
)
def test_other_targets_decide_by_their_metric_not_by_time(target: str, name: str) -> None:
    slow_but_lean = timing(0.5, 0.6, 0.7)
    better = (metric(name, 1.3, 1.4, 1.5),)
    assert deciding_status(target, slow_but_lean, better, 0.05)[0] == "faster"  # type: ignore[arg-type]
    worse = (metric(name, 0.5, 0.6, 0.7),)
    assert deciding_status(target, timing(1.8, 2, 2.2), worse, 0.05)[0] == "slower"  # type: ignore[arg-type]
    flat = (metric(name, 1.0, 1.02, 1.04),)
    assert deciding_status(target, timing(1.8, 2, 2.2), flat, 0.05)[0] == "not_significant"  # type: ignore[arg-type]


def test_a_two_percent_instruction_cut_counts_with_a_one_percent_bar() -> None:
    exact = (metric("instructions", 1.0204, 1.0204, 1.0204),)
    assert deciding_status("instructions", timing(0.9, 1, 1.1), exact, 0.01)[0] == "faster"


def test_unavailable_target_metric_is_never_faster() -> None:
    gone = (MetricResult("energy", "J", 0.0, 0.0, None, 0, available=False, note="no RAPL"),)
    status, _, reason = deciding_status("energy", timing(1.8, 2, 2.2), gone, 0.05)
    assert status == "not_significant" and "no RAPL" in reason


def test_throughput_is_the_inverse_of_latency_with_the_same_speedup() -> None:
    t = timing(1.8, 2.0, 2.2)
    lat = latency_metric("latency", t)
    thr = latency_metric("throughput", t)
    assert thr.baseline == pytest.approx(1 / lat.baseline)
    assert thr.speedup == lat.speedup
    assert thr.unit == "calls/s"


def test_order_puts_the_deciding_metric_first() -> None:
    ms = (metric("latency", 1, 1, 1), metric("cpu_time", 1, 1, 1), metric("peak_memory", 1, 1, 1))
    assert [m.name for m in order("memory", ms)] == ["peak_memory", "latency", "cpu_time"]
    assert [m.name for m in order("latency", ms)] == ["latency", "cpu_time", "peak_memory"]
