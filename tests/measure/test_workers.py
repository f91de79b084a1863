"""Worker plumbing on real processes: private folders, clock integrity, output checks."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from perfsmith.core import ExecResult
from perfsmith.errors import WorkloadError
from perfsmith.measure import _worker, timing, workers
from perfsmith.measure.equivalence import compare
from perfsmith.measure.timing import TimingConfig
from perfsmith.measure.workers import TamperError
from tests.measure.test_timing import PY, Box, make_box

FAST = TimingConfig(rounds=4, values=1, warmups=0, min_time_s=0.005, timeout_s=60)


def check(box: Box, out: Path, **kwargs: object) -> workers.OutputCheck:
    return workers.check_output_tree(
        box,
        PY,
        "wl.py",
        pythonpath=["."],
        out_path=out,
        **kwargs,  # type: ignore[arg-type]
    )


# -- a fresh HOME, TMPDIR and XDG_CACHE_HOME per process -----------------------------------

SNOOP = """
import os

def workload():
    seen = {}
    for var in ("HOME", "TMPDIR", "XDG_CACHE_HOME"):
        folder = os.environ[var]
        seen[var] = [folder, sorted(os.listdir(folder))]
        with open(os.path.join(folder, "cache.bin"), "w") as f:
            f.write("left for the next process")
    return seen
"""


def test_each_process_gets_fresh_private_folders_removed_after(tmp_path: Path) -> None:
    box = make_box(tmp_path, "a", workload=SNOOP)
    one = check(box, tmp_path / "1.pickle")
    two = check(box, tmp_path / "2.pickle")
    seen_one = pickle.loads((tmp_path / "1.pickle").read_bytes())
    seen_two = pickle.loads((tmp_path / "2.pickle").read_bytes())
    for var in ("HOME", "TMPDIR", "XDG_CACHE_HOME"):
        assert seen_one[var][1] == [] and seen_two[var][1] == []  # nothing carried over
        assert seen_one[var][0] != seen_two[var][0]
        assert Path(seen_one[var][0]).is_relative_to(box.private)
        assert not Path(seen_one[var][0]).exists()  # removed when the process ended
    assert one.digest != two.digest  # the paths differ, so the values do


def test_commands_get_fresh_folders_too(tmp_path: Path) -> None:
    base, cand = make_box(tmp_path, "base"), make_box(tmp_path, "cand")
    script = (
        "import os, sys\n"
        "marker = os.path.join(os.environ['HOME'], 'was-here')\n"
        "if os.path.exists(marker):\n    sys.exit(3)\n"
        "open(marker, 'w').close()\n"
    )
    for box in (base, cand):
        (box.root / "run.py").write_text(script)
    result = timing.time_command(base, cand, [PY, "run.py"], config=FAST, out_dir=tmp_path / "o")
    assert result.comparison.processes == FAST.rounds


# -- clock integrity ----------------------------------------------------------------------

RETURN_ONE = "\ndef workload():\n    return 1\n"
PATCH_AT_IMPORT = "import time\n\ntime.perf_counter = lambda: 0.0\n" + RETURN_ONE
PATCH_IN_SETUP = "import time\n\ndef setup():\n    time.monotonic_ns = lambda: 0\n" + RETURN_ONE
PATCH_DODGED = (
    "import importlib\n\n"
    'clock = importlib.import_module("".join(("ti", "me")))\n'
    'name = "process_" + "time"\n'
    "real = getattr(clock, name)\n"
    "setattr(clock, name, lambda: real() * 0.5)\n\n"
    "def workload():\n    return 1\n"
)
PATCH_IN_WORKLOAD = "import time\n\ndef workload():\n    time.time = lambda: 0.0\n    return 1\n"


@pytest.mark.parametrize(
    ("code", "name", "where"),
    [
        (PATCH_AT_IMPORT, "time.perf_counter", "after importing the workload"),
        (PATCH_IN_SETUP, "time.monotonic_ns", "after setup()"),
        (PATCH_DODGED, "time.process_time", "after importing the workload"),
        (PATCH_IN_WORKLOAD, "time.time", "after workload()"),
    ],
)
def test_a_replaced_clock_is_a_tamper_error_naming_it(
    tmp_path: Path, code: str, name: str, where: str
) -> None:
    box = make_box(tmp_path, "cand", workload=code)
    with pytest.raises(TamperError) as info:
        workers.check_output(box, PY, "wl.py", pythonpath=["."], out_path=tmp_path / "o",
                             side="candidate")  # fmt: skip
    assert info.value.patched == (name,)
    assert name in info.value.message and where in info.value.message
    assert "candidate" in info.value.message and info.value.hint
    assert isinstance(info.value, WorkloadError)


def test_timing_a_clock_patcher_names_the_candidate(tmp_path: Path) -> None:
    base = make_box(tmp_path, "base")
    cand = make_box(tmp_path, "cand", workload=PATCH_IN_SETUP)
    with pytest.raises(TamperError, match=r"candidate replaced time\.monotonic_ns"):
        timing.time_interleaved(
            base, cand, PY, "wl.py", pythonpath=["."], config=FAST, out_dir=tmp_path / "o", loops=2
        )


def test_a_clock_replaced_before_the_worker_starts_is_caught(tmp_path: Path) -> None:
    box = make_box(tmp_path, "cand")
    # site imports sitecustomize from PYTHONPATH before the worker's first line.
    (box.root / "sitecustomize.py").write_text("import time\ntime.perf_counter = lambda: 1.0\n")
    with pytest.raises(TamperError, match="before the workload was imported"):
        check(box, tmp_path / "o")


def test_results_cannot_be_rewritten_at_exit(tmp_path: Path) -> None:
    # An atexit hook that overwrites the results file with tiny timings never runs.
    rewrite = (
        "import atexit, sys\n\n"
        "def fake():\n"
        "    out = sys.argv[sys.argv.index('-o') + 1]\n"
        "    open(out, 'w').write('{}')\n\n"
        "atexit.register(fake)\n"
    )
    base = make_box(tmp_path, "base")
    cand = make_box(
        tmp_path, "cand", workload=rewrite + "\n" + Path(base.root / "wl.py").read_text()
    )
    result = timing.time_interleaved(
        base, cand, PY, "wl.py", pythonpath=["."], config=FAST, out_dir=tmp_path / "o", loops=2
    )
    assert len(result.comparison.candidate_s) == FAST.rounds


def _res(duration: float) -> ExecResult:
    return ExecResult(("python",), 0, "", "", duration)


def test_timed_seconds_beyond_the_process_wall_time_are_refused() -> None:
    workers.check_wall("candidate", "timing", 0.9, _res(1.0))
    workers.check_wall("candidate", "timing", 1.05, _res(1.0))  # within slack
    with pytest.raises(TamperError, match=r"reported 2\.000 s of timed calls") as info:
        workers.check_wall("candidate", "timing", 2.0, _res(1.0))
    assert info.value.patched == ()


def test_the_worker_and_the_harness_agree_on_the_tamper_exit_code() -> None:
    assert _worker.TAMPER_EXIT == workers.TAMPER_EXIT
    assert set(_worker.TIMER_NAMES) >= {
        "perf_counter", "perf_counter_ns", "process_time", "process_time_ns",
        "time", "time_ns", "monotonic", "monotonic_ns",
    }  # fmt: skip


# -- output checks: trees, seeds and variants -------------------------------------------------

FLOATS = "def workload():\n    return {{'total': {expr}, 'items': [1, 2.5, (3,)]}}\n"


def test_check_output_tree_returns_the_canonical_tree_for_tolerant_comparison(
    tmp_path: Path,
) -> None:
    a = check(make_box(tmp_path, "a", workload=FLOATS.format(expr="0.1 + 0.2")), tmp_path / "a.p")
    b = check(make_box(tmp_path, "b", workload=FLOATS.format(expr="0.3")), tmp_path / "b.p")
    assert a.digest != b.digest
    assert a.tree["$dict"][1] == ["total", 0.1 + 0.2]
    diff = compare(a.tree, b.tree)
    assert diff is not None and diff.path == "['total']"
    assert compare(a.tree, b.tree, rel_tol=1e-9) is None
    assert (tmp_path / "a.p.tree.json").exists()
    assert a.type_name == "dict" and a.pickled and a.variants == 0


SEEDED = (
    "import os, random\n\n"
    "def workload():\n"
    "    return os.environ.get('PERFSMITH_SEED'), random.random()\n"
)


def test_seed_reaches_the_workload_and_seeds_random(tmp_path: Path) -> None:
    box = make_box(tmp_path, "a", workload=SEEDED)

    def value(seed: int | None, name: str) -> tuple[str | None, float]:
        check(box, tmp_path / name, seed=seed)
        return tuple(pickle.loads((tmp_path / name).read_bytes()))  # type: ignore[return-value]

    three, again, four = value(3, "1.p"), value(3, "2.p"), value(4, "3.p")
    assert three == again and three[0] == "3"
    assert four[0] == "4" and four[1] != three[1]
    assert value(None, "4.p")[0] is None


VARIANTS = (
    "N = 1\n\n"
    "def variants():\n    return [10, 20, 30]\n\n"
    "def setup(n=5):\n    global N\n    N = n\n\n"
    "def workload():\n    return N * 2\n"
)


def test_variants_are_passed_to_setup(tmp_path: Path) -> None:
    box = make_box(tmp_path, "a", workload=VARIANTS)
    plain = check(box, tmp_path / "p")
    assert plain.variants == 3
    assert pickle.loads((tmp_path / "p").read_bytes()) == 10  # setup() with its default
    got = []
    for i in range(plain.variants):
        check(box, tmp_path / f"v{i}", variant=i)
        got.append(pickle.loads((tmp_path / f"v{i}").read_bytes()))
    assert got == [20, 40, 60]
    with pytest.raises(WorkloadError, match="variant 3 of 3 does not exist"):
        check(box, tmp_path / "x", variant=3)


def test_variants_need_a_setup_with_a_parameter(tmp_path: Path) -> None:
    no_param = "def variants():\n    return [1]\n\ndef setup():\n    pass\n" + RETURN_ONE
    box = make_box(tmp_path, "a", workload=no_param)
    with pytest.raises(WorkloadError, match=r"setup\(variant\)"):
        check(box, tmp_path / "x", variant=0)
    plain = make_box(tmp_path, "b", workload="def workload():\n    return 1\n")
    with pytest.raises(WorkloadError, match="no variants"):
        check(plain, tmp_path / "y", variant=0)


def test_worker_files_are_installed_side_by_side(tmp_path: Path) -> None:
    box = make_box(tmp_path, "a")
    script = workers.install_worker(box)
    assert script.name == workers.WORKER_NAME
    copied = box.private / workers.CANONICAL_NAME
    assert copied.read_bytes() == workers.CANONICAL_SOURCE.read_bytes()
    assert script.read_bytes() == workers.WORKER_SOURCE.read_bytes()
