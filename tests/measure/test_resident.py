"""Peak memory as resident growth per call (the counter script's PERFSMITH_RSS), beside the
tracemalloc peak, measured for real in subprocesses and local sandboxes. The C kernel
cases are in tests/kernels/test_kernel_memory.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from perfsmith.measure import _counter, counters
from perfsmith.measure.counters import RESIDENT_MALLOC_ENV, compare_memory, peak_memory
from perfsmith.sandbox.local import LocalSandbox

PY = sys.executable
MiB = 2**20
SLACK = MiB  # resident counters are folded per CPU in batches: a peak may be a little short
BIG = 32 * MiB


def run_counter(tmp_path: Path, workload: str, **env: str) -> dict[str, object]:
    path = tmp_path / "w.py"
    path.write_text(workload)
    out = tmp_path / "out.json"
    full = {"PATH": os.environ.get("PATH", ""), "PERFSMITH_WORKLOAD": str(path)}
    full |= {"PERFSMITH_RESULT": str(out), **RESIDENT_MALLOC_ENV, **env}
    script = Path(counters.__file__).with_name("_counter.py")
    subprocess.run([PY, str(script)], env=full, check=True, cwd=tmp_path, timeout=60)
    result: dict[str, object] = json.loads(out.read_text())
    return result


def per_call(summary: dict[str, object], key: str) -> list[int]:
    values = summary[key]
    assert isinstance(values, list)
    return [int(v) for v in values]


# A call allocates a 32 MiB bytearray (zero-filled: every page touched). setup() holds
# 48 MiB that no call allocates.
PYTHON_BLOCK = """
HELD = []

def setup():
    HELD[:] = [bytearray(48 * 2**20)]

def workload():
    data = bytearray({size})
    return len(data)
"""


def test_a_python_allocation_is_seen_by_both_kinds_on_every_call(tmp_path: Path) -> None:
    workload = PYTHON_BLOCK.format(size=BIG)
    rss = run_counter(tmp_path, workload, PERFSMITH_CALLS="4", PERFSMITH_RSS="1")
    growth = per_call(rss, "growth")
    assert len(growth) == 4 and rss["peaks"] is None
    # Every call, the first and the later ones alike; setup's 48 MiB is not counted.
    assert all(BIG - SLACK <= g < BIG + 8 * MiB for g in growth), growth
    traced = run_counter(tmp_path, workload, PERFSMITH_CALLS="4", PERFSMITH_TRACEMALLOC="1")
    peaks = per_call(traced, "peaks")
    assert traced["growth"] is None
    assert all(BIG <= p < BIG + MiB for p in peaks), peaks


def test_a_call_that_allocates_nothing_shows_almost_no_growth(tmp_path: Path) -> None:
    summary = run_counter(
        tmp_path, PYTHON_BLOCK.format(size=16), PERFSMITH_CALLS="3", PERFSMITH_RSS="1"
    )
    assert all(g < 2 * MiB for g in per_call(summary, "growth"))


def test_the_process_peak_survives_the_resets(tmp_path: Path) -> None:
    # 96 MiB held at import and freed: the process's lifetime peak, although every
    # measured call resets the kernel's peak (which getrusage reports too).
    workload = "BLOCK = bytearray(96 * 2**20)\ndel BLOCK\n\ndef workload():\n    return 1\n"
    summary = run_counter(tmp_path, workload, PERFSMITH_CALLS="2", PERFSMITH_RSS="1")
    maxrss_kb = summary["maxrss_kb"]
    assert isinstance(maxrss_kb, int) and maxrss_kb * 1024 >= 96 * MiB


def test_a_peak_that_cannot_be_reset_is_reported_with_the_path(tmp_path: Path) -> None:
    resident = _counter._Resident()
    assert resident.problem() is None  # Linux with /proc, as the tests run
    resident._clear = str(tmp_path / "missing" / "clear_refs")
    why = resident.problem()
    assert why is not None
    assert "cannot be reset" in why and "clear_refs" in why and "No such file" in why


def test_peak_memory_reads_resident_growth_in_a_sandbox(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "workload.py").write_text(PYTHON_BLOCK.format(size=BIG))
    with LocalSandbox.create(repo, tmp_path / "ws", "base") as box:
        rss = peak_memory(box, PY, "workload.py", pythonpath=["."], calls=3, how="rss")
        python = peak_memory(box, PY, "workload.py", pythonpath=["."], calls=3)
    assert rss.how == "rss" and len(rss.per_call) == rss.calls == 3
    assert all(g >= BIG - SLACK for g in rss.per_call) and rss.peak_bytes == max(rss.per_call)
    assert rss.maxrss_bytes >= 48 * MiB + BIG - SLACK  # setup's block and a call's
    assert python.how == "python" and all(p >= BIG for p in python.per_call)


@pytest.mark.parametrize(
    ("how", "note"),
    [
        ("rss", "resident growth per call (pages touched by the call, native allocations "
                "included), max of 3 calls, median of 2 processes"),
        ("python", "tracemalloc peak per call (Python allocations, after setup), max of 3 "
                   "calls, median of 2 processes"),
    ],
)  # fmt: skip
def test_half_the_allocation_compares_as_two_either_way(
    tmp_path: Path, how: counters.MemoryHow, note: str
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "workload.py").write_text(PYTHON_BLOCK.format(size=BIG))
    with LocalSandbox.create(repo, tmp_path / "ws", "base") as base, base.clone("cand") as cand:
        cand.write_file("workload.py", PYTHON_BLOCK.format(size=BIG // 2))
        result = compare_memory(
            base, cand, PY, "workload.py", pythonpath=["."], processes=2, how=how
        )
    assert result.name == "peak_memory" and result.unit == "B" and result.n == 2
    assert result.speedup is not None and result.speedup.low > 1.8
    assert result.speedup.estimate == pytest.approx(2.0, rel=0.05)
    assert result.note.startswith(note) and "process peak RSS" in result.note


# setup() frees 24 MiB; a call holds four 16 MiB blocks at once. With glibc's defaults the
# freed 24 MiB raises its mmap threshold, the blocks come from the heap, and setup's freed
# pages are reused by the next call: it would show a third less than it touches.
BELOW_THRESHOLD = """
def setup():
    held = bytearray(24 * 2**20)
    del held

def workload():
    blocks = [bytearray(16 * 2**20 - 64) for _ in range(4)]
    return len(blocks)
"""


@pytest.mark.docker
@pytest.mark.slow
def test_resident_growth_is_measured_inside_a_docker_sandbox(tmp_path: Path) -> None:
    """The container lets the process reset its own peak, and the malloc settings reach it."""
    from perfsmith.config import DockerConfig
    from perfsmith.sandbox.factory import choose, open_base
    from tests.sandbox.docker_helpers import client_or_skip

    client_or_skip()
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "workload.py").write_text(BELOW_THRESHOLD)
    box = open_base(choose("docker"), repo, tmp_path / "work", python=PY, docker=DockerConfig())
    with box:
        fixed = peak_memory(box, PY, "workload.py", pythonpath=["."], calls=3, how="rss")
        defaults = peak_memory(
            box, PY, "workload.py", pythonpath=["."], calls=3, how="rss", malloc_env={}
        )
    assert type(box).__name__ == "DockerSandbox"
    assert all(g >= 64 * MiB - SLACK for g in fixed.per_call), fixed
    assert all(g <= 48 * MiB for g in defaults.per_call), defaults
