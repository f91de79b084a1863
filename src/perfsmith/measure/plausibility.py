"""Gate 6, plausibility: extra checks before a gain is believed (DESIGN.md section 4).

Where the task declares the work of one call (``checks.roofline_flops`` and
``checks.roofline_bytes``, set from a kernel task's ``cost``), a median time per call
below what the machine's measured peaks allow is quarantined first (the roofline,
``perfsmith.measure.roofline``). A gain that does not survive one call per fresh process
on a hidden input is quarantined (caching across calls, or a fast path for the visible
input); a gain above ``checks.quarantine_gain`` must also give the right output on extra
hidden inputs before it is kept.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from perfsmith.core import Comparison, Measurement, MetricResult
from perfsmith.errors import WorkloadError
from perfsmith.measure import roofline, stats
from perfsmith.measure.baseline import Baseline, same_output, seed_label
from perfsmith.measure.timing import time_cold
from perfsmith.sandbox.local import LocalSandbox

if TYPE_CHECKING:
    from perfsmith.measure.evaluator import PipelineEvaluator


def _cold(
    ev: PipelineEvaluator,
    cand: LocalSandbox,
    m: Measurement,
    out_dir: Path,
    seed: int | None,
    n: int,
) -> Comparison:
    assert m.comparison is not None and ev.task.workload.file
    return time_cold(
        ev.base,
        cand,
        ev.python,
        ev.task.workload.file,
        pythonpath=ev.task.pythonpath,
        processes=n,
        out_dir=out_dir,
        threshold=m.comparison.threshold,
        confidence=ev.timing.confidence,
        timeout_s=ev.timing.timeout_s,
        seed=seed,
    )


def _verdict(
    ev: PipelineEvaluator, time_s: float, peaks: roofline.Peaks
) -> roofline.RooflineVerdict:
    return roofline.roofline_verdict(
        time_s,
        flops=ev.checks.roofline_flops,
        bytes=ev.checks.roofline_bytes,
        peak_flops=peaks.flops_per_s,
        bandwidth=peaks.bytes_per_s,
    )


def check_roofline(ev: PipelineEvaluator, m: Measurement) -> Measurement:
    """Quarantine a time per call below the roofline; note the fraction reached otherwise.

    Does nothing unless ``checks.roofline_flops`` or ``checks.roofline_bytes`` is set.
    Peaks come from the per-machine cache; before a candidate is quarantined on cached
    peaks they are measured again. A baseline that is itself below the bound means the
    declared work or the measured peaks are wrong, not the candidate: then nothing is
    quarantined and the flag ``roofline_baseline_below`` says so.
    """
    flops, nbytes = ev.checks.roofline_flops, ev.checks.roofline_bytes
    if m.comparison is None or (flops is None and nbytes is None):
        return m
    time_s = stats.median(m.comparison.candidate_s)
    peaks = roofline.machine_peaks(nbytes)
    verdict = _verdict(ev, time_s, peaks)
    if not verdict.plausible and peaks.cached:
        peaks = roofline.machine_peaks(nbytes, fresh=True)
        verdict = _verdict(ev, time_s, peaks)
    if (flops is None or peaks.flops_per_s is None) and (
        nbytes is None or peaks.bytes_per_s is None
    ):  # nothing here could measure a peak the declared work needs (no NumPy, no compiler)
        return replace(m, flags=(*m.flags, "roofline_unmeasured"))
    if not verdict.plausible:
        if not _verdict(ev, stats.median(m.comparison.baseline_s), peaks).plausible:
            return replace(m, flags=(*m.flags, "roofline_baseline_below"))
        return replace(
            m,
            status="quarantined",
            gate="plausibility",
            code="above_roofline",
            reason=verdict.reason(),
        )
    metrics = tuple(
        replace(x, note="; ".join(filter(None, (x.note, verdict.note()))))
        if x.name in ("latency", "throughput")
        else x
        for x in m.metrics
    )
    return replace(m, metrics=metrics)


def check_plausibility(
    ev: PipelineEvaluator, cand: LocalSandbox, m: Measurement, baseline: Baseline, out_dir: Path
) -> Measurement:
    """Extra checks before a gain is believed (DESIGN.md section 4, gate 6)."""
    assert m.comparison is not None and ev.task.workload.file
    m = check_roofline(ev, m)
    if m.status != "faster":
        return m
    assert m.comparison is not None
    warm = m.comparison.speedup
    # One call per fresh process, on a hidden input: memoisation across calls, disk
    # caches and fast paths for the visible input all vanish here.
    seed = baseline.hidden_seeds[0] if baseline.hidden_seeds else None
    cold = _cold(ev, cand, m, out_dir / "cold", seed, ev.checks.cold_processes)
    ambiguous = not cold.significant and cold.speedup.high >= warm.low
    if ambiguous:
        # Noise, or a cache? More fresh processes settle it before anything is kept.
        more = 3 * ev.checks.cold_processes
        cold = _cold(ev, cand, m, out_dir / "cold-more", seed, more)
    cold_metric = MetricResult(
        "cold_latency",
        "s",
        stats.median(cold.baseline_s),
        stats.median(cold.candidate_s),
        cold.speedup,
        cold.processes,
        note="one call per fresh process" + (" on a hidden input" if seed else ""),
    )
    m = replace(m, metrics=(*m.metrics, cold_metric))
    bar = warm.estimate if ambiguous else warm.low
    if not cold.significant and cold.speedup.high < bar:
        return replace(
            m,
            status="quarantined",
            gate="plausibility",
            code="cache_suspected",
            reason=(
                f"the gain does not survive fresh processes: {warm.estimate:.2f}x "
                f"warm but {cold.speedup.estimate:.2f}x [{cold.speedup.low:.2f}, "
                f"{cold.speedup.high:.2f}] with one call per process on a hidden input; "
                "this is what caching across calls or a fast path for the visible input "
                "looks like"
            ),
        )
    if warm.estimate > ev.checks.quarantine_gain:
        n = ev.checks.quarantine_variants
        extra = tuple(1 + secrets.randbelow(10**6) for _ in range(n))
        for s in extra:
            label = seed_label(s)
            try:
                ref = ev.output(ev.base, out_dir, f"base-{label}", s, "baseline")
                got = ev.output(cand, out_dir, label, s, "candidate")
            except WorkloadError as exc:
                return ev.crash(m, exc, "plausibility")
            diff = same_output(
                ref.digest,
                str(out_dir / f"output-base-{label}.pickle.tree.json"),
                got.digest,
                got.tree,
                rel_tol=ev.checks.rel_tol,
                abs_tol=ev.checks.abs_tol,
            )
            if diff is not None:
                return replace(
                    m,
                    status="incorrect_output",
                    gate="plausibility",
                    code="variant_mismatch",
                    reason=f"a {warm.estimate:.0f}x gain was checked on extra hidden "
                    f"inputs and the output differs {diff}",
                )
        m = replace(m, flags=(*m.flags, "implausible_gain", "quarantine_cleared"))
    return m
