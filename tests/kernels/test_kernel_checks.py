"""The generated checks with real gcc and a real pytest run: naive kernels pass, and each
way of cheating is caught by the check that names itself in the failing test ids."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import stat
import subprocess
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import perfsmith.measure
from perfsmith.kernels import load_kernel_task, write_repo
from tests.kernels.kernel_fixtures import (
    PYTHON,
    ROWSUM_HALF_PRECISION,
    ROWSUM_VISIBLE_ONLY,
    VADD_CONTENT_CACHE,
    VADD_POINTER_CACHE,
    VADD_SYNTAX_ERROR,
    VADD_WRITES_HALF,
    VADD_WRITES_NOTHING,
    VADD_ZEROES_INPUTS,
    fixture_task,
    load_harness,
    load_workload,
    make_repo,
    run_tests,
    vadd_first_calls,
)

pytestmark = pytest.mark.slow


def _count(name: str) -> int:
    task = fixture_task(name)
    shapes = len(task.visible) + len(task.hidden)
    return 2 + 2 * shapes * len(task.seeds) + 2 * shapes


@pytest.mark.parametrize("name", ["vadd", "rowsum"])
def test_naive_kernel_passes_every_check(tmp_path: Path, name: str) -> None:
    repo = make_repo(tmp_path, name)
    run = run_tests(repo, tmp_path / "reports")
    assert run.failed() == set(), run.messages
    assert len(run.passed()) == _count(name)
    assert "test_matches_reference[hidden1-seed2]" in run.passed() or name == "vadd"
    assert "test_same_address_new_content[hidden1]" in run.passed() or name == "rowsum"
    # The build is cached inside the ignored folder: the work tree stays clean.
    status = subprocess.run(
        ["git", "-C", str(repo), "status", "--porcelain"], capture_output=True, text=True
    )
    assert status.stdout == ""
    assert len([p for p in (repo / ".kernel-build").iterdir() if p.is_dir()]) == 1


def test_expert_kernel_passes_every_check(tmp_path: Path) -> None:
    task = fixture_task("vadd")
    repo = make_repo(tmp_path, "vadd", source=task.expert_source())
    run = run_tests(repo, tmp_path / "reports")
    assert run.failed() == set(), run.messages
    assert len(run.passed()) == _count("vadd")


def test_compile_error_fails_the_build_test_with_the_compiler_output(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "vadd", source=VADD_SYNTAX_ERROR)
    run = run_tests(repo, tmp_path / "reports")
    assert run.passed() == set()
    assert run.outcomes["test_build"] == "failed"
    message = run.messages["test_build"]
    assert "kernel.c:" in message and "error: expected" in message
    assert not any(".tmp-" in p.name for p in (repo / ".kernel-build").iterdir())


def test_missing_function_fails_the_build_test(tmp_path: Path) -> None:
    source = fixture_task("vadd").kernel_source().replace("void vadd(", "void vadd2(")
    run = run_tests(make_repo(tmp_path, "vadd", source=source), tmp_path / "reports")
    assert run.outcomes["test_build"] == "failed"
    assert (
        "kernel.c defines no function vadd; it must define void vadd("
        in (run.messages["test_build"])
    )
    assert run.passed() == {"test_no_mutable_state"}


@pytest.mark.parametrize(
    "source", [VADD_WRITES_NOTHING, VADD_WRITES_HALF], ids=["writes-nothing", "writes-half"]
)
def test_unwritten_output_is_caught_by_the_poison(tmp_path: Path, source: str) -> None:
    run = run_tests(make_repo(tmp_path, "vadd", source=source), tmp_path / "reports")
    assert run.checks_failed() == {
        "test_matches_reference",
        "test_same_address_new_content",
        "test_repeat",
    }
    assert {"test_build", "test_no_mutable_state"} <= run.passed()
    failed = run.messages["test_matches_reference[visible-1000-seed1]"]
    assert "out: " in failed and "= nan is not finite" in failed
    assert "elements wrong" in failed


def test_kernel_writing_its_inputs_is_caught_by_the_hashes(tmp_path: Path) -> None:
    run = run_tests(make_repo(tmp_path, "vadd", source=VADD_ZEROES_INPUTS), tmp_path / "reports")
    task = fixture_task("vadd")
    unchanged = {t for t in run.outcomes if t.startswith("test_inputs_unchanged[")}
    assert len(unchanged) == len(task.seeds) * (len(task.visible) + len(task.hidden))
    assert unchanged <= run.failed()
    assert "the kernel wrote its input a" in run.messages["test_inputs_unchanged[hidden1-seed2]"]
    # Its outputs are right: only the checks that look at the inputs (or reuse them) fail.
    assert not any(t.startswith("test_matches_reference[") for t in run.failed())


def test_pointer_cache_is_caught_by_state_and_by_same_address(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "vadd", source=VADD_POINTER_CACHE)
    run = run_tests(repo, tmp_path / "reports")
    assert run.outcomes["test_no_mutable_state"] == "failed"
    assert "last_a (b, .bss)" in run.messages["test_no_mutable_state"]
    same = {t for t in run.outcomes if t.startswith("test_same_address_new_content[")}
    assert same and same <= run.failed()

    # Each defence alone: the state check refuses it, and with the state check skipped
    # the same-address check still sees the stale result.
    harness = load_harness(repo)
    with pytest.raises(harness.StateError, match="saved_n"):
        harness.load_kernel(repo)
    kernel = harness.load_kernel(repo, check_state=False)
    for shape in ({"n": 1000}, {"n": 4097}):
        reason = harness.check_same_address(kernel, shape, 1, 2)
        assert reason is not None
        assert "the output is the previous call's" in reason


def test_content_cache_is_caught_by_the_state_check_alone(tmp_path: Path) -> None:
    run = run_tests(make_repo(tmp_path, "vadd", source=VADD_CONTENT_CACHE), tmp_path / "reports")
    assert run.failed() == {"test_no_mutable_state"}
    message = run.messages["test_no_mutable_state"]
    assert "last_hash.0 (b, .bss)" in message and "saved.1 (b, .bss)" in message


def test_half_precision_is_caught_by_the_tolerance_on_the_long_hidden_rows(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path, "rowsum", source=ROWSUM_HALF_PRECISION)
    run = run_tests(repo, tmp_path / "reports")
    assert run.failed(), "half precision passed"
    assert all("hidden1" in t for t in run.failed()), run.failed()
    assert {f"test_matches_reference[hidden1-seed{s}]" for s in (1, 2, 3)} <= run.failed()
    assert "test_matches_reference[hidden0-seed1]" in run.passed()
    message = run.messages["test_matches_reference[hidden1-seed2]"]
    assert "|diff|" in message and "rows=37, cols=1531, seed 2" in message


def test_kernel_tuned_to_the_visible_shapes_fails_the_hidden_ones(tmp_path: Path) -> None:
    run = run_tests(make_repo(tmp_path, "rowsum", source=ROWSUM_VISIBLE_ONLY), tmp_path / "reports")
    assert all(t.startswith("test_") and "[hidden" in t for t in run.failed())
    visible = {t for t in run.outcomes if "[visible-" in t}
    assert visible and visible <= run.passed()
    assert "test_matches_reference[hidden0-seed1]" in run.failed()
    assert "test_matches_reference[hidden1-seed3]" in run.failed()


def test_call_counter_is_caught_by_the_state_check(tmp_path: Path) -> None:
    run = run_tests(make_repo(tmp_path, "vadd", source=vadd_first_calls(3)), tmp_path / "reports")
    assert run.outcomes["test_no_mutable_state"] == "failed"
    assert "calls.0 (b, .bss)" in run.messages["test_no_mutable_state"]


def test_workload_catches_a_kernel_that_stops_working_once_timed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERFSMITH_SEED", "11")
    repo = make_repo(tmp_path, "vadd", source=vadd_first_calls(1))
    guarded = load_workload(repo)
    with pytest.raises(guarded.harness.StateError, match=r"calls\.0"):
        guarded.setup()

    workload = load_workload(repo)
    workload.STATE_CHECK = False  # the workload's own call checks, alone
    workload.setup()
    workload.workload()  # the kernel's first call: right
    workload.setup()
    workload.workload()  # from here on it writes nothing
    with pytest.raises(workload.harness.KernelMismatch) as info:
        workload.setup()
    message = str(info.value)
    assert "timed call 2 (n=65536)" in message
    assert "does not match the float64 reference" in message
    assert "is not finite" in message


def test_workload_catches_a_kernel_writing_its_inputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERFSMITH_SEED", "2")
    workload = load_workload(make_repo(tmp_path, "vadd", source=VADD_ZEROES_INPUTS))
    workload.setup()
    workload.workload()
    with pytest.raises(workload.harness.KernelMismatch, match="wrote its input a"):
        workload.setup()


@pytest.mark.parametrize("name", ["vadd", "rowsum"])
def test_workload_driven_like_the_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv("PERFSMITH_SEED", "5")
    task = fixture_task(name)
    repo = make_repo(tmp_path, name)
    workload = load_workload(repo)
    assert workload.variants() == [dict(s) for s in task.hidden]
    prints = []
    for _ in range(3):
        workload.setup()
        prints.append(workload.workload())
    for variant in workload.variants():
        workload.setup(variant)
        prints.append(workload.workload())
    workload.setup()  # checks the last variant call too

    for fp in prints:
        assert list(fp) == ["out"]
        assert fp["out"].dtype == np.float64 and fp["out"].shape == (18,)
        assert np.isfinite(fp["out"]).all()
    assert not np.array_equal(prints[0]["out"], prints[1]["out"])  # fresh inputs every call

    # The same seed gives the same inputs in another process: the output gate compares
    # the baseline's fingerprint with the candidate's.
    again = load_workload(repo)
    again.setup()
    assert np.array_equal(again.workload()["out"], prints[0]["out"])

    # The fingerprint is the output's: sum, absolute sum and values at fixed positions.
    harness = workload.harness
    kernel = workload._kernel
    sizes = dict(task.timing)
    inputs = kernel.make_inputs(harness.rng([5, 1]), sizes)
    ref = kernel.expected(inputs, sizes)["out"].reshape(-1)
    sample = ref[harness.positions(ref.size, min(ref.size, 4096))]
    assert len(np.unique(harness.positions(ref.size, min(ref.size, 4096)))) == min(ref.size, 4096)
    assert prints[0]["out"][0] == pytest.approx(sample.sum(), rel=1e-5)
    assert prints[0]["out"][1] == pytest.approx(np.abs(sample).sum(), rel=1e-5)
    assert prints[0]["out"][2] == pytest.approx(ref[0], rel=1e-4, abs=1e-6)
    assert prints[0]["out"][17] == pytest.approx(ref[-1], rel=1e-4, abs=1e-6)


def _worker(tmp_path: Path, repo: Path, mode: str, **env: str) -> subprocess.CompletedProcess[str]:
    measure = Path(perfsmith.measure.__file__).parent
    folder = tmp_path / "worker"
    folder.mkdir(exist_ok=True)
    shutil.copyfile(measure / "_worker.py", folder / "_worker.py")
    shutil.copyfile(measure / "_canonical.py", folder / "perfsmith_canonical.py")
    full = {
        **os.environ,
        "PERFSMITH_MODE": mode,
        "PERFSMITH_WORKLOAD": str(repo / "perfsmith_workload.py"),
        "PERFSMITH_RESULT": str(tmp_path / "result.json"),
        "PERFSMITH_PICKLE": str(tmp_path / "value.pickle"),
        "PERFSMITH_TREE": str(tmp_path / "tree.json"),
        **env,
    }
    return subprocess.run(
        [PYTHON, str(folder / "_worker.py")],
        cwd=repo,
        env=full,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_real_worker_checks_a_hidden_variant_and_calibrates(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "rowsum")
    res = _worker(tmp_path, repo, "check", PERFSMITH_SEED="3", PERFSMITH_VARIANT="1")
    assert res.returncode == 0, res.stderr
    summary: dict[str, Any] = json.loads((tmp_path / "result.json").read_text())
    assert summary["variants"] == 2 and summary["pickled"]
    value = pickle.loads((tmp_path / "value.pickle").read_bytes())
    assert value["out"].shape == (18,)
    # The hidden 37x1531 shape ran: 37 row sums of 1531 values averaging 0.5.
    assert value["out"][0] == pytest.approx(37 * 1531 * 0.5, rel=0.05)

    res = _worker(
        tmp_path, repo, "calibrate", PERFSMITH_MIN_TIME="0.001", PERFSMITH_MAX_VALUE="0.2"
    )
    assert res.returncode == 0, res.stderr
    assert json.loads((tmp_path / "result.json").read_text())["loops"] >= 1


def test_real_worker_fails_on_a_stateful_kernel(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "vadd", source=vadd_first_calls(1))
    res = _worker(tmp_path, repo, "calibrate", PERFSMITH_MIN_TIME="0.01")
    assert res.returncode != 0
    assert "StateError" in res.stderr and "calls.0" in res.stderr


def test_parallel_builds_compile_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "cc.log"
    wrapper = tmp_path / "cc-wrapper"
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> {log}\nexec cc "$@"\n', encoding="utf-8")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("CC", str(wrapper))
    repo = make_repo(tmp_path, "vadd")
    harness = load_harness(repo)
    results: list[Any] = []

    def build() -> None:
        results.append(harness.build(repo))

    threads = [threading.Thread(target=build) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({r.lib for r in results}) == 1 and results[0].lib.is_file()
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2  # one compile, one link
    assert "-O3 -march=native -fopenmp -fPIC -std=c11 -c kernel.c" in lines[0]
    assert sorted(p.name for p in (repo / ".kernel-build").iterdir()) == sorted(
        [".lock", results[0].digest]
    )


def test_state_check_sees_data_without_symbols_and_allows_const_tables(tmp_path: Path) -> None:
    tables = """#include <stdint.h>
static const float weights[4] = {1.0f, 2.0f, 3.0f, 4.0f};
void vadd(const float *a, const float *b, float *out, int64_t n, float alpha) {
    #pragma omp parallel for
    for (int64_t i = 0; i < n; i++)
        out[i] = (a[i] + alpha * b[i]) * weights[i & 3] / weights[i & 3];
}
"""
    hidden = """#include <stdint.h>
void vadd(const float *a, const float *b, float *out, int64_t n, float alpha) {
    __asm__ volatile(".pushsection .data\\n.Lstash: .quad 0\\n.popsection");
    for (int64_t i = 0; i < n; i++) out[i] = a[i] + alpha * b[i];
}
"""
    weak = """#include <stdint.h>
__attribute__((weak)) int64_t seen = 0;
void vadd(const float *a, const float *b, float *out, int64_t n, float alpha) {
    seen += n;
    for (int64_t i = 0; i < n; i++) out[i] = a[i] + alpha * b[i];
}
"""
    found = {}
    for label, source in (("tables", tables), ("hidden", hidden), ("weak", weak)):
        repo = make_repo(tmp_path, "vadd", source=source)
        harness = load_harness(repo)
        found[label] = harness.mutable_state(harness.build(repo).obj)
    assert found["tables"] == []
    assert found["hidden"] == ["section .data: 8 bytes that no symbol names"]
    assert found["weak"] == ["seen (V, .bss)"] or found["weak"] == ["seen (V, .data)"]


def test_check_output_names_the_worst_element(tmp_path: Path) -> None:
    harness = load_harness(make_repo(tmp_path, "vadd"))
    ref = np.arange(12, dtype=np.float64).reshape(3, 4)
    out = ref.astype(np.float32)
    assert harness.check_output(out, ref, 1e-4, 1e-6) is None
    out[1, 2] = 6.5
    out[2, 3] = 11.0001  # within rtol 1e-4 of 11
    assert harness.check_output(out, ref, 1e-4, 1e-6) == (
        "1 of 12 elements wrong; worst [1, 2] = 6.5, reference 6 (|diff| 0.5 > 0.000601)"
    )
    out[0, 1] = np.nan
    reason = harness.check_output(out, ref, 1e-4, 1e-6)
    assert reason == "2 of 12 elements wrong; worst [0, 1] = nan is not finite (reference 1)"
    assert "shape (4,)" in harness.check_output(np.zeros(4), np.zeros(3), 0.1, 0.1)
    ints = np.array([1, 2, 2**40 + 1], dtype=np.int64)
    assert harness.check_output(ints, ints.copy(), 0.0, 0.0) is None
    bumped = ints.copy()
    bumped[2] += 1
    assert harness.check_output(bumped, ints, 0.0, 0.0) == (
        "1 of 3 elements wrong; worst [2] = 1099511627778, reference 1099511627777 "
        "(integers must be exact)"
    )
    arr = np.zeros(5, dtype=np.uint8)
    harness.poison(arr)
    assert arr.tolist() == [0xA5] * 5
    harness.poison(arr, 1)
    assert arr.tolist() == [0x5A] * 5


def test_integer_outputs_scalars_and_exact_comparison(tmp_path: Path) -> None:
    folder = tmp_path / "suite" / "scale"
    folder.mkdir(parents=True)
    (folder / "task.yaml").write_text(
        """kind: kernel
problem: Scale int32 values into int64, out = x * k.
function: scale
args:
  - {name: x, role: in, dtype: int32}
  - {name: out, role: out, dtype: int64}
  - {name: n, role: size}
  - {name: k, role: scalar, dtype: int32, value: -3}
shapes: {visible: [{n: 5}], hidden: [{n: 1000}]}
timing: {n: 100}
seeds: [4]
""",
        encoding="utf-8",
    )
    (folder / "reference.py").write_text(
        """import numpy as np


def make_inputs(rng, n):
    return {"x": rng.integers(-(2**31), 2**31 - 1, size=n, dtype=np.int32)}


def reference(x, n, k):
    return {"out": x.astype(np.int64) * k}
""",
        encoding="utf-8",
    )
    right = """#include <stdint.h>
void scale(const int32_t *x, int64_t *out, int64_t n, int32_t k) {
    for (int64_t i = 0; i < n; i++) out[i] = (int64_t)x[i] * k;
}
"""
    # Multiplies in 32 bits: wraps around where the product needs 64.
    wrong = right.replace("(int64_t)x[i] * k", "(int32_t)((uint32_t)x[i] * (uint32_t)k)")
    (folder / "kernel.c").write_text(right, encoding="utf-8")
    task = load_kernel_task(folder)
    assert task.signature() == "void scale(const int32_t *x, int64_t *out, int64_t n, int32_t k)"
    for source, ok in ((right, True), (wrong, False)):
        repo = write_repo(task, tmp_path / f"repo-{ok}", source=source)
        harness = load_harness(repo)
        kernel = harness.load_kernel(repo)
        reasons = [
            harness.check_case(kernel, {"n": 1000}, 4),
            harness.check_repeat(kernel, {"n": 1000}, 4),
            harness.check_same_address(kernel, {"n": 5}, 4, 5),
        ]
        if ok:
            assert reasons == [None, None, None]
        else:
            assert all(r and "(integers must be exact)" in r for r in reasons), reasons
