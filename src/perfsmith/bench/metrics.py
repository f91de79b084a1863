"""Task-set metrics in the SWE-fficiency style: speedup ratio, means, fast_p. Pure, no I/O.

One task's result is a plain mapping (one line of ``results.jsonl``) with, among others,
``instance_id``, ``correct``, ``speedup`` (patch vs base) and ``expert_speedup`` (expert patch
vs base). Per task:

- the *effective speedup* is the measured speedup when the patch is correct, else 1.0: an
  incorrect or failed patch is scored as "no change", as SWE-fficiency does;
- the *speedup ratio* (SR) is effective speedup / expert speedup. A task without a usable
  expert speedup has no SR: it is *unscorable*, listed by id and never silently dropped.

The headline is the harmonic mean of SR over the scored tasks (``n / sum(1/SR)``), the number
SWE-fficiency publishes. Alongside it: the geometric mean, fast_p (share of tasks that are
correct and faster than ``p``), the share with SR >= 0.95, and the proportions of four classes.

How this differs from the official harness:

- Subsets are scored as subsets. The official report counts every task of the suite that has
  no result as a failure; here only tasks with a result and an SR are scored, and the summary
  carries a ``scope`` label that says how many of the suite's tasks that is.
- Every per-task speedup carries its own interval and sample count (``speedup_ci_low``,
  ``speedup_ci_high``, ``n``), and the harmonic mean gets a bootstrap interval over tasks. The
  official harness reports a single mean-of-repeats ratio with no interval.
- The expert speedup is measured in the same run, on the same machine, with the same timing
  method as the patch, rather than read from a published table.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "BOOTSTRAP_RESAMPLES",
    "CLASSES",
    "DEFAULT_PS",
    "effective_speedup",
    "fast_p",
    "fast_p_key",
    "geometric_mean",
    "harmonic_mean",
    "speedup_ratio",
    "summarize",
    "task_class",
]

Result = Mapping[str, Any]

CLASSES = ("incorrect", "correct_but_slower", "faster_below_expert", "at_or_above_expert")
DEFAULT_PS = (0.0, 1.0, 1.1, 1.5, 2.0)
BOOTSTRAP_RESAMPLES = 2000


def _positive(value: object) -> float | None:
    """Return ``value`` as a float when it is a finite number above zero, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    x = float(value)
    return x if math.isfinite(x) and x > 0 else None


def effective_speedup(r: Result) -> float:
    """The speedup a task is credited with.

    Args:
        r: One task result.

    Returns:
        The measured speedup when the patch is correct and a positive, finite speedup was
        measured; otherwise 1.0 (an incorrect or failed patch counts as "no change").
    """
    if r.get("correct") is not True:
        return 1.0
    measured = _positive(r.get("speedup"))
    return 1.0 if measured is None else measured


def speedup_ratio(r: Result) -> float | None:
    """SR = effective speedup / expert speedup.

    Args:
        r: One task result.

    Returns:
        The ratio, or None when the expert speedup is missing, non-finite or <= 0 (the task is
        then unscorable).
    """
    expert = _positive(r.get("expert_speedup"))
    if expert is None:
        return None
    return effective_speedup(r) / expert


def task_class(r: Result) -> str:
    """SWE-fficiency's outcome class of one task.

    Checked in this order: "incorrect" (not correct); "correct_but_slower" (effective speedup
    <= 1.0); "faster_below_expert" (SR < 1); "at_or_above_expert" (SR >= 1). A correct, faster
    task without an SR cannot be placed and gets "unscorable".

    Args:
        r: One task result.

    Returns:
        One of ``CLASSES``, or "unscorable".
    """
    if r.get("correct") is not True:
        return "incorrect"
    if effective_speedup(r) <= 1.0:
        return "correct_but_slower"
    sr = speedup_ratio(r)
    if sr is None:
        return "unscorable"
    return "faster_below_expert" if sr < 1.0 else "at_or_above_expert"


def _checked(xs: Iterable[float], what: str) -> list[float]:
    values = [float(x) for x in xs]
    if not values:
        raise ValueError(f"{what} of no values is undefined")
    if any(not math.isfinite(x) or x <= 0 for x in values):
        raise ValueError(f"{what} needs finite values above zero")
    return values


def harmonic_mean(xs: Iterable[float]) -> float:
    """Harmonic mean ``n / sum(1/x)``.

    Args:
        xs: Finite values above zero.

    Returns:
        The harmonic mean.

    Raises:
        ValueError: ``xs`` is empty or holds a value that is not finite and positive.
    """
    values = _checked(xs, "harmonic mean")
    return len(values) / math.fsum(1.0 / x for x in values)


def geometric_mean(xs: Iterable[float]) -> float:
    """Geometric mean ``exp(mean(log x))``.

    Args:
        xs: Finite values above zero.

    Returns:
        The geometric mean.

    Raises:
        ValueError: ``xs`` is empty or holds a value that is not finite and positive.
    """
    values = _checked(xs, "geometric mean")
    return math.exp(math.fsum(math.log(x) for x in values) / len(values))


def fast_p(results: Sequence[Result], p: float) -> float:
    """Share of scored tasks that are correct with an effective speedup strictly above ``p``.

    Tasks without an SR are left out, so this matches the scope of the other aggregates.

    Args:
        results: Task results.
        p: Speedup threshold; 0 gives the correctness rate.

    Returns:
        The share in [0, 1]; 0.0 when no task is scored.
    """
    scored = [r for r in results if speedup_ratio(r) is not None]
    if not scored:
        return 0.0
    hits = sum(1 for r in scored if r.get("correct") is True and effective_speedup(r) > p)
    return hits / len(scored)


def fast_p_key(p: float) -> str:
    """The summary key of one threshold: 0.0 -> "fast_0", 1.1 -> "fast_1.1"."""
    return f"fast_{p:g}"


def _bootstrap_hmean(srs: Sequence[float], seed: int) -> list[float] | None:
    """Percentile 95% interval of the harmonic mean, resampling tasks with replacement."""
    if len(srs) < 2:
        return None
    rng = random.Random(seed)
    stats = sorted(harmonic_mean(rng.choices(srs, k=len(srs))) for _ in range(BOOTSTRAP_RESAMPLES))
    low = stats[int(0.025 * BOOTSTRAP_RESAMPLES)]
    high = stats[math.ceil(0.975 * BOOTSTRAP_RESAMPLES) - 1]
    return [low, high]


def _numbers(results: Sequence[Result], key: str) -> list[float]:
    out: list[float] = []
    for r in results:
        v = r.get(key)
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
            out.append(float(v))
    return out


def _mean(xs: Sequence[float]) -> float | None:
    return math.fsum(xs) / len(xs) if xs else None


def _scope(scored: int, unscorable: int, suite_tasks: int | None) -> str:
    if suite_tasks is None:
        label = f"{scored} tasks scored (suite size not given)"
    elif scored < suite_tasks:
        label = (
            f"subset: {scored} of {suite_tasks} tasks (missing tasks are not counted as failures)"
        )
    else:
        label = f"full suite: {scored} of {suite_tasks} tasks"
    if unscorable:
        label += f"; {unscorable} unscorable (no usable expert speedup), listed separately"
    return label


def summarize(
    results: Sequence[Result],
    *,
    suite_tasks: int | None = None,
    ps: Sequence[float] = DEFAULT_PS,
    seed: int = 0,
) -> dict[str, Any]:
    """Aggregate metrics over a task set.

    Scored tasks are those with an SR. Quality metrics (means, fast_p, proportions, correct
    rate, expert speedup) are over scored tasks; cost and time are over every result, since
    unscorable tasks cost money too. Every value is JSON-compatible (lists, not tuples).

    Args:
        results: Task results, one per instance_id.
        suite_tasks: How many tasks the whole suite has, when known; fewer scored tasks makes
            the summary a labelled subset.
        ps: fast_p thresholds.
        seed: Seed of the bootstrap over tasks; the same seed gives the same interval.

    Returns:
        A dict with tasks_scored, tasks_unscorable (sorted ids), tasks_in_results,
        suite_tasks, subset, scope, hmean_sr, hmean_sr_ci ([low, high] or None),
        bootstrap_resamples, seed, gmean_sr, fast_p ({"fast_1.1": share, ...}),
        share_sr_ge_0_95, proportions (the four ``CLASSES``), correct_rate, cost_usd_mean,
        cost_usd_total, wall_s_mean, wall_s_total and expert_speedup_mean. Aggregates over
        no scored task are None.
    """
    scored: list[Result] = []
    srs: list[float] = []
    unscorable: list[str] = []
    for r in results:
        sr = speedup_ratio(r)
        if sr is None:
            unscorable.append(str(r.get("instance_id")))
        else:
            scored.append(r)
            srs.append(sr)
    n = len(scored)
    classes = [task_class(r) for r in scored]
    costs = _numbers(results, "cost_usd")
    walls = _numbers(results, "wall_s")
    return {
        "tasks_scored": n,
        "tasks_unscorable": sorted(unscorable),
        "tasks_in_results": len(results),
        "suite_tasks": suite_tasks,
        "subset": suite_tasks is not None and n < suite_tasks,
        "scope": _scope(n, len(unscorable), suite_tasks),
        "hmean_sr": harmonic_mean(srs) if srs else None,
        "hmean_sr_ci": _bootstrap_hmean(srs, seed),
        "bootstrap_resamples": BOOTSTRAP_RESAMPLES,
        "seed": seed,
        "gmean_sr": geometric_mean(srs) if srs else None,
        "fast_p": {fast_p_key(p): (fast_p(scored, p) if n else None) for p in ps},
        "share_sr_ge_0_95": sum(1 for s in srs if s >= 0.95) / n if n else None,
        "proportions": {c: (classes.count(c) / n if n else None) for c in CLASSES},
        "correct_rate": sum(1 for r in scored if r.get("correct") is True) / n if n else None,
        "cost_usd_mean": _mean(costs),
        "cost_usd_total": math.fsum(costs) if costs else None,
        "wall_s_mean": _mean(walls),
        "wall_s_total": math.fsum(walls) if walls else None,
        "expert_speedup_mean": _mean(_numbers(scored, "expert_speedup")),
    }
