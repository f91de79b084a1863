"""The gate pipeline that turns one patch into one Measurement (DESIGN.md section 4).

Gates run cheapest first and stop at the first failure: parse, static policy, apply,
no-op, tests, workload output, timing. The Judge only ever sees what this returns.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

from perfsmith.config import RunConfig
from perfsmith.core import CandidateStatus, Comparison, Measurement, Profile, Task
from perfsmith.diffs import touched_paths
from perfsmith.errors import BaselineError, WorkloadError
from perfsmith.measure import guards
from perfsmith.measure.profile import profile_workload
from perfsmith.measure.tests import grade, run_tests
from perfsmith.measure.timing import (
    TimingConfig,
    TimingResult,
    check_output,
    time_command,
    time_interleaved,
)
from perfsmith.sandbox.local import LocalSandbox
from perfsmith.trajectory import atomic_write

PLAUSIBLE_GAIN = 10.0


@dataclass(frozen=True)
class Baseline:
    """What the unmodified repository does: the yardstick for every candidate."""

    expected_tests: frozenset[str]
    output_digest: str | None  # None for command workloads (no return value)
    median_s: float
    samples: int
    profile: Profile | None


class PipelineEvaluator:
    """Evaluates candidates against a pristine base workspace.

    Args:
        base: the pristine workspace (never modified after creation).
        task: what to optimize.
        python: interpreter that runs tests and workloads.
        timing: how to time.
        test_timeout_s: limit for one test run.
    """

    def __init__(
        self,
        base: LocalSandbox,
        task: Task,
        *,
        python: str,
        timing: TimingConfig,
        test_timeout_s: float,
    ) -> None:
        self.base = base
        self.task = task
        self.python = python
        self.timing = timing
        self.test_timeout_s = test_timeout_s
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
            ),
            test_timeout_s=cfg.test_timeout_s,
        )

    # ------------------------------------------------------------------ baseline
    def establish_baseline(self, out_dir: Path) -> Baseline:
        """Run the base's tests, record its output and time it against itself.

        Raises:
            BaselineError: tests fail or none are collected.
            WorkloadError: the workload crashes or times out on the base.
        """
        out_dir.mkdir(parents=True, exist_ok=True)
        report = run_tests(
            self.base,
            self.python,
            self.task.tests,
            xml_path=out_dir / "tests.xml",
            timeout_s=self.test_timeout_s,
            pythonpath=self.task.pythonpath,
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
                + (f" from {', '.join(self.task.tests)}" if self.task.tests else "")
                + ").\n"
                + report.output_tail[-800:],
                "Point --tests at the tests that cover the code to optimize; without them "
                "perfsmith cannot tell a faster program from a broken one.",
            )
        digest = None
        if self.task.workload.file:
            try:
                digest = check_output(
                    self.base,
                    self.python,
                    self.task.workload.file,
                    pythonpath=self.task.pythonpath,
                    out_path=out_dir / "output.pickle",
                    timeout_s=self.timing.timeout_s,
                )
            except WorkloadError as exc:
                raise WorkloadError(
                    f"The workload fails on the unmodified repository: {exc.message}",
                    "Run the workload by hand (python -c 'import runpy; "
                    'runpy.run_path(FILE)["workload"]()\') and fix it first.',
                ) from exc
        aa = self._time(self.base, out_dir, rounds=4)
        samples = aa.comparison.baseline_s
        prof = None
        if self.task.workload.file:
            prof = profile_workload(
                self.base,
                self.python,
                self.task.workload.file,
                pythonpath=self.task.pythonpath,
                out_dir=out_dir,
                timeout_s=self.timing.timeout_s,
            )
            atomic_write(out_dir / "profile.txt", prof.as_text(limit=20) + "\n")
        ordered = sorted(samples)
        return Baseline(
            expected_tests=report.passed_ids(),
            output_digest=digest,
            median_s=ordered[len(ordered) // 2],
            samples=len(samples),
            profile=prof,
        )

    def _time(
        self, cand: LocalSandbox, out_dir: Path, *, rounds: int | None = None
    ) -> TimingResult:
        cfg = self.timing if rounds is None else replace(self.timing, rounds=rounds)
        if self.task.workload.command:
            return time_command(
                self.base, cand, list(self.task.workload.command), config=cfg, out_dir=out_dir
            )
        assert self.task.workload.file
        return time_interleaved(
            self.base,
            cand,
            self.python,
            self.task.workload.file,
            pythonpath=self.task.pythonpath,
            config=cfg,
            out_dir=out_dir,
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
            return Measurement(status=status, reason=finding.reason, patch=patch, gate="static")
        # Filled in gate by gate; each failure returns it with its status, reason and gate.
        m = Measurement(status="faster", reason="", patch=patch, flags=guards.smells(patch))
        cand = self.base.clone(f"cand-{self._count:03d}")
        try:
            applied = cand.apply_patch(patch)
            if not applied.ok:
                why = (applied.stderr or applied.stdout)[-500:]
                return replace(
                    m,
                    status="apply_failed",
                    reason=f"the patch does not apply: {why}",
                    gate="apply",
                )
            if self._is_noop(cand, patch):
                return replace(
                    m,
                    status="noop",
                    reason="the patch changes only comments, docstrings or formatting",
                    gate="static",
                )
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
                )
            if task.workload.file and baseline.output_digest is not None:
                t0 = time.monotonic()
                try:
                    digest = check_output(
                        cand,
                        self.python,
                        task.workload.file,
                        pythonpath=task.pythonpath,
                        out_path=out_dir / "output.pickle",
                        timeout_s=self.timing.timeout_s,
                    )
                except WorkloadError as exc:
                    return replace(m, status="workload_error", reason=exc.message, gate="output")
                m = replace(m, inner_s=m.inner_s + time.monotonic() - t0)
                if digest != baseline.output_digest:
                    return replace(
                        m,
                        status="incorrect_output",
                        reason="workload() returns a different value than on the baseline",
                        gate="output",
                    )
            try:
                timing = self._time(cand, out_dir)
            except WorkloadError as exc:
                return replace(m, status="workload_error", reason=exc.message, gate="timing")
            comp = timing.comparison
            status, reason = _verdict(comp)
            m = replace(
                m,
                status=status,
                reason=reason,
                gate="" if status == "faster" else "timing",
                comparison=comp,
                artifacts=dict(timing.files),
                inner_s=m.inner_s + timing.inner_s,
            )
            if comp.speedup.estimate > PLAUSIBLE_GAIN:
                m = replace(m, flags=(*m.flags, "implausible_gain"))
            if status == "faster" and task.workload.file:
                # The kept candidate's profile is what the Coder reads next.
                t0 = time.monotonic()
                prof = profile_workload(
                    cand,
                    self.python,
                    task.workload.file,
                    pythonpath=task.pythonpath,
                    out_dir=out_dir,
                    timeout_s=self.timing.timeout_s,
                )
                atomic_write(out_dir / "profile.txt", prof.as_text(limit=20) + "\n")
                m = replace(m, profile=prof, inner_s=m.inner_s + time.monotonic() - t0)
            return m
        finally:
            cand.close()

    def _is_noop(self, cand: LocalSandbox, patch: str) -> bool:
        old: dict[str, str] = {}
        new: dict[str, str] = {}
        for path in touched_paths(patch):
            before, after = self._read(self.base, path), self._read(cand, path)
            if before is not None:
                old[path] = before
            if after is not None:
                new[path] = after
        return guards.is_noop(old, new)

    @staticmethod
    def _read(sb: LocalSandbox, path: str) -> str | None:
        try:
            return sb.read_file(path)
        except (OSError, UnicodeDecodeError):
            return None


def _verdict(comp: Comparison) -> tuple[CandidateStatus, str]:
    s = comp.speedup
    text = f"{s.estimate:.2f}x [{s.low:.2f}, {s.high:.2f}] over {comp.processes} processes"
    if comp.significant:
        return "faster", f"significantly faster: {text}"
    if comp.slower:
        return "slower", f"significantly slower: {text}"
    return "not_significant", (
        f"not significant: {text}; the interval's low end must exceed {comp.threshold:.2f}"
    )
