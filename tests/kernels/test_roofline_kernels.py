"""Real kernels against the roofline: a kernel that returns before its work is done (a
detached thread) passes every correctness check yet claims a time per call the machine
cannot reach, and gate 6 quarantines it; honest naive and expert kernels stay inside the
bound. Times per call are measured here with the generated workload; no test compares
two codes' speeds, only a time against the physical bound."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import pytest

from perfsmith.config import resolve
from perfsmith.core import Measurement
from perfsmith.diffs import unified_diff
from perfsmith.kernels import write_repo
from perfsmith.kernels.mode import kernel_overrides
from perfsmith.kernels.repo import KERNEL_FILE
from perfsmith.kernels.spec import KernelCost, load_kernel_task
from perfsmith.measure.evaluator import PipelineEvaluator
from perfsmith.measure.plausibility import check_roofline
from perfsmith.measure.roofline import Peaks, RooflineVerdict, machine_peaks, roofline_verdict
from perfsmith.measure.timing import time_adaptive
from perfsmith.sandbox.local import LocalSandbox
from tests.kernels.kernel_fixtures import (
    FIXTURES,
    fixture_task,
    load_workload,
    make_repo,
    run_tests,
)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "benchmarks" / "kernels-lite"
DETACHED = FIXTURES / "scale" / "detached.c"


def time_per_call(repo: Path, calls: int, *, thread_check: bool = True) -> float:
    """Median seconds of one workload() call, setup() untimed before each, as the timing
    worker runs them; the workload's setup() checks every timed call's output (it raises
    on a wrong one), and one more setup() checks the last. ``thread_check=False`` turns
    the workload's thread census off, to see what the roofline catches alone."""
    workload = load_workload(repo)
    workload.THREAD_CHECK = thread_check
    times = []
    for _ in range(calls):
        workload.setup()
        t0 = time.perf_counter()
        workload.workload()
        times.append(time.perf_counter() - t0)
    workload.setup()
    return statistics.median(times)


def verdict(time_s: float, cost: KernelCost, peaks: Peaks) -> RooflineVerdict:
    return roofline_verdict(
        time_s,
        flops=cost.flops,
        bytes=cost.bytes,
        peak_flops=peaks.flops_per_s,
        bandwidth=peaks.bytes_per_s,
    )


def test_the_detached_thread_kernel_passes_the_checks_but_not_the_roofline(
    tmp_path: Path,
) -> None:
    cost = fixture_task("scale").cost()
    assert cost.bytes == 8 * 2**24
    cheat = make_repo(tmp_path, "scale", source=DETACHED.read_text(encoding="utf-8"))
    checks = run_tests(cheat, tmp_path / "scratch")
    assert checks.passed() and not checks.failed(), checks.output[-3000:]
    peaks = machine_peaks(cost.bytes, path=tmp_path / "roofline.json")
    # Every call's output was right (setup checked it); the census that catches the
    # thread itself (test below) is off, to see the roofline alone.
    cheat_s = time_per_call(cheat, 7, thread_check=False)
    v = verdict(cheat_s, cost, peaks)
    assert not v.plausible, v.note()
    assert "per call is below what this machine can do" in v.reason()
    honest_s = time_per_call(make_repo(tmp_path, "scale"), 5)
    assert verdict(honest_s, cost, peaks).plausible


def test_the_workload_catches_the_thread_left_running(tmp_path: Path) -> None:
    """The census before each verified call sees the detached thread of the call before."""
    cheat = make_repo(tmp_path, "scale", source=DETACHED.read_text(encoding="utf-8"))
    workload = load_workload(cheat)
    workload.setup()
    workload.workload()  # the first call: its threads join the allowed set (OpenMP's pool)
    workload.setup()
    workload.workload()
    with pytest.raises(workload.harness.KernelMismatch) as info:
        workload.setup()
    message = str(info.value)
    assert "timed call 2" in message
    assert "still running after it returned" in message
    honest = make_repo(tmp_path, "scale")
    assert time_per_call(honest, 4) > 0  # OpenMP's pool and honest calls pass the census


@pytest.mark.parametrize("task", ["matmul", "softmax"])
def test_suite_naive_and_expert_kernels_are_inside_the_roofline(tmp_path: Path, task: str) -> None:
    spec = load_kernel_task(SUITE / task)
    cost = spec.cost()
    peaks = machine_peaks(cost.bytes, path=tmp_path / "roofline.json")
    for which, source in (("kernel", spec.kernel_source()), ("expert", spec.expert_source())):
        repo = write_repo(spec, tmp_path / which, source=source)
        seconds = time_per_call(repo, 5)
        v = verdict(seconds, cost, peaks)
        assert v.fraction > 0 and v.plausible, f"{task} {which}: {v.reason()}"


def test_gate_six_quarantines_the_detached_thread_kernel_timed_by_the_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kernel mode's settings, the evaluator's interleaved pyperf timing of the naive kernel
    against the cheat (about 20 s), then gate 6. The gates before timing are the generated
    tests and the workload's per-call checks, which the cheat passes (the test above);
    the whole pipeline on this task takes minutes, since every call's setup makes and
    checks 128 MiB."""
    monkeypatch.setenv("PERFSMITH_CACHE", str(tmp_path / "cache"))  # the peaks' cache too
    repo, overrides = kernel_overrides(FIXTURES / "scale", tmp_path / "cache")
    overrides["timing"] = {"rounds": 4, "values": 2, "warmups": 0, "min_time_s": 0.02}
    cfg = resolve(repo, overrides=overrides)
    assert cfg.checks.roofline_bytes == 8 * 2**24 and cfg.checks.roofline_flops == 2**24
    # The thread census would fail the cheat in the timing workers: off, for gate 6 alone.
    workload_file = repo / "perfsmith_workload.py"
    source = workload_file.read_text(encoding="utf-8")
    assert "THREAD_CHECK = True" in source
    workload_file.write_text(source.replace("THREAD_CHECK = True", "THREAD_CHECK = False"))
    naive = (repo / KERNEL_FILE).read_text(encoding="utf-8")
    patch = unified_diff({KERNEL_FILE: naive}, {KERNEL_FILE: DETACHED.read_text(encoding="utf-8")})
    base = LocalSandbox.create(repo, tmp_path / "work", "base")
    cand = base.clone("cand")
    try:
        assert cand.apply_patch(patch).ok
        ev = PipelineEvaluator.from_config(base, cfg)
        task = cfg.to_task()
        assert task.workload.file
        timing = time_adaptive(
            base,
            cand,
            ev.python,
            task.workload.file,
            pythonpath=task.pythonpath,
            config=ev.timing,
            out_dir=tmp_path / "timing",
        )
    finally:
        cand.close()
        base.close()
    assert timing.comparison.significant  # every timed call was checked, and it looks faster
    m = Measurement(status="faster", reason="", patch=patch, comparison=timing.comparison)
    m = check_roofline(ev, m)
    assert (m.status, m.gate, m.code) == ("quarantined", "plausibility", "above_roofline"), (
        m.reason or m.flags
    )
    assert "per call is below what this machine can do" in m.reason
    assert "B/s against a measured" in m.reason
    assert (tmp_path / "cache" / "roofline.json").is_file()
