"""The gate pipeline that turns one patch into one Measurement (DESIGN.md section 4).

Gates run cheapest first and stop at the first failure: parse and static policy,
apply, no-op and added-code scan, tests, workload output (visible and hidden
variants), timing (adaptive, against the A/A noise floor), workspace writes, the
deciding metric, then plausibility (cold one-call processes on a hidden input, extra
variants for implausible gains). The Judge only ever sees what this returns.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import replace
from pathlib import Path

from perfsmith.config import DEFAULT_METRICS, CheckSettings, RunConfig
from perfsmith.core import CandidateStatus, Measurement, MetricResult, Profile, Task
from perfsmith.diffs import touched_paths
from perfsmith.errors import BaselineError, WorkloadError
from perfsmith.measure import guards, stats
from perfsmith.measure.baseline import (
    MAX_VARIANTS,
    VISIBLE,
    Baseline,
    output_labels,
    same_output,
)
from perfsmith.measure.metrics import (
    deciding_status,
    extra_metrics,
    latency_metric,
    order,
)
from perfsmith.measure.native_profile import native_profile
from perfsmith.measure.plausibility import check_plausibility
from perfsmith.measure.profile import profile_workload
from perfsmith.measure.tests import grade, run_tests
from perfsmith.measure.timing import (
    OutputCheck,
    TamperError,
    TimingConfig,
    TimingResult,
    check_output_tree,
    time_adaptive,
    time_command,
)
from perfsmith.sandbox.local import LocalSandbox
from perfsmith.trajectory import atomic_write

__all__ = ["Baseline", "PipelineEvaluator"]


class PipelineEvaluator:
    """Evaluates candidates against a pristine base workspace.

    Args:
        base: the pristine workspace (only the baseline's own runs touch it).
        task: what to optimize.
        python: interpreter that runs tests and workloads.
        timing: how to time.
        test_timeout_s: limit for one test run.
        checks: correctness and plausibility checks beyond the tests.
        metrics: metrics reported beside the deciding one.
    """

    def __init__(
        self,
        base: LocalSandbox,
        task: Task,
        *,
        python: str,
        timing: TimingConfig,
        test_timeout_s: float,
        checks: CheckSettings | None = None,
        metrics: tuple[str, ...] = DEFAULT_METRICS,
    ) -> None:
        self.base = base
        self.task = task
        self.python = python
        self.timing = timing
        self.test_timeout_s = test_timeout_s
        self.checks = checks or CheckSettings()
        self.metrics = metrics
        self._count = 0

    @classmethod
    def from_config(cls, base: LocalSandbox, cfg: RunConfig) -> PipelineEvaluator:
        """The evaluator a run configuration asks for."""
        t = cfg.timing
        return cls(
            base,
            cfg.to_task(),
            python=cfg.python,
            timing=TimingConfig(
                rounds=t.rounds,
                values=t.values,
                warmups=t.warmups,
                min_time_s=t.min_time_s,
                min_gain=t.min_gain,
                timeout_s=t.timeout_s,
                confidence=t.confidence,
                step_rounds=t.step_rounds,
                max_rounds=t.max_rounds,
                time_cap_s=t.time_cap_s,
            ),
            test_timeout_s=cfg.test_timeout_s,
            checks=cfg.checks,
            metrics=tuple(cfg.metrics),
        )

    # ------------------------------------------------------------------ baseline
    def establish_baseline(self, out_dir: Path) -> Baseline:
        """Run the base's tests, record its outputs, time it against itself, profile it.

        Raises:
            BaselineError: tests fail or none are collected.
            WorkloadError: the workload crashes or times out on the base.
        """
        out_dir.mkdir(parents=True, exist_ok=True)
        task = self.task
        report = run_tests(
            self.base,
            self.python,
            task.tests,
            xml_path=out_dir / "tests.xml",
            timeout_s=self.test_timeout_s,
            pythonpath=task.pythonpath,
        )
        bad = sorted(t for t, o in report.outcomes.items() if o in ("failed", "error"))
        if bad:
            shown = ", ".join(bad[:10]) + (f" and {len(bad) - 10} more" if len(bad) > 10 else "")
            raise BaselineError(
                f"The unmodified repository fails {len(bad)} test(s): {shown}.",
                "perfsmith only optimizes code whose tests pass. Fix or deselect those tests "
                "(--tests PATH, or [tool.perfsmith].tests) and run again.",
            )
        if not report.passed_ids():
            raise BaselineError(
                "No test passed on the unmodified repository (none were collected"
                + (f" from {', '.join(task.tests)}" if task.tests else "")
                + ").\n"
                + report.output_tail[-800:],
                "Point --tests at the tests that cover the code to optimize; without them "
                "perfsmith cannot tell a faster program from a broken one.",
            )
        digests: dict[str, str] = {}
        trees: dict[str, str] = {}
        seeds: tuple[int, ...] = ()
        variants = 0
        if task.workload.file:
            # Seeds drawn per run and never shown to the Coder: a candidate that
            # hard-codes the visible input cannot know them.
            seeds = tuple(1 + secrets.randbelow(10**6) for _ in range(self.checks.hidden_variants))
            try:
                visible = self.output(self.base, out_dir, VISIBLE, None, "baseline")
                variants = min(visible.variants, MAX_VARIANTS)
                for label, seed, variant in output_labels(seeds, variants):
                    got = (
                        visible
                        if label == VISIBLE
                        else self.output(self.base, out_dir, label, seed, "baseline", variant)
                    )
                    digests[label] = got.digest
                    trees[label] = str(out_dir / f"output-{label}.pickle.tree.json")
            except WorkloadError as exc:
                raise WorkloadError(
                    f"The workload fails on the unmodified repository: {exc.message}",
                    "Run the workload by hand (python -c 'import runpy; "
                    'runpy.run_path(FILE)["workload"]()\') and fix it first.',
                ) from exc
        aa = self._time(self.base, out_dir / "aa")
        noise = stats.noise_floor(aa.comparison.speedup)
        prof = None
        if task.workload.file:
            prof = self.profile(self.base, out_dir)
            atomic_write(out_dir / "profile.txt", prof.as_text(limit=20) + "\n")
        samples = sorted(aa.comparison.baseline_s)
        return Baseline(
            expected_tests=report.passed_ids(),
            median_s=samples[len(samples) // 2],
            samples=len(samples),
            noise=noise,
            digests=digests,
            trees=trees,
            hidden_seeds=seeds,
            variants=variants,
            written=frozenset(self.base.changed_paths()),
            profile=prof,
        )

    def output(
        self,
        box: LocalSandbox,
        out_dir: Path,
        label: str,
        seed: int | None,
        side: str,
        variant: int | None = None,
    ) -> OutputCheck:
        """Run the workload once in ``box`` (on ``seed``'s input) and capture its value."""
        assert self.task.workload.file
        return check_output_tree(
            box,
            self.python,
            self.task.workload.file,
            pythonpath=self.task.pythonpath,
            out_path=out_dir / f"output-{label}.pickle",
            timeout_s=self.timing.timeout_s,
            side=side,
            seed=seed,
            variant=variant,
        )

    def profile(self, box: LocalSandbox, out_dir: Path) -> Profile:
        """Profile the workload in ``box``: cProfile's hot functions, or for a kernel task
        its lines under valgrind (which never fails the run: an unavailable one says why)."""
        task = self.task
        assert task.workload.file
        if task.mode == "kernel":
            return native_profile(
                box, self.python, task.workload.file, pythonpath=task.pythonpath, out_dir=out_dir
            )
        return profile_workload(
            box,
            self.python,
            task.workload.file,
            pythonpath=task.pythonpath,
            out_dir=out_dir,
            timeout_s=self.timing.timeout_s,
        )

    def _time(self, cand: LocalSandbox, out_dir: Path, noise: float = 0.0) -> TimingResult:
        if self.task.workload.command:
            return time_command(
                self.base,
                cand,
                list(self.task.workload.command),
                config=self.timing,
                out_dir=out_dir,
                noise=noise,
            )
        assert self.task.workload.file
        return time_adaptive(
            self.base,
            cand,
            self.python,
            self.task.workload.file,
            pythonpath=self.task.pythonpath,
            config=self.timing,
            out_dir=out_dir,
            noise=noise,
        )

    # ----------------------------------------------------------------- candidate
    def evaluate(self, task: Task, patch: str, *, baseline: Baseline, out_dir: Path) -> Measurement:
        """Run every gate on ``patch`` (cumulative, against the base)."""
        started = time.monotonic()
        out_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(out_dir / "patch.diff", patch)
        self._count += 1
        m = self._gates(task, patch, baseline, out_dir)
        return replace(m, duration_s=time.monotonic() - started)

    def _gates(self, task: Task, patch: str, baseline: Baseline, out_dir: Path) -> Measurement:
        finding = guards.check_patch(patch, task.protected)
        if finding is not None:
            status: CandidateStatus = (
                "format_error" if finding.status == "format_error" else "rejected"
            )
            return Measurement(
                status=status, reason=finding.reason, patch=patch, gate="static", code=finding.code
            )
        # Filled in gate by gate; each failure returns it with its status, reason and code.
        m = Measurement(status="faster", reason="", patch=patch, flags=guards.smells(patch))
        cand = self.base.clone(f"cand-{self._count:03d}")
        try:
            return self._run_gates(task, cand, m, baseline, out_dir)
        except TamperError as exc:
            return replace(
                m, status="rejected", reason=exc.message, gate="timing", code="timer_tampering"
            )
        finally:
            cand.close()

    def _run_gates(
        self, task: Task, cand: LocalSandbox, m: Measurement, baseline: Baseline, out_dir: Path
    ) -> Measurement:
        applied = cand.apply_patch(m.patch)
        if not applied.ok:
            why = (applied.stderr or applied.stdout)[-500:]
            return replace(
                m,
                status="apply_failed",
                reason=f"the patch does not apply: {why}",
                gate="apply",
                code="does_not_apply",
            )
        old, new = self._contents(cand, m.patch)
        if guards.is_noop(old, new):
            return replace(
                m,
                status="noop",
                reason="the patch changes only comments, docstrings or formatting",
                gate="static",
                code="noop",
            )
        findings = guards.scan_added(old, new)
        if findings:
            f = findings[0]
            return replace(m, status="rejected", reason=f.reason, gate="static", code=f.code)
        m = replace(m, flags=tuple(dict.fromkeys((*m.flags, *guards.flags_added(old, new)))))

        report = run_tests(
            cand,
            self.python,
            task.tests,
            xml_path=out_dir / "tests.xml",
            timeout_s=self.test_timeout_s,
            pythonpath=task.pythonpath,
        )
        g = grade(baseline.expected_tests, report)
        m = replace(m, grade=g, tests=report, inner_s=report.duration_s)
        if not g.ok:
            names = list(g.failed) + [f"{t} (missing)" for t in g.missing]
            more = f" and {len(names) - 8} more" if len(names) > 8 else ""
            return replace(
                m,
                status="test_failed",
                reason=f"{len(names)} test(s) that passed at baseline now fail: "
                + ", ".join(names[:8])
                + more,
                gate="tests",
                code="tests_missing" if g.missing else "tests_failed",
            )

        if task.workload.file:
            t0 = time.monotonic()
            failed = self._check_outputs(cand, baseline, out_dir, m)
            m = replace(m, inner_s=m.inner_s + time.monotonic() - t0)
            if failed is not None:
                return replace(failed, inner_s=m.inner_s)

        try:
            timing = self._time(cand, out_dir, noise=baseline.noise)
        except WorkloadError as exc:
            return self.crash(m, exc, "timing")
        m = replace(m, artifacts=dict(timing.files), inner_s=m.inner_s + timing.inner_s)
        extra_writes = cand.changed_paths() - set(touched_paths(m.patch)) - baseline.written
        if extra_writes:
            shown = ", ".join(sorted(extra_writes)[:5])
            return replace(
                m,
                status="rejected",
                reason=f"the candidate writes files into the repository while it runs: {shown}",
                gate="timing",
                code="workspace_writes",
                comparison=timing.comparison,
            )

        t0 = time.monotonic()
        metrics = (latency_metric(task.target, timing), *self._extras(cand, timing))
        status, code, reason = deciding_status(task.target, timing, metrics, self.timing.min_gain)
        m = replace(
            m,
            status=status,
            code=code,
            reason=reason,
            gate="" if status == "faster" else "timing",
            comparison=timing.comparison,
            metrics=order(task.target, metrics),
        )
        if status == "faster" and task.workload.file:
            m = check_plausibility(self, cand, m, baseline, out_dir)
            if m.status == "faster":
                # The kept candidate's profile is what the Coder reads next.
                prof = self.profile(cand, out_dir)
                atomic_write(out_dir / "profile.txt", prof.as_text(limit=20) + "\n")
                m = replace(m, profile=prof)
        return replace(m, inner_s=m.inner_s + time.monotonic() - t0)

    def _contents(self, cand: LocalSandbox, patch: str) -> tuple[dict[str, str], dict[str, str]]:
        """Text of the touched files before (base) and after (candidate)."""
        old: dict[str, str] = {}
        new: dict[str, str] = {}
        for path in touched_paths(patch):
            before, after = _read(self.base, path), _read(cand, path)
            if before is not None:
                old[path] = before
            if after is not None:
                new[path] = after
        return old, new

    def crash(self, m: Measurement, exc: WorkloadError, gate: str) -> Measurement:
        """``m`` failed because the workload crashed or timed out at ``gate``."""
        timed_out = "timed out" in exc.message or "timeout" in exc.message.lower()
        return replace(
            m,
            status="workload_error",
            reason=exc.message,
            gate=gate,
            code="workload_timeout" if timed_out else "workload_crash",
        )

    def _check_outputs(
        self, cand: LocalSandbox, baseline: Baseline, out_dir: Path, m: Measurement
    ) -> Measurement | None:
        """The visible output, then the hidden variants; a failed Measurement or None."""
        for label, seed, variant in output_labels(baseline.hidden_seeds, baseline.variants):
            if label not in baseline.digests:
                continue
            try:
                got = self.output(cand, out_dir, label, seed, "candidate", variant)
            except TamperError:
                raise
            except WorkloadError as exc:
                return self.crash(m, exc, "output")
            diff = same_output(
                baseline.digests[label],
                baseline.trees.get(label),
                got.digest,
                got.tree,
                rel_tol=self.checks.rel_tol,
                abs_tol=self.checks.abs_tol,
            )
            if diff is not None:
                where = ""
                if label != VISIBLE:
                    where = f"on {'a hidden input the Coder never saw' if seed else label}, "
                return replace(
                    m,
                    status="incorrect_output",
                    reason=f"{where}workload() returns a different value than the baseline {diff}",
                    gate="output",
                    code="output_mismatch" if label == VISIBLE else "variant_mismatch",
                )
        return None

    def _extras(self, cand: LocalSandbox, timing: TimingResult) -> tuple[MetricResult, ...]:
        return extra_metrics(
            self.base,
            cand,
            python=self.python,
            task=self.task,
            wanted=self.metrics,
            timing=timing,
            timeout_s=self.timing.timeout_s,
        )


def _read(sb: LocalSandbox, path: str) -> str | None:
    try:
        return sb.read_file(path)
    except (OSError, UnicodeDecodeError):
        return None
