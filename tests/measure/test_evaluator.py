"""The gate pipeline on real candidates of the tiny repository (real pytest and pyperf)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from perfsmith.config import DEFAULT_PROTECTED
from perfsmith.core import Task, Workload
from perfsmith.diffs import unified_diff
from perfsmith.measure.evaluator import Baseline, PipelineEvaluator
from perfsmith.measure.timing import TimingConfig
from perfsmith.sandbox.local import LocalSandbox
from tests.loop.helpers import tiny_repo

pytestmark = pytest.mark.slow

TASK_PROTECTED = (*DEFAULT_PROTECTED, "bench/workload.py")


@pytest.fixture(scope="module")
def pipeline(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[PipelineEvaluator, Baseline, Task, dict[str, str], Path]]:
    tmp = tmp_path_factory.mktemp("evaluator")
    repo = tiny_repo(tmp)
    task = Task(
        repo=str(repo),
        workload=Workload(file="bench/workload.py"),
        tests=("tests",),
        protected=TASK_PROTECTED,
    )
    base = LocalSandbox.create(repo, tmp / "work", "base")
    import sys

    ev = PipelineEvaluator(
        base,
        task,
        python=sys.executable,
        timing=TimingConfig(rounds=4, values=2, warmups=0, min_time_s=0.02),
        test_timeout_s=120,
    )
    baseline = ev.establish_baseline(tmp / "baseline")
    files = {"tiny/core.py": (repo / "tiny" / "core.py").read_text()}
    yield ev, baseline, task, files, tmp
    base.close()


def _edit(files: dict[str, str], old: str, new: str) -> str:
    content = files["tiny/core.py"]
    assert old in content
    return unified_diff(files, {"tiny/core.py": content.replace(old, new)})


def test_baseline_records_tests_output_and_profile(pipeline: tuple) -> None:  # type: ignore[type-arg]
    _, baseline, _, _, _ = pipeline
    assert len(baseline.expected_tests) == 3
    assert baseline.output_digest
    assert baseline.median_s > 0.015  # the fixture sleeps 20 ms per call
    assert baseline.profile is not None
    assert any("pause" in h.function or "total" in h.function for h in baseline.profile.hotspots)


@pytest.mark.parametrize(
    ("old", "new", "status", "gate", "needle"),
    [
        ("    pause()\n", "    pass\n", "faster", "", "significantly faster"),
        (
            '    return "n=%d" % len(values)',
            '    return "n=%d" % len(values)  # fast',
            "noop",
            "static",
            "comments",
        ),
        ("    for v in values:", "    for v in values[1:]:", "test_failed", "tests", "test_total"),
        (
            '    return "n=%d" % len(values)',
            '    return "many" if len(values) > 100 else "n=%d" % len(values)',
            "incorrect_output",
            "output",
            "different value",
        ),
        (
            "    pause()\n",
            "    if len(values) > 100:\n        raise RuntimeError('only on big inputs')\n",
            "workload_error",
            "output",
            "only on big inputs",
        ),
    ],
    ids=["faster", "noop", "test_failed", "incorrect_output", "workload_crash"],
)
def test_gate_outcomes(
    pipeline: tuple,  # type: ignore[type-arg]
    old: str,
    new: str,
    status: str,
    gate: str,
    needle: str,
) -> None:
    ev, baseline, task, files, tmp = pipeline
    m = ev.evaluate(task, _edit(files, old, new), baseline=baseline, out_dir=tmp / status)
    assert m.status == status, m.reason
    assert m.gate == gate
    assert needle in m.reason
    assert (tmp / status / "patch.diff").is_file()
    if status == "faster":
        assert m.comparison is not None and m.comparison.speedup.low > 1.05
        assert (tmp / status / "baseline.json").is_file()
        assert m.profile is not None


def test_protected_paths_are_rejected_before_anything_runs(pipeline: tuple) -> None:  # type: ignore[type-arg]
    ev, baseline, task, _, tmp = pipeline
    patch = unified_diff({"tests/test_core.py": "x = 1\n"}, {"tests/test_core.py": "x = 2\n"})
    m = ev.evaluate(task, patch, baseline=baseline, out_dir=tmp / "rejected")
    assert m.status == "rejected" and m.gate == "static"
    assert m.tests is None and m.inner_s == 0.0


def test_patch_that_does_not_apply(pipeline: tuple) -> None:  # type: ignore[type-arg]
    ev, baseline, task, _, tmp = pipeline
    patch = unified_diff({"tiny/core.py": "no such line\n"}, {"tiny/core.py": "other\n"})
    m = ev.evaluate(task, patch, baseline=baseline, out_dir=tmp / "apply")
    assert m.status == "apply_failed" and "does not apply" in m.reason


def test_workload_variants_are_checked_too(tmp_path: Path) -> None:
    repo = tiny_repo(tmp_path)
    (repo / "bench" / "workload.py").write_text(
        "from tiny.core import label, total\n\nDATA = []\n\n\n"
        "def variants():\n    return [10, 2000]\n\n\n"
        "def setup(n=1000):\n    DATA[:] = list(range(n))\n\n\n"
        "def workload():\n    return total(DATA), label(DATA)\n"
    )
    task = Task(repo=str(repo), workload=Workload(file="bench/workload.py"), tests=("tests",),
                protected=TASK_PROTECTED)  # fmt: skip
    base = LocalSandbox.create(repo, tmp_path / "work", "base")
    try:
        import sys

        ev = PipelineEvaluator(
            base, task, python=sys.executable,
            timing=TimingConfig(rounds=4, values=2, warmups=0, min_time_s=0.02),
            test_timeout_s=120,
        )  # fmt: skip
        baseline = ev.establish_baseline(tmp_path / "baseline")
        assert baseline.variants == 2
        files = {"tiny/core.py": (repo / "tiny" / "core.py").read_text()}
        # Right for the visible input and for the tests, wrong for the other sizes.
        patch = _edit(
            files,
            '    return "n=%d" % len(values)',
            '    return "n=%d" % len(values) if len(values) in (2, 1000) else "n=?"',
        )
        m = ev.evaluate(task, patch, baseline=baseline, out_dir=tmp_path / "cand")
        assert (m.status, m.code) == ("incorrect_output", "variant_mismatch"), m.reason
        assert "variant-0" in m.reason
    finally:
        base.close()
