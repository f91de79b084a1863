"""The roofline of gate 6: the bound and the verdict (pure), the per-machine cache of the
measured peaks, and real kernels held against it: a kernel that leaves its work to a
detached thread is below the bound, honest ones are not (times measured here, never
compared with each other)."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from perfsmith.config import CheckSettings, resolve
from perfsmith.core import Comparison, Interval, Measurement, MetricResult
from perfsmith.kernels.mode import kernel_overrides
from perfsmith.measure import hardware, roofline
from perfsmith.measure.baseline import Baseline
from perfsmith.measure.evaluator import PipelineEvaluator
from perfsmith.measure.plausibility import check_plausibility, check_roofline
from perfsmith.measure.roofline import (
    MAX_WORKING_SET,
    MIN_WORKING_SET,
    SLACK,
    machine_key,
    machine_peaks,
    roofline_min_s,
    roofline_verdict,
    working_set_size,
)
from perfsmith.measure.timing import TimingConfig
from perfsmith.sandbox.local import LocalSandbox
from tests.kernels.kernel_fixtures import FIXTURES

GFLOP, GB = 1e9, 1e9


# ------------------------------------------------------------------ roofline_min_s
@pytest.mark.parametrize(
    ("flops", "nbytes", "peak", "bandwidth", "expected"),
    [
        (2e9, 1e6, 100 * GFLOP, 10 * GB, 0.02),  # compute decides: 20 ms against 0.1 ms
        (1e6, 1e9, 100 * GFLOP, 10 * GB, 0.1),  # memory decides
        (1e9, 1e8, 100 * GFLOP, 10 * GB, 0.01),  # both 10 ms
        (None, 1e9, 100 * GFLOP, 10 * GB, 0.1),  # no flops declared
        (2e9, None, 100 * GFLOP, 10 * GB, 0.02),  # no bytes declared
        (2e9, 1e9, None, 10 * GB, 0.1),  # no arithmetic peak measured: bytes alone
        (2e9, 1e9, 100 * GFLOP, None, 0.02),
        (None, None, 100 * GFLOP, 10 * GB, 0.0),
        (0.0, 0.0, 100 * GFLOP, 10 * GB, 0.0),
        (None, None, None, None, 0.0),
    ],
)
def test_roofline_min_s_is_the_slower_of_compute_and_memory(
    flops: float | None,
    nbytes: float | None,
    peak: float | None,
    bandwidth: float | None,
    expected: float,
) -> None:
    assert math.isclose(roofline_min_s(flops, nbytes, peak, bandwidth), expected, rel_tol=1e-12)


@pytest.mark.parametrize(
    ("flops", "nbytes", "peak", "bandwidth", "fragment"),
    [
        (-1.0, None, 1.0, 1.0, "flops must be"),
        (None, -1.0, 1.0, 1.0, "bytes must be"),
        (math.nan, None, 1.0, 1.0, "flops must be"),
        (math.inf, None, 1.0, 1.0, "flops must be"),
        (1.0, None, 0.0, 1.0, "peak for flops"),
        (1.0, None, -5.0, 1.0, "peak for flops"),
        (None, 1.0, 1.0, 0.0, "peak for bytes"),
        (None, 1.0, 1.0, math.nan, "peak for bytes"),
        (None, 1.0, 1.0, math.inf, "peak for bytes"),
    ],
)
def test_roofline_min_s_refuses_nonsense(
    flops: float | None, nbytes: float | None, peak: float, bandwidth: float, fragment: str
) -> None:
    with pytest.raises(ValueError, match=fragment):
        roofline_min_s(flops, nbytes, peak, bandwidth)


def test_a_zero_peak_is_harmless_where_its_work_is_not_declared() -> None:
    assert roofline_min_s(None, 1e9, 0.0, 10 * GB) == 0.1


# ------------------------------------------------------------------ the verdict
def _verdict(time_s: float, slack: float = SLACK) -> roofline.RooflineVerdict:
    # min_s = max(2e9 / 100e9, 1e8 / 10e9) = 20 ms, compute-bound.
    return roofline_verdict(
        time_s, flops=2e9, bytes=1e8, peak_flops=100 * GFLOP, bandwidth=10 * GB, slack=slack
    )


def test_default_slack_is_two() -> None:
    assert SLACK == 2.0
    assert _verdict(0.02).slack == 2.0


@pytest.mark.parametrize(
    ("time_s", "plausible"),
    [
        (1.0, True),  # far slower than possible: fine
        (0.02, True),  # exactly at the roofline
        (0.0100001, True),
        (0.01, True),  # exactly min_s / slack: not below, so believed
        (0.0099999, False),  # just below
        (0.001, False),
        (0.0, False),
    ],
)
def test_verdict_boundary_is_min_s_over_slack(time_s: float, plausible: bool) -> None:
    v = _verdict(time_s)
    assert v.plausible is plausible
    assert math.isclose(v.min_s, 0.02)


def test_slack_one_believes_nothing_below_the_roofline() -> None:
    assert _verdict(0.02, slack=1.0).plausible
    assert not _verdict(0.0199, slack=1.0).plausible
    assert _verdict(0.0021, slack=10.0).plausible
    assert not _verdict(0.0019, slack=10.0).plausible


@pytest.mark.parametrize("slack", [0.5, 0.0, -1.0, math.nan])
def test_slack_below_one_is_refused(slack: float) -> None:
    with pytest.raises(ValueError, match="slack"):
        _verdict(0.02, slack=slack)


@pytest.mark.parametrize("time_s", [-1e-6, math.nan, math.inf])
def test_time_must_be_a_finite_non_negative_number(time_s: float) -> None:
    with pytest.raises(ValueError, match="time_s"):
        _verdict(time_s)


def test_no_declared_work_is_always_plausible() -> None:
    v = roofline_verdict(0.0, flops=None, bytes=None, peak_flops=1.0, bandwidth=1.0)
    assert v.plausible and v.min_s == 0.0 and v.fraction == 0.0 and v.bound == "none"


def test_verdict_fraction_and_bound() -> None:
    v = _verdict(0.04)
    assert math.isclose(v.fraction, 0.5) and v.bound == "compute"
    memory = roofline_verdict(0.4, flops=1e6, bytes=1e9, peak_flops=100 * GFLOP, bandwidth=10 * GB)
    assert memory.bound == "memory" and math.isclose(memory.fraction, 0.25)
    assert math.isinf(_verdict(0.0).fraction)


def test_reason_gives_the_numbers() -> None:
    v = _verdict(0.001)  # 20x the roofline
    text = v.reason()
    for part in (
        "1 ms per call",  # the candidate's time
        "20 ms",  # the least time
        "2 GFLOP at 100 GFLOP/s",  # the deciding work and peak
        "2 TFLOP/s against a measured peak of 100 GFLOP/s",  # implied rate
        "100 GB/s against a measured 10 GB/s",
        "20.0x the roofline",
        "more than 2x is not believed",
    ):
        assert part in text, text
    assert "45% of the roofline" in _verdict(0.02 / 0.45).note()
    assert "at least 20 ms per call" in _verdict(0.05).note()


def test_memory_bound_reason_names_bytes() -> None:
    v = roofline_verdict(1e-5, flops=None, bytes=1e9, peak_flops=None, bandwidth=50 * GB)
    assert not v.plausible
    assert "1 GB at 50 GB/s" in v.reason() and "FLOP" not in v.reason()


# ------------------------------------------------------------------ working set and cache key
@pytest.mark.parametrize(
    ("nbytes", "expected"),
    [
        (4096, 4096),
        (4097, 4096),
        (8191, 4096),
        (8192, 8192),
        (3 * 2**20, 2**21),  # rounded down: a smaller set is measured, in a faster cache
        (2**27 + 1, 2**27),
        (1, MIN_WORKING_SET),
        (0, MIN_WORKING_SET),
        (-5, MIN_WORKING_SET),
        (math.nan, MIN_WORKING_SET),
        (2**40, MAX_WORKING_SET),
        (math.inf, MAX_WORKING_SET),
        (1.5e6, 2**20),
    ],
)
def test_working_set_size_rounds_down_to_a_power_of_two(nbytes: float, expected: int) -> None:
    assert working_set_size(nbytes) == expected


def test_machine_key_is_the_fingerprint_without_its_id_and_numpy() -> None:
    fp = {"cpu": "X", "cpus": 2, "machine": "x86_64", "kernel": "6", "os": "Linux",
          "python": "CPython 3.11", "sandbox": "host", "id": "abc"}  # fmt: skip
    key = machine_key(fp, "2.4.6")
    assert len(key) == 16 and int(key, 16) >= 0
    assert machine_key({**fp, "id": "other"}, "2.4.6") == key
    assert machine_key(dict(reversed(list(fp.items()))), "2.4.6") == key
    assert machine_key({**fp, "cpus": 4}, "2.4.6") != key
    assert machine_key({**fp, "cpu": "Y"}, "2.4.6") != key
    assert machine_key(fp, "2.5.0") != key
    assert machine_key(fp, None) != key


# ------------------------------------------------------------------ the cache file
def _this_key() -> str:
    np = pytest.importorskip("numpy")
    fp = hardware.fingerprint(python=sys.executable, sandbox="host")
    return machine_key(fp, np.__version__)


def _write(
    path: Path, key: str, flops: dict[str, float], bandwidth: dict[str, dict[str, float]]
) -> None:
    path.write_text(
        json.dumps({"version": 1, "machines": {key: {"flops": flops, "bandwidth": bandwidth}}}),
        encoding="utf-8",
    )


def test_cached_peaks_are_used_without_measuring(tmp_path: Path) -> None:
    path = tmp_path / "roofline.json"
    huge = 1e18  # no measurement reaches this: seeing it back means nothing was measured
    _write(path, _this_key(), {"fma probe": huge}, {str(2**20): {"read probe": 2 * huge}})
    peaks = machine_peaks(1.5e6, path=path)  # rounds down to the 1 MiB entry
    assert peaks.cached
    assert (peaks.flops_per_s, peaks.bytes_per_s, peaks.working_set) == (huge, 2 * huge, 2**20)
    assert dict(peaks.sources) == {"fma probe": huge, "read probe": 2 * huge}


@pytest.mark.slow
def test_measured_peaks_are_cached_by_machine_and_working_set(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "roofline.json"
    peaks = machine_peaks(100_000, path=path)
    assert not peaks.cached and peaks.working_set == 65536
    assert peaks.flops_per_s is not None and peaks.flops_per_s > 1e8
    assert peaks.bytes_per_s is not None and peaks.bytes_per_s > 1e8
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["version"] == 1 and list(data["machines"]) == [_this_key()]
    entry = data["machines"][_this_key()]
    assert entry["fingerprint"]["cpus"] >= 1
    assert set(entry["bandwidth"]) == {"65536"}
    assert max(entry["flops"].values()) == peaks.flops_per_s
    assert max(entry["bandwidth"]["65536"].values()) == peaks.bytes_per_s
    assert [p.name for p in path.parent.iterdir()] == ["roofline.json"]  # no temp file left
    again = machine_peaks(70_000, path=path)  # same power of two: from the cache
    assert again.cached and again.bytes_per_s == peaks.bytes_per_s
    other = machine_peaks(300_000, path=path)  # another size: only its bandwidth is measured
    assert not other.cached and other.flops_per_s == peaks.flops_per_s
    entry = json.loads(path.read_text(encoding="utf-8"))["machines"][_this_key()]
    assert set(entry["bandwidth"]) == {"65536", "262144"}
    only_flops = machine_peaks(None, path=path)
    assert only_flops.cached and only_flops.bytes_per_s is None and only_flops.working_set is None


@pytest.mark.slow
def test_fresh_measurements_only_ever_raise_a_cached_peak(tmp_path: Path) -> None:
    path = tmp_path / "roofline.json"
    key = _this_key()
    _write(path, key, {"fma probe": 1.0, "numpy matmul float32": 1e18},
           {"65536": {"read probe": 1.0}})  # fmt: skip
    peaks = machine_peaks(65536, fresh=True, path=path)
    assert not peaks.cached
    assert peaks.sources["numpy matmul float32"] == 1e18  # higher than measured: kept
    assert peaks.sources["fma probe"] > 1e8  # the stale low value was replaced
    assert peaks.sources["read probe"] > 1e8
    stored = json.loads(path.read_text(encoding="utf-8"))["machines"][key]
    assert stored["flops"]["numpy matmul float32"] == 1e18
    assert stored["bandwidth"]["65536"]["read probe"] == peaks.sources["read probe"]


@pytest.mark.slow
@pytest.mark.parametrize("content", ["{not json", '{"version": 0, "machines": {}}', "[]"])
def test_an_unreadable_or_old_cache_is_measured_again(tmp_path: Path, content: str) -> None:
    path = tmp_path / "roofline.json"
    path.write_text(content, encoding="utf-8")
    peaks = machine_peaks(4096, path=path)
    assert not peaks.cached and peaks.flops_per_s and peaks.bytes_per_s
    assert json.loads(path.read_text(encoding="utf-8"))["version"] == 1


# ------------------------------------------------------------------ gate 6
def _samples(seconds: float) -> tuple[float, ...]:
    return (seconds,) * 8


def _faster(candidate_s: float, baseline_s: float = 1.0) -> Measurement:
    comparison = Comparison(
        baseline_s=_samples(baseline_s),
        candidate_s=_samples(candidate_s),
        speedup=Interval(
            baseline_s / candidate_s, baseline_s / candidate_s, baseline_s / candidate_s
        ),
        threshold=1.05,
        significant=True,
        slower=False,
        processes=4,
    )
    latency = MetricResult("latency", "s", baseline_s, candidate_s, comparison.speedup, 4,
                           note="interleaved pyperf workers")  # fmt: skip
    cold = MetricResult("cold_latency", "s", baseline_s, candidate_s, None, 4, note="x")
    return Measurement(
        status="faster", reason="ok", patch="", comparison=comparison, metrics=(latency, cold)
    )


@pytest.fixture
def evaluator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., PipelineEvaluator]]:
    """An evaluator for the vadd fixture with the given roofline settings; the peaks' cache
    lives in tmp_path/cache/roofline.json."""
    monkeypatch.setenv("PERFSMITH_CACHE", str(tmp_path / "cache"))
    repo, overrides = kernel_overrides(FIXTURES / "vadd", tmp_path / "cache")
    cfg = resolve(repo, overrides=overrides)
    base = LocalSandbox.create(repo, tmp_path / "work", "base")

    def make(**checks: float) -> PipelineEvaluator:
        return PipelineEvaluator(
            base,
            cfg.to_task(),
            python=sys.executable,
            timing=TimingConfig(rounds=4, values=2, warmups=0, min_time_s=0.02),
            test_timeout_s=60,
            checks=CheckSettings(**checks),
        )

    yield make
    base.close()


def test_no_declared_work_leaves_the_measurement_alone(
    evaluator: Callable[..., PipelineEvaluator], tmp_path: Path
) -> None:
    m = _faster(1e-12)
    assert check_roofline(evaluator(), m) is m
    assert not (tmp_path / "cache" / "roofline.json").exists()  # nothing was measured


def test_a_time_below_the_cached_roofline_is_quarantined(
    evaluator: Callable[..., PipelineEvaluator], tmp_path: Path
) -> None:
    # Cached peaks far above anything measurable, so the fresh measurement before the
    # quarantine keeps them (a peak only ever goes up): min_s = 4e6 / 1e13 = 0.4 µs.
    path = tmp_path / "cache" / "roofline.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    _write(path, _this_key(), {"fma probe": 1e15}, {str(2**21): {"read probe": 1e13}})
    m = check_roofline(evaluator(roofline_bytes=4e6, roofline_flops=1e6), _faster(1e-7))
    assert (m.status, m.gate, m.code) == ("quarantined", "plausibility", "above_roofline")
    expected = [
        "100 ns per call",
        "4 MB at 10 TB/s",
        "takes 400 ns",
        "4.0x the roofline",
        "40 TB/s against a measured 10 TB/s",
        "10 TFLOP/s against a measured peak of 1 PFLOP/s",
    ]
    for part in expected:
        assert part in m.reason, m.reason
    assert m.metrics == _faster(1e-7).metrics  # no note for a quarantined candidate


def test_a_kept_candidate_gets_its_roofline_share_in_the_latency_note(
    evaluator: Callable[..., PipelineEvaluator], tmp_path: Path
) -> None:
    path = tmp_path / "cache" / "roofline.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    _write(path, _this_key(), {"fma probe": 1e12}, {str(2**21): {"read probe": 1e10}})
    m = check_roofline(evaluator(roofline_bytes=4e6), _faster(1e-3))  # min_s 0.4 ms
    assert m.status == "faster" and not m.flags
    latency, cold = m.metrics
    assert latency.note == (
        "interleaved pyperf workers; 40% of the roofline "
        "(at least 400 µs per call: 4 MB at 10 GB/s)"
    )
    assert cold.note == "x"


def test_a_baseline_below_the_roofline_means_the_bound_is_wrong(
    evaluator: Callable[..., PipelineEvaluator], tmp_path: Path
) -> None:
    path = tmp_path / "cache" / "roofline.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    _write(path, _this_key(), {"fma probe": 1e15}, {str(2**21): {"read probe": 1e13}})
    m = check_roofline(evaluator(roofline_bytes=4e6), _faster(1e-8, baseline_s=1e-7))
    assert m.status == "faster" and m.flags == ("roofline_baseline_below",)


@pytest.mark.slow
def test_cached_peaks_that_would_quarantine_are_measured_again_first(
    evaluator: Callable[..., PipelineEvaluator], tmp_path: Path
) -> None:
    # A stale, absurdly low cached bandwidth (1 MB/s) would put 1 ms per call for 1 MB
    # below the bound; measured again, the machine is far faster and the time is believed.
    path = tmp_path / "cache" / "roofline.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    _write(path, _this_key(), {"fma probe": 1.0}, {str(2**19): {"read probe": 1e6}})
    m = check_roofline(evaluator(roofline_bytes=1e6), _faster(1e-3))
    assert m.status == "faster" and not m.flags
    assert "of the roofline" in m.metrics[0].note
    stored = json.loads(path.read_text(encoding="utf-8"))["machines"][_this_key()]
    assert stored["bandwidth"][str(2**19)]["read probe"] > 1e8
    assert stored["flops"]["fma probe"] > 1e8


@pytest.mark.slow
def test_check_plausibility_runs_the_roofline_before_anything_else(
    evaluator: Callable[..., PipelineEvaluator], tmp_path: Path
) -> None:
    # No workload process runs: the quarantine comes before the cold processes.
    path = tmp_path / "cache" / "roofline.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    _write(path, _this_key(), {"fma probe": 1e15}, {str(2**21): {"read probe": 1e13}})
    ev = evaluator(roofline_bytes=4e6)
    baseline = Baseline(
        expected_tests=frozenset(), median_s=1.0, samples=8, noise=0.0, digests={}, trees={},
        hidden_seeds=(), variants=0, written=frozenset(), profile=None,
    )  # fmt: skip
    cand = ev.base.clone("cand")
    try:
        m = check_plausibility(ev, cand, _faster(1e-8), baseline, tmp_path / "out")
    finally:
        cand.close()
    assert m.code == "above_roofline"
    assert not (tmp_path / "out" / "cold").exists()


@pytest.mark.parametrize(("threads", "total"), [(1, 4096), (16, 4096), (200, 4096), (3, 1 << 20)])
def test_threaded_probe_shares_stay_inside_the_buffer(threads: int, total: int) -> None:
    """Many CPUs and a small working set: no share may start or end past the buffer, and
    each share is large enough for the probes' widest loads."""
    from perfsmith.measure.peaks import _threaded

    seen: list[tuple[int, int]] = []

    def run(lo: int, share: int) -> None:
        seen.append((lo, share))

    assert _threaded(threads, total, run, 1) > 0
    assert seen and all(lo + share <= total and share >= 512 for lo, share in seen)
