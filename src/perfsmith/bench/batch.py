"""Running a task set: executors, resume, and the batch's files.

Every task runs in its own worker process (``perfsmith.bench.worker``). The local pool
gives each of its N workers its own CPU set, so two timings never share a core; the Ray
executor sends the same worker jobs to a Ray cluster. The parent is the only writer of
the batch folder:

    results.jsonl      one line per finished task (rewritten atomically on each line)
    predictions.jsonl  ``bench run``: {instance_id, model_name_or_path, model_patch}
    batch.json         what was asked for
    tasks/<id>/        each task's measurement files and worker.log

Batches resume: tasks already in ``results.jsonl`` are skipped unless ``redo``.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from perfsmith.bench.report import load_results
from perfsmith.bench.score import blank_result, maxrss_mb
from perfsmith.bench.taskset import BenchTask
from perfsmith.errors import ConfigError
from perfsmith.trajectory import atomic_write, utc_now, write_json

Mode = Literal["run", "eval", "gold"]
STOP_GRACE_S = 30.0


@dataclass(frozen=True)
class BatchRequest:
    """One batch: which tasks, how each is scored, and where the files go."""

    tasks: Sequence[BenchTask]
    mode: Mode
    runs_dir: Path
    overrides: dict[str, Any] = field(default_factory=dict)
    model: str = ""
    patches: dict[str, str] = field(default_factory=dict)  # eval: instance_id -> patch
    workers: int = 1
    executor: Literal["local", "ray"] = "local"
    ray_address: str | None = None
    redo: bool = False
    suite_tasks: int = 0  # tasks in the whole suite (a batch of fewer is a subset)


def split_cpus(cpus: Sequence[int], workers: int) -> list[list[int]]:
    """Give each worker its own CPUs: contiguous, disjoint, as even as possible.

    Raises:
        ConfigError: more workers than CPUs (two timings would share a core).
    """
    if workers < 1:
        raise ConfigError("--workers must be at least 1.", "Pass --workers 1 or more.")
    cpus = sorted(cpus)
    if workers > len(cpus):
        raise ConfigError(
            f"{workers} workers need {workers} CPUs; this process may use {len(cpus)}.",
            f"Use --workers {len(cpus)} or fewer: two timings must never share a core.",
        )
    size, extra = divmod(len(cpus), workers)
    out, start = [], 0
    for i in range(workers):
        end = start + size + (1 if i < extra else 0)
        out.append(cpus[start:end])
        start = end
    return out


def _job(req: BatchRequest, task: BenchTask) -> dict[str, Any]:
    return {
        "task": task.to_json(),
        "mode": req.mode,
        "patch": req.patches.get(task.instance_id),
        "overrides": req.overrides,
        "model": req.model,
        "out_dir": str(req.runs_dir / "tasks" / task.instance_id),
    }


def _pinned(job: dict[str, Any], cpus: Sequence[int]) -> dict[str, Any]:
    """The job with its containers pinned to the worker's CPUs too."""
    overrides = dict(job["overrides"])
    overrides["docker"] = {**overrides.get("docker", {}), "cpus": ",".join(map(str, cpus))}
    return {**job, "overrides": overrides}


class _Workers:
    """Worker processes started by this batch, so Ctrl-C can stop every one of them."""

    def __init__(self) -> None:
        self.procs: set[subprocess.Popen[bytes]] = set()
        self.lock = threading.Lock()
        self.stopping = False

    def run(self, job: dict[str, Any], cpus: Sequence[int] | None) -> dict[str, Any]:
        """Run one job in a worker process (pinned to ``cpus``); return its result line."""
        out_dir = Path(job["out_dir"])
        out_dir.mkdir(parents=True, exist_ok=True)
        job_path, result_path = out_dir / "job.json", out_dir / "result.json"
        write_json(job_path, job)
        result_path.unlink(missing_ok=True)
        pin = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
        with open(out_dir / "worker.log", "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "perfsmith.bench.worker", str(job_path), str(result_path)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=pin,
            )  # fmt: skip
            with self.lock:
                self.procs.add(proc)
            try:
                code = proc.wait()
            finally:
                with self.lock:
                    self.procs.discard(proc)
        if code == 0 and result_path.is_file():
            result: dict[str, Any] = json.loads(result_path.read_text(encoding="utf-8"))
            return result
        task = BenchTask.from_json(job["task"])
        failed = blank_result(task, str(job.get("model") or ""))
        tail = (out_dir / "worker.log").read_text(encoding="utf-8", errors="replace")[-800:]
        failed["error"] = f"the worker process exited with {code}: {tail.strip()}"
        failed["interrupted"] = code in (130, -signal.SIGINT, -signal.SIGKILL) or self.stopping
        return failed

    def stop(self) -> None:
        """SIGINT every worker (each stops its sandboxes), then SIGKILL what is left."""
        self.stopping = True
        with self.lock:
            procs = list(self.procs)
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGINT)
        deadline = time.monotonic() + STOP_GRACE_S
        for p in procs:
            try:
                p.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)


def _local(
    req: BatchRequest, jobs: list[dict[str, Any]], pool: _Workers
) -> Iterator[dict[str, Any]]:
    sets = split_cpus(sorted(os.sched_getaffinity(0)), req.workers)
    todo: queue.Queue[dict[str, Any]] = queue.Queue()
    for job in jobs:
        todo.put(job)
    done: queue.Queue[dict[str, Any]] = queue.Queue()

    def worker(cpus: list[int]) -> None:
        while not pool.stopping:
            try:
                job = todo.get_nowait()
            except queue.Empty:
                return
            try:
                result = pool.run(_pinned(job, cpus), cpus)
            except Exception as exc:  # never leave the batch waiting on a lost task
                result = blank_result(BenchTask.from_json(job["task"]), str(job.get("model")))
                result["error"] = f"could not run the task's worker: {exc}"
            done.put(result)

    threads = [threading.Thread(target=worker, args=(c,), daemon=True) for c in sets]
    for t in threads:
        t.start()
    for _ in jobs:
        yield done.get()


def _ray(req: BatchRequest, jobs: list[dict[str, Any]], pool: _Workers) -> Iterator[dict[str, Any]]:
    try:
        import ray
    except ImportError as exc:
        raise ConfigError(
            "The Ray executor needs the ray package.", "pip install 'perfsmith[ray]'."
        ) from exc
    started_here = not ray.is_initialized()
    if started_here:
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if req.ray_address:
            kwargs["address"] = req.ray_address
        else:
            kwargs["num_cpus"] = req.workers
        try:
            ray.init(**kwargs)
        except Exception as exc:  # Ray raises ConnectionError, RuntimeError, its own kinds
            raise ConfigError(
                f"Cannot start or reach Ray ({req.ray_address or 'local'}): {exc}".strip()[:600],
                "Check --ray-address (host:port of the head); a cluster with token "
                "authentication needs RAY_AUTH_TOKEN or its token file on this machine.",
            ) from exc

    @ray.remote(num_cpus=1)
    def run_remote(job: dict[str, Any]) -> dict[str, Any]:
        return _Workers().run(job, None)

    try:
        pending = [run_remote.remote(job) for job in jobs]
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            yield ray.get(ready[0])
    finally:
        if started_here:
            ray.shutdown()


def _append(path: Path, line: dict[str, Any], key: str = "instance_id") -> None:
    """Add (or replace) one JSON line, rewriting the file atomically."""
    lines = []
    if path.is_file():
        for raw in path.read_text(encoding="utf-8").splitlines():
            if raw.strip() and json.loads(raw).get(key) != line[key]:
                lines.append(raw)
    lines.append(json.dumps(line, default=str))
    atomic_write(path, "\n".join(lines) + "\n")


def run_batch(
    req: BatchRequest, *, emit: Callable[[str], None] = lambda line: None
) -> list[dict[str, Any]]:
    """Run (or resume) a batch; return the result lines of its tasks, in task order.

    Raises:
        KeyboardInterrupt: after stopping every worker; finished tasks are saved.
    """
    if req.executor == "local":
        split_cpus(sorted(os.sched_getaffinity(0)), req.workers)  # refuse before writing
    req.runs_dir.mkdir(parents=True, exist_ok=True)
    results_path = req.runs_dir / "results.jsonl"
    finished = (
        {r["instance_id"] for r in load_results(results_path)} if results_path.is_file() else set()
    )
    todo = [t for t in req.tasks if req.redo or t.instance_id not in finished]
    skipped = len(req.tasks) - len(todo)
    if skipped:
        emit(f"{skipped} finished task(s) skipped (pass --redo to run them again)")
    suite = req.tasks[0].suite if req.tasks else ""
    write_json(req.runs_dir / "batch.json", {
        "format": "perfsmith.batch/1", "mode": req.mode, "model": req.model, "suite": suite,
        "tasks": [t.instance_id for t in req.tasks], "workers": req.workers,
        "suite_tasks": req.suite_tasks or len(req.tasks),
        "executor": req.executor, "started": utc_now(),
    })  # fmt: skip
    jobs = [_job(req, t) for t in todo]
    pool = _Workers()
    stream = _ray(req, jobs, pool) if req.executor == "ray" else _local(req, jobs, pool)
    try:
        for count, result in enumerate(stream, 1):
            if result.pop("interrupted", False):
                continue  # stopped by Ctrl-C: not a result, the task runs again on resume
            patch = result.pop("model_patch", None)
            _append(results_path, result)
            if req.mode == "run":
                _append(req.runs_dir / "predictions.jsonl", {
                    "instance_id": result["instance_id"],
                    "model_name_or_path": req.model, "model_patch": patch or "",
                })  # fmt: skip
            emit(f"[{count + skipped}/{len(req.tasks)}] {progress_line(result)}")
    except KeyboardInterrupt:
        pool.stop()
        raise
    batch = json.loads((req.runs_dir / "batch.json").read_text(encoding="utf-8"))
    write_json(req.runs_dir / "batch.json", {**batch, "driver_maxrss_mb": maxrss_mb()})
    by_id = {r["instance_id"]: r for r in load_results(results_path)}
    return [by_id[t.instance_id] for t in req.tasks if t.instance_id in by_id]


def _x(value: float | None, low: float | None, high: float | None, n: int | None) -> str:
    if value is None or low is None or high is None:
        return "-"
    return f"{value:.2f}x [{low:.2f}, {high:.2f}] n={n}"


def progress_line(r: dict[str, Any]) -> str:
    """One line for a finished task: status, speedup with interval, expert, wall time."""
    own = _x(r.get("speedup"), r.get("speedup_ci_low"), r.get("speedup_ci_high"), r.get("n"))
    exp = _x(
        r.get("expert_speedup"), r.get("expert_ci_low"), r.get("expert_ci_high"), r.get("expert_n")
    )
    why = f" · {r['error'][:160]}" if r.get("error") else ""
    return (
        f"{r['instance_id']}: {r['status']} {own} · expert {exp} · {r.get('wall_s', 0):.0f} s{why}"
    )
