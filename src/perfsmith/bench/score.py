"""One task, end to end: unpack it, run the agent (``bench run``) or take a given patch,
and score the patch against the expert's, both measured against the same baseline.

Runs inside a batch worker process (``perfsmith.bench.worker``); returns the task's line
of ``results.jsonl``. Every failure becomes a result with status ``error`` and its reason:
one broken task never stops a batch.
"""

from __future__ import annotations

import json
import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from perfsmith.bench.taskset import WORKLOAD_NAME, BenchTask, materialize
from perfsmith.config import resolve
from perfsmith.core import Interval, Measurement
from perfsmith.errors import PerfsmithError

CORRECT = ("faster", "not_significant", "slower")


def _overrides(task: BenchTask, base: dict[str, Any]) -> dict[str, Any]:
    merged = {
        **base,
        "workload": WORKLOAD_NAME,
        "workload_cmd": None,
        "tests": list(task.tests) or None,
        "target": task.target,
        "pythonpath": list(task.pythonpath),
        "brief": task.problem,
    }
    return merge_settings(merged, task.config)


def merge_settings(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``base`` with a task's own settings on top: sections (dicts) merge key by key, lists
    (such as ``protected``) are joined, anything else is replaced."""
    out = dict(base)
    for key, value in extra.items():
        old = out.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            out[key] = {**old, **value}
        elif isinstance(value, list) and isinstance(old, list):
            out[key] = [*old, *value]
        else:
            out[key] = value
    return out


def blank_result(task: BenchTask, model: str) -> dict[str, Any]:
    """A result line with every field present (None where nothing was measured)."""
    return {
        "instance_id": task.instance_id, "suite": task.suite, "category": task.category,
        "model_name_or_path": model, "status": "error", "correct": False,
        "speedup": None, "speedup_ci_low": None, "speedup_ci_high": None, "n": None,
        "expert_status": None, "expert_speedup": None, "expert_ci_low": None,
        "expert_ci_high": None, "expert_n": None, "reason": "", "error": "",
        "cost_usd": 0.0, "tokens": 0, "wall_s": 0.0, "fingerprint": None,
        "harness_maxrss_mb": None,
    }  # fmt: skip


def _speedup(m: Measurement) -> tuple[Interval | None, int | None]:
    """The deciding metric's speedup and its samples per side."""
    if m.metrics and m.metrics[0].speedup is not None:
        return m.metrics[0].speedup, m.metrics[0].n
    if m.comparison is not None:
        return m.comparison.speedup, m.comparison.processes
    return None, None


def _fill(result: dict[str, Any], prefix: str, m: Measurement | None) -> None:
    if m is None:
        return
    iv, n = _speedup(m)
    key = "speedup" if prefix == "" else "expert_speedup"
    low, high = ("speedup_ci_low", "speedup_ci_high") if prefix == "" else (
        "expert_ci_low", "expert_ci_high")  # fmt: skip
    result[key] = iv.estimate if iv else None
    result[low] = iv.low if iv else None
    result[high] = iv.high if iv else None
    result["n" if prefix == "" else "expert_n"] = n
    if prefix == "":
        result["status"] = m.status
        result["correct"] = m.status in CORRECT
        result["reason"] = m.reason
    else:
        result["expert_status"] = m.status


def score_patch(
    task: BenchTask,
    patch: str | None,
    out_dir: Path,
    *,
    overrides: dict[str, Any],
    model: str,
    gold: bool = False,
) -> dict[str, Any]:
    """Measure ``patch`` (or, with ``gold``, the expert patch) and the expert patch against
    one baseline of the task's repository; return the task's result line."""
    from perfsmith.measure.evaluator import PipelineEvaluator
    from perfsmith.measure.hardware import fingerprint
    from perfsmith.sandbox.factory import choose, open_base

    started = time.monotonic()
    result = blank_result(task, "gold" if gold else model)
    work = Path(tempfile.mkdtemp(prefix="perfsmith-bench-"))
    try:
        repo = materialize(task, work / "repo")
        cfg = resolve(repo, overrides=_overrides(task, overrides))
        choice = choose(cfg.sandbox, bwrap=cfg.bwrap)
        result["fingerprint"] = fingerprint(python=cfg.python, sandbox=choice.kind)["id"]
        base = open_base(choice, repo, work, python=cfg.python, docker=cfg.docker)
        try:
            evaluator = PipelineEvaluator.from_config(base, cfg)
            baseline = evaluator.establish_baseline(out_dir / "baseline")
            spec = cfg.to_task()
            expert = None
            if task.expert_patch.strip():
                expert = evaluator.evaluate(
                    spec, task.expert_patch, baseline=baseline, out_dir=out_dir / "expert"
                )
            _fill(result, "expert", expert)
            if gold and expert is None:
                result["status"], result["reason"] = "no_expert", "the task has no expert patch"
            elif gold:
                _fill(result, "", expert)
            elif patch and patch.strip():
                own = evaluator.evaluate(spec, patch, baseline=baseline, out_dir=out_dir / "patch")
                _fill(result, "", own)
            else:
                result["status"], result["reason"] = "empty_patch", "no patch was produced"
        finally:
            base.close()
    except PerfsmithError as exc:
        result["status"], result["error"] = "error", f"{exc.message} {exc.hint}".strip()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["wall_s"] = round(time.monotonic() - started, 3)
    return result


def run_agent(
    task: BenchTask, out_dir: Path, *, overrides: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """Run the optimization loop on the task; return its best patch ("" if none) and its
    totals (tokens, cost_usd, exit_status)."""
    import io

    from rich.console import Console

    from perfsmith.loop.driver import OptimizeRequest, run_optimize

    work = Path(tempfile.mkdtemp(prefix="perfsmith-bench-agent-"))
    try:
        repo = materialize(task, work / "repo")
        request = OptimizeRequest(
            repo=repo,
            overrides=_overrides(task, overrides),
            runs_dir=out_dir,
            run_id="agent",
            quiet=True,
        )
        run_optimize(request, console=Console(file=io.StringIO()))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    run = out_dir / "agent"
    best = run / "best.patch"
    patch = best.read_text(encoding="utf-8") if best.is_file() else ""
    info = json.loads((run / "trajectory.json").read_text(encoding="utf-8"))["info"]
    totals = info.get("totals", {})
    return patch, {
        "tokens": totals.get("tokens", 0),
        "cost_usd": totals.get("cost_usd", 0.0),
        "agent_exit": info.get("exit_status"),
    }


def maxrss_mb() -> float:
    """Peak resident memory of this process (perfsmith's own, not its children's)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
