"""``perfsmith measure``: a standalone verdict on one patch ("is this PR faster?").

Runs the same gate pipeline the loop uses, once, against a fresh copy of the repository,
and reduces the result to one verdict with its reason code, every metric with its
interval and sample count, and the machine fingerprint.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from perfsmith.config import RunConfig
from perfsmith.core import CandidateStatus, Measurement
from perfsmith.measure.evaluator import Baseline, PipelineEvaluator
from perfsmith.measure.hardware import fingerprint
from perfsmith.measure.metrics import check_target
from perfsmith.sandbox.factory import choose, open_base
from perfsmith.sandbox.local import LocalSandbox

Verdict = Literal[
    "faster", "not_significant", "slower", "incorrect", "rejected", "noop", "quarantined"
]

VERDICTS: dict[CandidateStatus, Verdict] = {
    "faster": "faster",
    "not_significant": "not_significant",
    "slower": "slower",
    "test_failed": "incorrect",
    "incorrect_output": "incorrect",
    "workload_error": "incorrect",
    "apply_failed": "rejected",
    "rejected": "rejected",
    "format_error": "rejected",
    "noop": "noop",
    "quarantined": "quarantined",
}


@dataclass(frozen=True)
class MeasureReport:
    """The verdict on one patch, with everything behind it."""

    verdict: Verdict
    measurement: Measurement
    baseline: Baseline
    fingerprint: dict[str, Any]
    target: str
    out_dir: str


def measure_patch(
    cfg: RunConfig,
    patch: str,
    out_dir: Path,
    *,
    emit: Callable[[str], None] = lambda line: None,
) -> MeasureReport:
    """Establish the baseline of ``cfg.repo`` and evaluate ``patch`` against it."""
    check_target(cfg.target, workload_is_command=cfg.workload_cmd is not None)
    sandbox = choose(cfg.sandbox, bwrap=cfg.bwrap)
    if sandbox.warning:
        emit(f"warning: {sandbox.warning}")
    work = Path(tempfile.mkdtemp(prefix="perfsmith-"))
    base: LocalSandbox | None = None
    try:
        base = open_base(
            sandbox, Path(cfg.repo), work, python=cfg.python, docker=cfg.docker, notify=emit
        )
        evaluator = PipelineEvaluator.from_config(base, cfg)
        emit("baseline: running tests, checking the output, timing and profiling")
        baseline = evaluator.establish_baseline(out_dir / "baseline")
        emit("candidate: running the gates")
        m = evaluator.evaluate(
            cfg.to_task(), patch, baseline=baseline, out_dir=out_dir / "candidate"
        )
    finally:
        if base is not None:
            base.close()
        shutil.rmtree(work, ignore_errors=True)
    return MeasureReport(
        verdict=VERDICTS[m.status],
        measurement=m,
        baseline=baseline,
        fingerprint=fingerprint(python=cfg.python, sandbox=sandbox.kind),
        target=cfg.target,
        out_dir=str(out_dir),
    )


def _interval(iv: Any) -> dict[str, float] | None:
    return None if iv is None else {k: float(v) for k, v in asdict(iv).items()}


def report_json(r: MeasureReport) -> dict[str, Any]:
    """The ``--json`` document; ``verdict`` and ``reason`` are always at the top."""
    m = r.measurement
    comp = m.comparison
    return {
        "verdict": r.verdict,
        "reason": m.reason,
        "code": m.code,
        "status": m.status,
        "gate": m.gate,
        "target": r.target,
        "speedup": None
        if comp is None
        else {
            **(_interval(comp.speedup) or {}),
            "threshold": comp.threshold,
            "n": comp.processes,
            "p_value": comp.p_value,
            "decided": comp.decided,
        },
        "metrics": [{**asdict(x), "speedup": _interval(x.speedup)} for x in m.metrics],
        "tests": None
        if m.grade is None
        else {
            "ok": m.grade.ok,
            "failed": list(m.grade.failed),
            "missing": list(m.grade.missing),
            "expected": len(r.baseline.expected_tests),
        },
        "flags": list(m.flags),
        "baseline": {
            "median_s": r.baseline.median_s,
            "samples": r.baseline.samples,
            "noise": r.baseline.noise,
            "tests": len(r.baseline.expected_tests),
        },
        "fingerprint": r.fingerprint,
        "artifacts": r.out_dir,
    }


def report_text(r: MeasureReport) -> str:
    """A few readable lines: the verdict first."""
    doc = report_json(r)
    lines = [f"verdict: {doc['verdict']}" + (f" ({doc['code']})" if doc["code"] else "")]
    lines.append(f"reason:  {doc['reason']}")
    sp = doc["speedup"]
    if sp:
        lines.append(
            f"latency: {sp['estimate']:.3f}x, 95% CI [{sp['low']:.3f}, {sp['high']:.3f}], "
            f"n={sp['n']} processes per side, p={sp['p_value']:.3g}, "
            f"faster means low > {sp['threshold']:.3f}"
        )
    for metric in doc["metrics"]:
        if not metric["available"]:
            lines.append(f"{metric['name']}: unavailable ({metric['note']})")
        elif metric["speedup"]:
            s = metric["speedup"]
            lines.append(
                f"{metric['name']}: {s['estimate']:.3f}x [{s['low']:.3f}, {s['high']:.3f}] "
                f"n={metric['n']} ({metric['baseline']:.4g} -> {metric['candidate']:.4g} "
                f"{metric['unit']})"
            )
    tests = doc["tests"]
    if tests:
        state = "all pass" if tests["ok"] else f"{len(tests['failed'])} failing"
        lines.append(f"tests:   {state} ({tests['expected']} expected)")
    if doc["flags"]:
        lines.append("flags:   " + ", ".join(doc["flags"]))
    fp = doc["fingerprint"]
    lines.append(f"machine: {fp['cpu']} · {fp['cpus']} CPUs · {fp['python']} · {fp['id']}")
    lines.append(f"raw data: {doc['artifacts']}")
    return "\n".join(lines)
