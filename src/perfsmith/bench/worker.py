"""A batch worker process: ``python -m perfsmith.bench.worker JOB.json RESULT.json``.

One task per process, so a crash or a leak in one task cannot touch the batch, and each
worker can be pinned to its own CPU set. The job names the task, the mode (``run``: the
agent proposes the patch; ``eval``: a given patch; ``gold``: the expert patch), the
config overrides and an output folder. The result line is written atomically; SIGINT
stops the task's sandboxes and exits 130 without a result.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from perfsmith.bench.score import maxrss_mb, run_agent, score_patch
from perfsmith.bench.taskset import BenchTask
from perfsmith.errors import PerfsmithError
from perfsmith.trajectory import write_json


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Do one job in this process and return its result line."""
    task = BenchTask.from_json(job["task"])
    out_dir = Path(job["out_dir"])
    overrides = dict(job.get("overrides") or {})
    model = str(job.get("model") or "")
    mode = job["mode"]
    if mode == "run":
        try:
            patch, totals = run_agent(task, out_dir, overrides={**overrides, "model": model})
        except PerfsmithError as exc:  # the agent failed; the task still gets its line
            patch, totals = "", {"agent_error": f"{exc.message} {exc.hint}".strip()}
        result = score_patch(task, patch, out_dir / "score", overrides=overrides, model=model)
        result.update(totals)
        result["model_patch"] = patch
    else:
        result = score_patch(
            task, job.get("patch"), out_dir, overrides=overrides, model=model, gold=mode == "gold"
        )
    result["harness_maxrss_mb"] = maxrss_mb()
    return result


def main(argv: list[str]) -> int:
    from perfsmith import interrupts

    interrupts.install()
    job_path, result_path = Path(argv[0]), Path(argv[1])
    job = json.loads(job_path.read_text(encoding="utf-8"))
    try:
        result = run_job(job)
    except KeyboardInterrupt:
        from perfsmith.sandbox.factory import kill_all

        kill_all()
        return 130
    write_json(result_path, result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
