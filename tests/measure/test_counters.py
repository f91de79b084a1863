"""Instructions, peak memory and energy per call, measured for real in local sandboxes.

Instruction counts come from valgrind and are deterministic, so these tests assert exact
equality and small (2%) differences; nothing here asserts wall-clock speed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from perfsmith.errors import WorkloadError
from perfsmith.measure import counters, hardware
from perfsmith.measure.counters import (
    compare_energy,
    compare_instructions,
    compare_memory,
    count_instructions,
    instructions_result,
    interpreter_binary,
    parse_callgrind_total,
    peak_memory,
)
from perfsmith.sandbox.local import LocalSandbox

PY = sys.executable
needs_valgrind = pytest.mark.skipif(
    not hardware.valgrind_status()[0], reason="valgrind not installed"
)

# Identical arithmetic per iteration; only the iteration count changes between variants.
LOOP = """
def work(iterations):
    s = 0
    for _ in range(REPEAT):
        for i in range(iterations):
            s += (i * 7 + 3) % 11
    return s

REPEAT = 20
ITERATIONS = {iterations}
"""

WORKLOAD = """
import pkg

def setup():
    global N
    N = pkg.ITERATIONS

def workload():
    return pkg.work(N)
"""


def make_repo(root: Path, pkg_source: str, workload: str = WORKLOAD) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text(pkg_source)
    (root / "workload.py").write_text(workload)
    return root


@pytest.fixture
def boxes(tmp_path: Path) -> Iterator[tuple[LocalSandbox, LocalSandbox]]:
    """Baseline and candidate workspaces of a 100-iteration loop (edit the candidate)."""
    repo = make_repo(tmp_path / "repo", LOOP.format(iterations=100))
    base = LocalSandbox.create(repo, tmp_path / "ws", "base")
    cand = base.clone("cand")
    yield base, cand
    base.close()
    cand.close()


def set_iterations(box: LocalSandbox, iterations: int) -> None:
    box.write_file("pkg/__init__.py", LOOP.format(iterations=iterations))


# -- instructions ---------------------------------------------------------------------------


def test_parse_callgrind_total_reads_the_ir_column() -> None:
    text = "version: 1\ncreator: x\nevents: Ir Dr Dw\nfn=main\n1 2 3 4\nsummary: 90 5 6\n"
    assert parse_callgrind_total(text) == 90
    assert parse_callgrind_total(text + "totals: 91 5 6\n") == 91
    assert parse_callgrind_total("events: Dr Ir\nsummary: 4 17\n") == 17
    with pytest.raises(ValueError, match="totals"):
        parse_callgrind_total("events: Ir\nfn=main\n")


def test_instructions_result_is_a_point_when_the_baseline_repeats() -> None:
    result = instructions_result([1000, 1000], 500, how="test")
    assert result.name == "instructions" and result.unit == "instr"
    assert result.speedup is not None
    assert result.speedup.estimate == result.speedup.low == result.speedup.high == 2.0
    assert "identical" in result.note


def test_instructions_result_widens_when_the_baseline_differs() -> None:
    result = instructions_result([1000, 1010], 500, how="test")
    assert result.speedup is not None
    assert result.speedup.low < result.speedup.estimate < result.speedup.high
    assert result.speedup.low == pytest.approx(2.01 * (1 - 0.01 / 1.005) / (1 + 0.01 / 1.005))
    assert "differ" in result.note and "widened" in result.note


def test_interpreter_binary_resolves_a_shim_script(tmp_path: Path) -> None:
    shim = tmp_path / "python3"
    shim.write_text(f'#!/bin/sh\nexec "{PY}" "$@"\n')
    shim.chmod(0o755)
    real = interpreter_binary(str(shim))
    assert real != str(shim)
    with open(real, "rb") as f:
        assert f.read(4) == b"\x7fELF"
    assert interpreter_binary(PY) == PY  # a binary (or a venv link to one) is kept


@needs_valgrind
def test_counts_repeat_exactly(boxes: tuple[LocalSandbox, LocalSandbox]) -> None:
    base, _ = boxes
    first = count_instructions(base, PY, "workload.py", pythonpath=["."], calls=1)
    second = count_instructions(base, PY, "workload.py", pythonpath=["."], calls=1)
    # Deterministic: same interpreter, code and environment give the same count.
    assert first == second
    assert first > 20 * 100 * 10  # at least a few instructions per loop iteration


@needs_valgrind
@pytest.mark.slow
def test_same_code_in_two_workspaces_compares_as_exactly_one(
    boxes: tuple[LocalSandbox, LocalSandbox],
) -> None:
    base, cand = boxes
    result = compare_instructions(base, cand, PY, "workload.py", pythonpath=["."])
    assert result.available and result.speedup is not None
    assert result.baseline == result.candidate
    assert result.speedup.estimate == result.speedup.low == result.speedup.high == 1.0
    assert "identical" in result.note


@needs_valgrind
@pytest.mark.slow
def test_two_percent_fewer_instructions_is_better_every_time(
    boxes: tuple[LocalSandbox, LocalSandbox],
) -> None:
    base, cand = boxes
    set_iterations(cand, 98)
    results = [
        compare_instructions(base, cand, PY, "workload.py", pythonpath=["."]) for _ in range(3)
    ]
    for r in results:
        assert r.speedup is not None
        assert r.speedup.low > 1.0  # better, and decided, in every trial
        # About 100/98 = 1.0204: the call overhead both sides pay dilutes it a little, and
        # the two dropped iterations make the largest (not cached) integers, a little more.
        assert 1.01 < r.speedup.estimate < 1.03
    assert len({(r.baseline, r.candidate) for r in results}) == 1


@needs_valgrind
@pytest.mark.parametrize("tool", [pytest.param("callgrind", marks=pytest.mark.slow), "cachegrind"])
def test_half_the_work_gives_a_speedup_of_two(
    boxes: tuple[LocalSandbox, LocalSandbox], tool: counters.Tool
) -> None:
    base, cand = boxes
    set_iterations(base, 200)
    result = compare_instructions(
        base, cand, PY, "workload.py", pythonpath=["."], calls=1, tool=tool
    )
    assert result.speedup is not None and result.speedup.low == result.speedup.high
    assert result.speedup.estimate == pytest.approx(2.0, rel=0.1)
    assert result.candidate < result.baseline
    assert result.note.startswith(tool)


@needs_valgrind
def test_a_crashing_candidate_raises_naming_the_candidate(
    boxes: tuple[LocalSandbox, LocalSandbox],
) -> None:
    base, cand = boxes
    cand.write_file("pkg/__init__.py", "raise RuntimeError('broken on purpose')\n")
    with pytest.raises(WorkloadError, match="candidate") as info:
        compare_instructions(
            base, cand, PY, "workload.py", pythonpath=["."], calls=1, baseline_counts=[1, 1]
        )
    assert "broken on purpose" in str(info.value)


def test_without_valgrind_the_metric_is_unavailable(
    boxes: tuple[LocalSandbox, LocalSandbox], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, cand = boxes
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    result = compare_instructions(base, cand, PY, "workload.py", pythonpath=["."])
    assert not result.available and result.speedup is None
    assert result.note == "valgrind not installed: apt-get install valgrind"


def test_calls_must_be_positive(boxes: tuple[LocalSandbox, LocalSandbox]) -> None:
    base, _ = boxes
    with pytest.raises(ValueError, match="calls"):
        count_instructions(base, PY, "workload.py", pythonpath=["."], calls=0)


# -- the counter script ----------------------------------------------------------------------


def run_counter(tmp_path: Path, workload: str, **env: str) -> dict[str, object]:
    path = tmp_path / "w.py"
    path.write_text(workload)
    out = tmp_path / "out.json"
    full = {"PATH": os.environ.get("PATH", ""), "PERFSMITH_WORKLOAD": str(path)}
    full |= {"PERFSMITH_RESULT": str(out), **env}
    script = Path(counters.__file__).with_name("_counter.py")
    subprocess.run([PY, str(script)], env=full, check=True, cwd=tmp_path, timeout=60)
    result: dict[str, object] = json.loads(out.read_text())
    return result


COUNTING = """
LOG = []

def setup():
    LOG.append("s")

def workload():
    LOG.append("w")
    with open("log.txt", "w") as f:
        f.write("".join(LOG))
"""


def test_counter_runs_setup_before_each_call_and_allows_zero_calls(tmp_path: Path) -> None:
    summary = run_counter(tmp_path, COUNTING, PERFSMITH_CALLS="2", PERFSMITH_WARMUPS="1")
    assert (tmp_path / "log.txt").read_text() == "swswsw"  # warm-up, then two calls
    assert summary["calls"] == 2 and summary["setups"] == 2 and summary["peaks"] is None
    (tmp_path / "log.txt").unlink()
    summary = run_counter(tmp_path, COUNTING, PERFSMITH_CALLS="0", PERFSMITH_SETUPS="3")
    assert not (tmp_path / "log.txt").exists()  # setups only, no call
    assert summary["calls"] == 0 and summary["setups"] == 3


def test_counter_keeps_calling_until_min_time(tmp_path: Path) -> None:
    sleepy = "import time\n\ndef setup():\n    pass\n\ndef workload():\n    time.sleep(0.02)\n"
    summary = run_counter(tmp_path, sleepy, PERFSMITH_CALLS="1", PERFSMITH_MIN_TIME="0.2")
    calls = summary["calls"]
    assert isinstance(calls, int) and calls >= 5
    assert summary["setups"] == calls  # a setup before every call, the extra ones too


def test_counter_exact_mode_reports_no_time(tmp_path: Path) -> None:
    summary = run_counter(tmp_path, COUNTING, PERFSMITH_CALLS="1", PERFSMITH_EXACT="1")
    assert summary["seconds"] == 0 and summary["maxrss_kb"] == 0


# -- peak memory -----------------------------------------------------------------------------

ALLOCATING = """
KEEP = []

def setup():
    # Held by the module, allocated before tracing starts: not part of a call's peak.
    KEEP[:] = [bytearray(4_000_000)]

def workload():
    data = bytearray({size})
    return len(data)
"""


def test_half_the_allocation_shows_as_two(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "workload.py").write_text(ALLOCATING.format(size=2_000_000))
    with LocalSandbox.create(repo, tmp_path / "ws", "base") as base, base.clone("cand") as cand:
        cand.write_file("workload.py", ALLOCATING.format(size=1_000_000))
        reading = peak_memory(base, PY, "workload.py", pythonpath=["."])
        assert 2_000_000 <= reading.peak_bytes < 2_100_000  # setup's 4 MB not counted
        assert reading.maxrss_bytes > 4_000_000  # ...but the process did hold it
        result = compare_memory(base, cand, PY, "workload.py", pythonpath=["."], processes=2)
    assert result.name == "peak_memory" and result.unit == "B" and result.n == 2
    assert result.speedup is not None
    assert result.speedup.estimate == pytest.approx(2.0, rel=0.05)
    assert result.speedup.low > 1.8
    assert "RSS" in result.note


def test_a_workload_that_stops_tracing_is_refused(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "workload.py").write_text(
        "import tracemalloc\n\ndef workload():\n    data = bytearray(10**6)\n"
        "    tracemalloc.stop()  # hides the allocation from the peak\n"
    )
    box = LocalSandbox.create(repo, tmp_path / "ws", "base")
    with box, pytest.raises(WorkloadError, match="candidate") as info:
        peak_memory(box, PY, "workload.py", pythonpath=["."], side="candidate")
    assert "stopped tracemalloc" in str(info.value)


# -- energy ----------------------------------------------------------------------------------


@pytest.mark.skipif(hardware.energy_available()[0], reason="this machine has energy counters")
def test_energy_is_unavailable_without_counters(boxes: tuple[LocalSandbox, LocalSandbox]) -> None:
    base, cand = boxes
    result = compare_energy(base, cand, PY, "workload.py", pythonpath=["."])
    assert not result.available and result.speedup is None
    assert "RAPL" in result.note and "NVML" in result.note


# The workload advances a synthetic RAPL counter by a fixed amount per call, wrapping at
# its range as the hardware counter does: the harness-side arithmetic is then exact.
ENERGY = """
PATH = {path!r}
MAX = {max_range}

def workload():
    with open(PATH) as f:
        value = int(f.read())
    with open(PATH, "w") as f:
        f.write(str((value + {step}) % MAX))
"""


def test_energy_per_call_subtracts_setup_and_survives_wrap_around(tmp_path: Path) -> None:
    zone = tmp_path / "powercap" / "intel-rapl:0"
    zone.mkdir(parents=True)
    max_range = 1_000_000
    (zone / "name").write_text("package-0\n")
    (zone / "max_energy_range_uj").write_text(f"{max_range}\n")
    (zone / "energy_uj").write_text(f"{max_range - 2500}\n")  # wraps on the third call
    reader = hardware.rapl_reader(tmp_path / "powercap")
    assert reader is not None
    repo = tmp_path / "repo"
    repo.mkdir()
    source = {"path": str(zone / "energy_uj"), "max_range": max_range}
    (repo / "workload.py").write_text(ENERGY.format(step=1000, **source))
    with LocalSandbox.create(repo, tmp_path / "ws", "base") as base, base.clone("cand") as cand:
        cand.write_file("workload.py", ENERGY.format(step=500, **source))
        result = compare_energy(
            base, cand, PY, "workload.py", pythonpath=["."], calls=3, min_time_s=0,
            processes=2, reader=reader,
        )  # fmt: skip
    assert result.available and result.n == 2
    assert result.baseline == pytest.approx(1000 / 1e6)  # joules per call
    assert result.candidate == pytest.approx(500 / 1e6)
    assert result.speedup is not None
    assert result.speedup.low == pytest.approx(2.0) and result.speedup.high == pytest.approx(2.0)
    assert "RAPL (package-0)" in result.note


def test_energy_too_small_to_see_gives_no_speedup(
    boxes: tuple[LocalSandbox, LocalSandbox], tmp_path: Path
) -> None:
    zone = tmp_path / "powercap" / "intel-rapl:0"
    zone.mkdir(parents=True)
    (zone / "energy_uj").write_text("5\n")  # a counter that never moves
    (zone / "max_energy_range_uj").write_text("100\n")
    reader = hardware.rapl_reader(tmp_path / "powercap")
    assert reader is not None
    base, cand = boxes
    result = compare_energy(
        base, cand, PY, "workload.py", pythonpath=["."], calls=1, min_time_s=0,
        processes=1, reader=reader,
    )  # fmt: skip
    assert result.available and result.speedup is None
    assert "too small" in result.note
