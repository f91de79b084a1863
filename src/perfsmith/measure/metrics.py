"""Every metric beside wall time, and which one decides (``--target``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from perfsmith.core import CandidateStatus, MetricName, MetricResult, Target, Task
from perfsmith.errors import WorkloadError
from perfsmith.measure import counters, stats
from perfsmith.measure.timing import TimingResult
from perfsmith.sandbox.local import LocalSandbox

TARGET_METRIC: dict[Target, MetricName] = {
    "latency": "latency",
    "throughput": "throughput",
    "memory": "peak_memory",
    "instructions": "instructions",
    "energy": "energy",
}


def latency_metric(target: Target, timing: TimingResult) -> MetricResult:
    """Steady-state wall time (or its inverse, throughput) from the interleaved workers."""
    c = timing.comparison
    base, cand = stats.median(c.baseline_s), stats.median(c.candidate_s)
    note = "interleaved pyperf workers" + ("" if c.decided else "; sampling cap reached")
    if target == "throughput":
        tp = (1 / base, 1 / cand)
        return MetricResult("throughput", "calls/s", *tp, c.speedup, c.processes, note=note)
    return MetricResult("latency", "s", base, cand, c.speedup, c.processes, note=note)


def extra_metrics(
    base: LocalSandbox,
    cand: LocalSandbox,
    *,
    python: str,
    task: Task,
    wanted: Sequence[str],
    timing: TimingResult,
    timeout_s: float,
) -> tuple[MetricResult, ...]:
    """The metrics asked for (plus the target's), measured on both sides."""
    out: list[MetricResult] = []
    if "cpu_time" in wanted and timing.cpu is not None:
        c = timing.cpu
        out.append(
            MetricResult(
                "cpu_time",
                "s",
                stats.median(c.baseline_s),
                stats.median(c.candidate_s),
                c.speedup,
                c.processes,
                note="CPU seconds of the same timed calls",
            )
        )
    file = task.workload.file
    if file is None:
        return tuple(out)
    target = TARGET_METRIC[task.target]
    need = set(wanted) | {target}
    pp = task.pythonpath
    measures: dict[MetricName, tuple[str, Callable[[], MetricResult]]] = {
        "peak_memory": ("B", lambda: counters.compare_memory(
            base, cand, python, file, timeout_s=timeout_s, pythonpath=pp,
            how="rss" if task.mode == "kernel" else "python")),
        "instructions": ("instr", lambda: counters.compare_instructions(
            base, cand, python, file, timeout_s=max(timeout_s, 600), pythonpath=pp)),
        "energy": ("J", lambda: counters.compare_energy(base, cand, python, file, pythonpath=pp)),
    }  # fmt: skip
    for name, (unit, measure) in measures.items():
        if name not in need:
            continue
        try:
            out.append(measure())
        except WorkloadError as exc:
            if name == target:
                raise  # the deciding metric failing is the candidate failing
            out.append(MetricResult(name, unit, 0.0, 0.0, None, 0, available=False,
                                    note=f"failed: {exc.message[:200]}"))  # fmt: skip
    return tuple(out)


def deciding_status(
    target: Target,
    timing: TimingResult,
    metrics: Sequence[MetricResult],
    min_gain: float,
) -> tuple[CandidateStatus, str, str]:
    """Status, reason code and reason from the target's metric."""
    if target in ("latency", "throughput"):
        c = timing.comparison
        s = c.speedup
        text = f"{s.estimate:.2f}x [{s.low:.2f}, {s.high:.2f}] over {c.processes} processes"
        if c.significant:
            return "faster", "ok", f"significantly faster: {text}"
        if c.slower:
            return "slower", "slower", f"significantly slower: {text}"
        cap = "" if c.decided else " (sampling stopped at its cap)"
        return (
            "not_significant",
            "not_significant",
            f"not significant: {text}; the interval's low end must exceed {c.threshold:.2f}{cap}",
        )
    name = TARGET_METRIC[target]
    x = next((m for m in metrics if m.name == name), None)
    if x is None or not x.available or x.speedup is None:
        why = x.note if x is not None else "not measured"
        return "not_significant", "not_significant", f"{name} could not be measured: {why}"
    s = x.speedup
    threshold = 1 + min_gain
    text = (
        f"{name} {s.estimate:.3f}x [{s.low:.3f}, {s.high:.3f}] "
        f"({x.baseline:.4g} -> {x.candidate:.4g} {x.unit}, n={x.n})"
    )
    if s.low > threshold:
        return "faster", "ok", f"significantly better: {text}"
    if s.high < 1 / threshold:
        return "slower", "slower", f"significantly worse: {text}"
    return (
        "not_significant",
        "not_significant",
        (f"not significant: {text}; the interval's low end must exceed {threshold:.2f}"),
    )


def order(target: Target, metrics: Sequence[MetricResult]) -> tuple[MetricResult, ...]:
    """The deciding metric first, the others after it in their order."""
    name = TARGET_METRIC[target]
    return tuple(sorted(metrics, key=lambda x: x.name != name))


def check_target(target: Target, workload_is_command: bool) -> None:
    """Fail before any work when the deciding metric cannot be measured here.

    Raises:
        ConfigError: with what the user can do instead.
    """
    from perfsmith.errors import ConfigError
    from perfsmith.measure import hardware

    if target in ("latency", "throughput"):
        return
    if workload_is_command:
        raise ConfigError(
            f"--target {target} needs a workload file (workload() is measured per call), "
            "not a workload command.",
            "Write a workload file with workload() and setup(), or use --target latency.",
        )
    if target == "instructions":
        ok, why = hardware.valgrind_status()
        if not ok:
            raise ConfigError(f"--target instructions cannot be measured here: {why}.",
                              "Install valgrind, or use --target latency.")  # fmt: skip
    if target == "energy":
        ok, why = hardware.energy_available()
        if not ok:
            raise ConfigError(
                "--target energy needs RAPL (Intel/AMD package counters readable at "
                "/sys/class/powercap) or an NVIDIA GPU with NVML; this machine has neither "
                f"({why.removeprefix('no energy counter: ')}).",
                "Use --target latency or instructions, or run on a machine with readable "
                "RAPL counters or an NVIDIA GPU (pip install nvidia-ml-py).",
            )
