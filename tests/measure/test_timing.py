"""Interleaved timing, command timing and output checks on tiny real workloads.

Effects are large (10x) and assertions conservative: this machine runs a process at
one of two speeds, so nothing here asserts absolute times.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from perfsmith.core import Interval
from perfsmith.errors import ConfigError, WorkloadError
from perfsmith.measure import stats, timing
from perfsmith.measure.sampling import next_step
from perfsmith.measure.timing import TimingConfig
from tests.measure.boxes import Box

PY = sys.executable
FAST = TimingConfig(rounds=4, values=2, warmups=1, min_time_s=0.01, timeout_s=60)

WORK = """
def work(n):
    s = 0
    for i in range(n):
        s += i * i
    return s
"""

WORKLOAD = """
import pkg

def setup():
    global N
    N = 30000

def workload():
    return pkg.work(N)
"""


def make_box(tmp: Path, name: str, work: str = WORK, workload: str = WORKLOAD) -> Box:
    root = tmp / name
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text(work)
    (root / "wl.py").write_text(workload)
    private = tmp / f"{name}.private"
    private.mkdir()
    return Box(root, private)


def ten_times_less(work: str = WORK) -> str:
    return work.replace("range(n)", "range(n // 10)")


@pytest.fixture(scope="module")
def fast_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[timing.TimingResult, Path]:
    tmp = tmp_path_factory.mktemp("fast")
    base = make_box(tmp, "base")
    cand = make_box(tmp, "cand", work=ten_times_less())
    out = tmp / "out"
    result = timing.time_interleaved(
        base, cand, PY, "wl.py", pythonpath=["."], config=FAST, out_dir=out
    )
    return result, out


def test_ten_times_less_work_is_significantly_faster(
    fast_run: tuple[timing.TimingResult, Path],
) -> None:
    comp = fast_run[0].comparison
    assert comp.significant
    assert not comp.slower
    assert comp.speedup.low > 2.0  # true effect ~10x; leave ample room for noise
    assert comp.threshold == pytest.approx(1.05)
    assert comp.processes == FAST.rounds
    assert len(comp.baseline_s) == len(comp.candidate_s) == FAST.rounds * FAST.values
    assert all(x > 0 for x in comp.baseline_s + comp.candidate_s)


def test_result_records_loops_inner_time_and_files(
    fast_run: tuple[timing.TimingResult, Path],
) -> None:
    result, out = fast_run
    assert result.loops >= 1
    assert result.inner_s > 0
    assert result.files == {
        "baseline": str(out / "baseline.json"),
        "candidate": str(out / "candidate.json"),
        "cpu": str(out / "cpu.json"),
    }
    assert (out / "calibration.json").exists()


def test_written_files_hold_one_run_per_process_with_the_same_loops(
    fast_run: tuple[timing.TimingResult, Path],
) -> None:
    import pyperf

    result, out = fast_run
    for side in ("baseline", "candidate"):
        bench = pyperf.Benchmark.load(str(out / f"{side}.json"))
        runs = bench.get_runs()
        assert len(runs) == FAST.rounds
        assert {run.get_loops() for run in runs} == {result.loops}
        assert all(len(run.values) == FAST.values for run in runs)
        assert all(len(run.warmups) == FAST.warmups for run in runs)


def test_pyperf_compare_to_reads_the_files(fast_run: tuple[timing.TimingResult, Path]) -> None:
    _, out = fast_run
    proc = subprocess.run(
        [PY, "-m", "pyperf", "compare_to", str(out / "baseline.json"), str(out / "candidate.json")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "faster" in proc.stdout


def test_baseline_against_itself_is_not_significant(tmp_path: Path) -> None:
    base = make_box(tmp_path, "base")
    # A generous bar: one process may run up to ~20% slower than another here.
    config = TimingConfig(rounds=4, values=2, min_time_s=0.01, min_gain=0.6)
    result = timing.time_interleaved(
        base, base, PY, "wl.py", pythonpath=["."], config=config, out_dir=tmp_path / "out"
    )
    comp = result.comparison
    assert not comp.significant
    assert not comp.slower
    assert 0.5 < comp.speedup.estimate < 2.0


def test_faster_workload_calibrates_to_more_loops(tmp_path: Path) -> None:
    base = make_box(tmp_path, "base")
    cand = make_box(tmp_path, "cand", work=ten_times_less())
    slow_loops = timing.calibrate(
        base, PY, "wl.py", pythonpath=["."], out_dir=tmp_path / "b", config=FAST
    )
    fast_loops = timing.calibrate(
        cand, PY, "wl.py", pythonpath=["."], out_dir=tmp_path / "c", config=FAST
    )
    assert slow_loops >= 1
    assert fast_loops > slow_loops


SLOW_SETUP = """
import time

def setup():
    time.sleep(0.05)

def workload():
    return 1
"""


def test_setup_is_untimed_and_caps_the_calibrated_loops(tmp_path: Path) -> None:
    base = make_box(tmp_path, "base", workload=SLOW_SETUP)
    # Doubling to 2 loops would take ~0.1 s of setup per value: over the cap.
    config = TimingConfig(rounds=4, values=1, warmups=0, min_time_s=0.05, max_value_s=0.08)
    loops = timing.calibrate(base, PY, "wl.py", pythonpath=["."], out_dir=tmp_path / "c",
                             config=config)  # fmt: skip
    assert loops == 1
    result = timing.time_interleaved(
        base, base, PY, "wl.py", pythonpath=["."], config=config, out_dir=tmp_path / "o",
        loops=loops,
    )  # fmt: skip
    values = result.comparison.baseline_s + result.comparison.candidate_s
    assert max(values) < 0.025  # the 0.05 s sleep in setup() is not in any value


def test_crashing_candidate_raises_naming_the_candidate(tmp_path: Path) -> None:
    base = make_box(tmp_path, "base")
    crash = "def work(n):\n    raise RuntimeError('boom-4242')\n"
    cand = make_box(tmp_path, "cand", work=crash)
    with pytest.raises(WorkloadError) as info:
        timing.time_interleaved(
            base, cand, PY, "wl.py", pythonpath=["."], config=FAST, out_dir=tmp_path / "o", loops=2
        )
    msg = str(info.value)
    assert "candidate" in msg and "baseline" not in info.value.message.split(":")[0]
    assert "code 1" in msg
    assert "boom-4242" in msg
    assert info.value.hint


def test_crashing_baseline_during_calibration_names_the_baseline(tmp_path: Path) -> None:
    base = make_box(tmp_path, "base", workload="raise ImportError('no-such-thing')\n")
    cand = make_box(tmp_path, "cand")
    with pytest.raises(WorkloadError, match="baseline") as info:
        timing.time_interleaved(
            base, cand, PY, "wl.py", pythonpath=["."], config=FAST, out_dir=tmp_path / "o"
        )
    assert "no-such-thing" in str(info.value)


def test_workload_that_exits_early_is_caught(tmp_path: Path) -> None:
    base = make_box(tmp_path, "base")
    cheat = "import sys\n\ndef workload():\n    sys.exit(0)\n"
    cand = make_box(tmp_path, "cand", workload=cheat)
    with pytest.raises(WorkloadError, match="candidate"):
        timing.time_interleaved(
            base, cand, PY, "wl.py", pythonpath=["."], config=FAST, out_dir=tmp_path / "o", loops=2
        )


def test_hanging_candidate_times_out(tmp_path: Path) -> None:
    base = make_box(tmp_path, "base")
    hang = "import time\n\ndef workload():\n    time.sleep(60)\n"
    cand = make_box(tmp_path, "cand", workload=hang)
    config = TimingConfig(rounds=4, values=1, warmups=0, timeout_s=2)
    with pytest.raises(WorkloadError, match=r"candidate.*timed out after 2 s"):
        timing.time_interleaved(
            base, cand, PY, "wl.py", pythonpath=["."], config=config, out_dir=tmp_path / "o",
            loops=1,
        )  # fmt: skip


def test_invalid_config_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="rounds must be at least 4"):
        TimingConfig(rounds=3)
    with pytest.raises(ConfigError, match="rounds must be at least 5"):
        TimingConfig(rounds=4, confidence=0.99)
    assert TimingConfig(rounds=3, confidence=0.9).rounds == 3
    with pytest.raises(ConfigError, match="center"):
        TimingConfig(center="mean")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="min_time_s"):
        TimingConfig(min_time_s=0)


# -- commands -------------------------------------------------------------------------


def _script(box: Box, text: str) -> None:
    (box.root / "run.py").write_text(text)


LOOP = "s = 0\nfor i in range({n}):\n    s += i\n"


def test_command_timing_finds_a_big_gain_and_writes_pyperf_files(tmp_path: Path) -> None:
    base = make_box(tmp_path, "base")
    cand = make_box(tmp_path, "cand")
    # Each side runs its own run.py; the candidate's does 30x less work (process
    # startup shrinks the measured ratio, so the assertion stays modest).
    _script(base, LOOP.format(n=3_000_000))
    _script(cand, LOOP.format(n=100_000))
    result = timing.time_command(base, cand, [PY, "run.py"], config=FAST, out_dir=tmp_path / "o")
    comp = result.comparison
    assert comp.significant and comp.speedup.low > 1.5
    assert len(comp.baseline_s) == len(comp.candidate_s) == FAST.rounds
    assert result.loops == 1
    proc = subprocess.run(
        [PY, "-m", "pyperf", "compare_to", result.files["baseline"], result.files["candidate"]],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr


def test_command_rounds_alternate_who_goes_first(tmp_path: Path) -> None:
    log: list[str] = []
    base = make_box(tmp_path, "base")
    cand = make_box(tmp_path, "cand")
    base.log, base.name = log, "B"
    cand.log, cand.name = log, "C"
    timing.time_command(
        base, cand, [PY, "-c", "pass"], config=TimingConfig(rounds=4), out_dir=tmp_path / "o"
    )
    # One warm-up per side, then A B / B A / A B / B A.
    assert "".join(log) == "BC" + "BCCBBCCB"


def test_failing_command_names_the_side(tmp_path: Path) -> None:
    base = make_box(tmp_path, "base")
    cand = make_box(tmp_path, "cand")
    _script(base, "pass\n")
    _script(cand, "import sys\nsys.stderr.write('bad-news')\nsys.exit(3)\n")
    with pytest.raises(WorkloadError, match="candidate") as info:
        timing.time_command(base, cand, [PY, "run.py"], config=FAST, out_dir=tmp_path / "o")
    assert "code 3" in str(info.value) and "bad-news" in str(info.value)


# -- output checks --------------------------------------------------------------------


def _digest(box: Box, out: Path) -> str:
    return timing.check_output(box, PY, "wl.py", pythonpath=["."], out_path=out)


def test_check_output_same_for_same_code_and_pickles_the_value(tmp_path: Path) -> None:
    a, b = make_box(tmp_path, "a"), make_box(tmp_path, "b")
    da = _digest(a, tmp_path / "a.pickle")
    db = _digest(b, tmp_path / "b.pickle")
    assert da == db and len(da) == 64
    expected = sum(i * i for i in range(30000))
    assert pickle.loads((tmp_path / "a.pickle").read_bytes()) == expected
    summary = json.loads((tmp_path / "a.pickle.json").read_text())
    assert summary["sha256"] == da and summary["type"] == "int"


def test_check_output_differs_when_the_value_differs(tmp_path: Path) -> None:
    a = make_box(tmp_path, "a")
    b = make_box(tmp_path, "b", work=WORK.replace("return s", "return s + 1"))
    assert _digest(a, tmp_path / "a.pickle") != _digest(b, tmp_path / "b.pickle")


def test_check_output_ignores_dict_and_set_order(tmp_path: Path) -> None:
    one = "def workload():\n    return {'a': 1, 'b': {3, 1, 2}, 'c': [1.5, None]}\n"
    two = "def workload():\n    return {'c': [1.5, None], 'b': {2, 3, 1}, 'a': 1}\n"
    a = make_box(tmp_path, "a", workload=one)
    b = make_box(tmp_path, "b", workload=two)
    assert _digest(a, tmp_path / "a.pickle") == _digest(b, tmp_path / "b.pickle")


def test_check_output_compares_objects_by_content(tmp_path: Path) -> None:
    cls = "from dataclasses import dataclass\n\n@dataclass\nclass P:\n    x: int\n    s: set\n\n"
    a = make_box(tmp_path, "a", workload=cls + "def workload():\n    return P(1, {'a', 'b'})\n")
    b = make_box(tmp_path, "b", workload=cls + "def workload():\n    return P(1, {'b', 'a'})\n")
    c = make_box(tmp_path, "c", workload=cls + "def workload():\n    return P(2, {'a', 'b'})\n")
    da, db, dc = (_digest(x, tmp_path / f"{x.root.name}.pickle") for x in (a, b, c))
    assert da == db != dc


def test_check_output_tells_types_apart(tmp_path: Path) -> None:
    a = make_box(tmp_path, "a", workload="def workload():\n    return [1, 2]\n")
    b = make_box(tmp_path, "b", workload="def workload():\n    return (1, 2)\n")
    c = make_box(tmp_path, "c", workload="def workload():\n    return [1.0, 2.0]\n")
    digests = {_digest(x, tmp_path / f"{i}.pickle") for i, x in enumerate((a, b, c))}
    assert len(digests) == 3


def test_check_output_of_nothing_and_unpicklable_values(tmp_path: Path) -> None:
    a = make_box(tmp_path, "a", workload="def workload():\n    pass\n")
    b = make_box(tmp_path, "b", workload="def workload():\n    return None\n")
    c = make_box(tmp_path, "c", workload="def workload():\n    return (x for x in [1])\n")
    assert _digest(a, tmp_path / "a.pickle") == _digest(b, tmp_path / "b.pickle")
    assert pickle.loads((tmp_path / "a.pickle").read_bytes()) is None
    assert len(_digest(c, tmp_path / "c.pickle")) == 64


def test_check_output_crash_raises_with_the_stderr_tail(tmp_path: Path) -> None:
    a = make_box(tmp_path, "a", workload="def workload():\n    raise ValueError('odd-7')\n")
    with pytest.raises(WorkloadError, match="odd-7"):
        timing.check_output(
            a, PY, "wl.py", pythonpath=["."], out_path=tmp_path / "x", side="candidate"
        )
    assert not (tmp_path / "x").exists()


def test_check_output_runs_in_the_local_sandbox(tmp_path: Path) -> None:
    local = pytest.importorskip("perfsmith.sandbox.local")
    repo = tmp_path / "repo"
    make_box(tmp_path, "repo")
    box = local.LocalSandbox.create(repo, tmp_path / "work", "base")
    try:
        digest = timing.check_output(box, PY, "wl.py", pythonpath=["."], out_path=tmp_path / "p")
        assert digest == _digest(make_box(tmp_path, "plain"), tmp_path / "q")
    finally:
        box.close()


# -- adaptive sampling ----------------------------------------------------------------


def test_adaptive_stops_as_soon_as_a_big_gain_is_clear(tmp_path: Path) -> None:
    base = make_box(tmp_path, "base")
    cand = make_box(tmp_path, "cand", work=ten_times_less())
    config = TimingConfig(rounds=4, values=2, warmups=0, min_time_s=0.01, max_rounds=12)
    out = tmp_path / "o"
    result = timing.time_adaptive(
        base, cand, PY, "wl.py", pythonpath=["."], config=config, out_dir=out
    )
    comp = result.comparison
    assert result.stop == "settled" and comp.decided
    assert comp.significant and comp.processes == 4  # no round beyond the first four
    assert comp.p_value == pytest.approx(stats.min_p_value(4, 4))
    assert result.cpu is not None and result.cpu.significant
    assert len(result.cpu.baseline_s) == 4 * config.values
    cpu = json.loads((out / "cpu.json").read_text())
    assert [len(run) for run in cpu["candidate"]] == [config.values] * 4
    assert result.files["cpu"] == str(out / "cpu.json")


def test_adaptive_respects_its_caps_and_says_when_undecided(tmp_path: Path) -> None:
    base = make_box(tmp_path, "base")
    # min_gain 0: an identical candidate settles only by chance, so the caps decide.
    capped = TimingConfig(rounds=4, values=1, warmups=0, min_time_s=0.005, min_gain=0.0,
                          max_rounds=6, step_rounds=2)  # fmt: skip
    result = timing.time_adaptive(
        base, base, PY, "wl.py", pythonpath=["."], config=capped, out_dir=tmp_path / "a"
    )
    comp = result.comparison
    assert comp.processes in (4, 6)
    assert comp.decided == (result.stop == "settled")
    assert result.stop in ("settled", "max_rounds")
    if result.stop == "max_rounds":
        assert comp.processes == 6 and not comp.significant
    no_time = replace(capped, time_cap_s=1e-6)
    result = timing.time_adaptive(
        base, base, PY, "wl.py", pythonpath=["."], config=no_time, out_dir=tmp_path / "b"
    )
    assert result.comparison.processes == 4  # the first rounds always run, no step after
    assert result.stop in ("settled", "time_cap")
    assert result.comparison.decided == (result.stop == "settled")


def _decision(low: float, high: float, decidable: bool = True) -> stats.SpeedupDecision:
    return stats.classify(Interval(1.0, low, high), min_gain=0.05, decidable=decidable)


@pytest.mark.parametrize(
    ("low", "high", "done", "spent", "expect"),
    [
        (1.10, 1.30, 6, 10.0, ("settled", 0)),  # faster
        (0.70, 0.90, 6, 10.0, ("settled", 0)),  # slower
        (0.97, 1.04, 6, 10.0, ("settled", 0)),  # confidently below the bar
        (0.90, 1.20, 6, 10.0, (None, 2)),  # unclear: two more rounds
        (0.90, 1.20, 29, 10.0, (None, 1)),  # ...but never past max_rounds
        (0.90, 1.20, 30, 10.0, ("max_rounds", 0)),
        (0.90, 1.20, 6, 117.0, ("time_cap", 0)),  # two rounds of 2 s would pass 120 s
        (0.90, 1.20, 6, 116.0, (None, 2)),
    ],
)  # fmt: skip
def test_next_step_of_adaptive_sampling(
    low: float, high: float, done: int, spent: float, expect: tuple[str | None, int]
) -> None:
    step = next_step(
        _decision(low, high), rounds_done=done, spent_s=spent, round_s=2.0, config=TimingConfig()
    )
    assert step == expect


def test_too_few_samples_never_settle() -> None:
    step = next_step(_decision(1.5, 2.0, decidable=False), rounds_done=3, spent_s=0.0,
                     round_s=1.0, config=TimingConfig(rounds=3, confidence=0.9))  # fmt: skip
    assert step == (None, 2)


def test_new_config_fields_are_checked() -> None:
    defaults = TimingConfig()
    assert (defaults.step_rounds, defaults.max_rounds, defaults.time_cap_s) == (2, 30, 120.0)
    assert defaults.center == "hodges_lehmann"
    with pytest.raises(ConfigError, match="max_rounds"):
        TimingConfig(rounds=8, max_rounds=6)
    with pytest.raises(ConfigError, match="step_rounds"):
        TimingConfig(step_rounds=0)
    with pytest.raises(ConfigError, match="time_cap_s"):
        TimingConfig(time_cap_s=0)
    assert TimingConfig(center="run_medians").center == "run_medians"


# -- the cold metric --------------------------------------------------------------------

MEMO = """
_MEMO = {}

def work(n):
    if n not in _MEMO:
        s = 0
        for i in range(n):
            s += i * i
        _MEMO[n] = s
    return _MEMO[n]
"""
COLD_WORKLOAD = "import pkg\n\ndef workload():\n    return pkg.work(200000)\n"


def test_memoisation_wins_warm_but_not_cold(tmp_path: Path) -> None:
    base = make_box(tmp_path, "base", workload=COLD_WORKLOAD)
    cand = make_box(tmp_path, "cand", work=MEMO, workload=COLD_WORKLOAD)
    warm = timing.time_interleaved(
        base, cand, PY, "wl.py", pythonpath=["."], config=FAST, out_dir=tmp_path / "w"
    )
    assert warm.comparison.significant and warm.comparison.speedup.low > 5
    out = tmp_path / "c"
    cold = timing.time_cold(
        base, cand, PY, "wl.py", pythonpath=["."], processes=5, out_dir=out, threshold=1.05
    )
    assert not cold.significant
    assert cold.processes == 5 and len(cold.baseline_s) == 5
    assert 0.5 < cold.speedup.estimate < 2.0
    records = json.loads((out / "cold.json").read_text())
    assert len(records["candidate"]) == 5
    assert {"value", "cpu", "import_s", "setup_s"} <= set(records["baseline"][0])


def test_cold_metric_sees_a_real_gain(tmp_path: Path) -> None:
    base = make_box(tmp_path, "base", workload=COLD_WORKLOAD)
    cand = make_box(tmp_path, "cand", work=ten_times_less(), workload=COLD_WORKLOAD)
    cold = timing.time_cold(
        base, cand, PY, "wl.py", pythonpath=["."], processes=4, out_dir=tmp_path / "c",
        threshold=1.05,
    )  # fmt: skip
    assert cold.significant and cold.speedup.low > 2
    assert cold.threshold == pytest.approx(1.05)
    with pytest.raises(ValueError, match="threshold"):
        timing.time_cold(base, cand, PY, "wl.py", pythonpath=["."], processes=4,
                         out_dir=tmp_path / "d", threshold=0.9)  # fmt: skip
