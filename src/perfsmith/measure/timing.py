"""Time baseline against candidate in fresh, interleaved processes.

Every sample batch is one pyperf worker process started directly in worker mode
(``_worker.py --worker --loops N ...``, see ``workers``), so this module, not pyperf's
manager, decides the order: baseline and candidate alternate (A B, then B A, ...) so
drift of the machine hits both sides alike. Raw values are kept as pyperf JSON files
(``baseline.json``, ``candidate.json``) that ``python -m pyperf compare_to`` reads; the
CPU seconds of the same calls go to ``cpu.json``.

Three procedures: ``time_interleaved`` (a fixed number of rounds), ``time_adaptive``
(rounds added until the verdict is clear or a cap is hit; the one to use) and
``time_cold`` (one call per fresh process, so memoisation across calls shows).
``time_command`` times whole commands from outside.

Why the Hodges-Lehmann centre is the default: on this machine kind a process runs the
same code at one of a few speeds (15-20% apart, more under load from other processes).
In simulations of two-speed machines it found a 1.10x gain in 52 of 60 cases where the
bootstrapped mean of per-process medians found 9 (tests/measure/test_stats.py), and on
this machine, trials alternating between the two under the same load, 14 of 20 against
11 of 20; neither called an identical candidate faster in 20 trials each. With the
default settings scripts/bench_measure.py found a 1.25x gain in 20 of 20 trials in each
of two full runs, a 1.10x gain in 18 and 15 of 20, and called none of 2 x 40 identical
candidates faster (two cores shared with other work; the misses stopped undecided).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyperf

from perfsmith.core import Comparison, Workspace
from perfsmith.measure import stats
from perfsmith.measure.sampling import (
    SIDES,
    Side,
    StopReason,
    TimingConfig,
    TimingResult,
    comparison,
    interleaved,
    next_step,
    save_benches,
)
from perfsmith.measure.workers import (
    WORKER_NAME,
    WORKER_SOURCE,
    OutputCheck,
    TamperError,
    check_output,
    check_output_tree,
    check_wall,
    early_exit,
    fresh_dirs,
    output_tail,
    run_worker,
    worker_failure,
    worker_files,
    workload_path,
)

__all__ = [
    "WORKER_NAME",
    "WORKER_SOURCE",
    "OutputCheck",
    "TamperError",
    "TimingConfig",
    "TimingResult",
    "calibrate",
    "check_output",
    "check_output_tree",
    "early_exit",
    "output_tail",
    "run_worker",
    "time_adaptive",
    "time_cold",
    "time_command",
    "time_interleaved",
    "worker_failure",
    "worker_files",
    "workload_path",
]


def calibrate(
    sandbox: Workspace,
    python: str,
    workload_file: str | Path,
    *,
    pythonpath: Sequence[str],
    out_dir: Path,
    config: TimingConfig | None = None,
) -> int:
    """Find how many workload calls one value needs to last ``config.min_time_s``.

    Doubles the loop count, as pyperf does, in one worker process; the doubling
    also stops before one value (``setup()`` included) would exceed
    ``config.max_value_s`` of wall time. The summary is saved as
    ``calibration.json`` (loops, timed and wall seconds of the last value).

    Raises:
        WorkloadError: If the worker crashes, times out or exits early.
    """
    loops, _ = _calibrate(sandbox, python, workload_file, pythonpath, out_dir, config)
    return loops


def _calibrate(
    sandbox: Workspace,
    python: str,
    workload_file: str | Path,
    pythonpath: Sequence[str],
    out_dir: Path,
    config: TimingConfig | None,
) -> tuple[int, float]:
    cfg = config or TimingConfig()
    summary = out_dir / "calibration.json"
    env = {"PERFSMITH_MIN_TIME": repr(cfg.min_time_s), "PERFSMITH_MAX_VALUE": repr(cfg.max_value_s)}
    res = worker_files(
        sandbox, python, workload_file, pythonpath=pythonpath, mode="calibrate",
        outputs={"PERFSMITH_RESULT": summary}, env=env, timeout_s=cfg.timeout_s,
        side="baseline", what="calibrating the loop count",
    )  # fmt: skip
    loops = int(json.loads(summary.read_text(encoding="utf-8"))["loops"])
    return max(loops, 1), res.duration_s


class _Session:
    """Interleaved rounds of pyperf workers on both sides, and what they measured."""

    def __init__(
        self,
        sandboxes: Mapping[Side, Workspace],
        python: str,
        workload_file: str | Path,
        pythonpath: Sequence[str],
        cfg: TimingConfig,
        out_dir: Path,
        loops: int,
    ) -> None:
        self.sandboxes, self.python, self.workload_file = sandboxes, python, workload_file
        self.pythonpath, self.cfg, self.out_dir, self.loops = pythonpath, cfg, out_dir, loops
        self.benches: dict[Side, list[Any]] = {"baseline": [], "candidate": []}
        self.runs: dict[Side, list[list[float]]] = {"baseline": [], "candidate": []}
        self.cpu: dict[Side, list[list[float]]] = {"baseline": [], "candidate": []}
        self.rounds = 0
        self.timing_s = 0.0  # worker seconds spent in rounds (calibration excluded)

    def run(self, rounds: int, planned: int) -> None:
        cfg = self.cfg
        args = ["--worker", "--quiet", "--loops", str(self.loops), "--values", str(cfg.values)]
        args += ["--warmups", str(cfg.warmups)]
        for r, side in interleaved(rounds, self.rounds):
            raw = self.out_dir / f"{side}-{r + 1}.json"
            cpu_raw = self.out_dir / f"{side}-{r + 1}.cpu.json"
            what = f"timing (round {r + 1} of {max(planned, r + 1)})"
            res = worker_files(
                self.sandboxes[side], self.python, self.workload_file, pythonpath=self.pythonpath,
                mode="time", outputs={"-o": raw, "PERFSMITH_CPU": cpu_raw}, args=args,
                timeout_s=cfg.timeout_s, side=side, what=what,
            )  # fmt: skip
            self.timing_s += res.duration_s
            bench = pyperf.Benchmark.load(str(raw))
            cpu = json.loads(cpu_raw.read_text(encoding="utf-8"))["cpu"]
            raw.unlink()
            cpu_raw.unlink()
            values = [v for run in bench.get_runs() for v in run.values]
            timed = sum(
                loops * v for run in bench.get_runs() for loops, v in run.warmups or ()
            ) + self.loops * sum(values)
            check_wall(side, what, timed, res)
            self.benches[side].append(bench)
            self.runs[side].append(values)
            self.cpu[side].append([float(c) for c in cpu[cfg.warmups :]])
        self.rounds += rounds

    def result(self, noise: float, inner: float, decided: bool, stop: StopReason) -> TimingResult:
        cfg = self.cfg
        comp = comparison(self.runs, config=cfg, noise=noise, decided=decided)
        cpu_ok = all(run and all(c > 0 for c in run) for s in SIDES for run in self.cpu[s])
        cpu = comparison(self.cpu, config=cfg, noise=noise) if cpu_ok else None
        files: dict[str, str] = {
            s: save_benches(self.benches[s], self.out_dir / f"{s}.json") for s in SIDES
        }
        cpu_path = self.out_dir / "cpu.json"
        cpu_path.write_text(json.dumps({s: self.cpu[s] for s in SIDES}), encoding="utf-8")
        files["cpu"] = str(cpu_path)
        return TimingResult(comp, inner, self.loops, files, cpu, stop)


def time_interleaved(
    base: Workspace,
    cand: Workspace,
    python: str,
    workload_file: str | Path,
    *,
    pythonpath: Sequence[str],
    config: TimingConfig | None = None,
    out_dir: Path,
    noise: float = 0.0,
    loops: int | None = None,
) -> TimingResult:
    """Time the workload in baseline and candidate, ``config.rounds`` interleaved rounds.

    Both sides use the same loop count (calibrated on the baseline unless given).

    Args:
        base: Sandbox holding the baseline.
        cand: Sandbox holding the candidate.
        python: The target's Python executable.
        workload_file: The workload, relative to each sandbox root.
        pythonpath: Folders relative to each sandbox root, put on PYTHONPATH.
        config: Sampling settings and the minimum gain.
        out_dir: Where ``baseline.json``, ``candidate.json``, ``cpu.json`` and
            ``calibration.json`` are written.
        noise: Relative noise measured on this task (A/A); raises the threshold.
        loops: Calls per value; None calibrates on the baseline.

    Returns:
        The comparison (wall and CPU), time spent in workers, the loop count, files.

    Raises:
        TamperError: A worker replaced a clock or reported more time than it ran.
        WorkloadError: If a worker crashes, times out or exits early; the message
            names the side and carries the tail of its output.
    """
    cfg = config or TimingConfig()
    out_dir.mkdir(parents=True, exist_ok=True)
    inner = 0.0
    if loops is None:
        loops, inner = _calibrate(base, python, workload_file, pythonpath, out_dir, cfg)
    sandboxes: dict[Side, Workspace] = {"baseline": base, "candidate": cand}
    session = _Session(sandboxes, python, workload_file, pythonpath, cfg, out_dir, loops)
    session.run(cfg.rounds, cfg.rounds)
    return session.result(noise, inner + session.timing_s, True, "fixed")


def time_adaptive(
    base: Workspace,
    cand: Workspace,
    python: str,
    workload_file: str | Path,
    *,
    pythonpath: Sequence[str],
    config: TimingConfig | None = None,
    out_dir: Path,
    noise: float = 0.0,
    loops: int | None = None,
) -> TimingResult:
    """Time baseline against candidate, adding rounds until the verdict is clear.

    Starts with ``config.rounds`` interleaved rounds, then adds ``config.step_rounds``
    at a time until the candidate is significantly faster (``low > threshold``),
    significantly slower, or confidently not faster (``high < threshold``), or until
    ``config.max_rounds`` or ``config.time_cap_s`` of worker time is reached; then
    ``Comparison.decided`` is False. The loop count is calibrated once, on the baseline.

    Args:
        base: Sandbox holding the baseline.
        cand: Sandbox holding the candidate.
        python: The target's Python executable.
        workload_file: The workload, relative to each sandbox root.
        pythonpath: Folders relative to each sandbox root, put on PYTHONPATH.
        config: Sampling settings, caps and the minimum gain.
        out_dir: Where the files of ``time_interleaved`` are written.
        noise: Relative noise measured on this task (``stats.noise_floor`` of an A/A
            comparison); the bar is ``1 + max(min_gain, noise)``.
        loops: Calls per value; None calibrates on the baseline.

    Raises:
        TamperError: A worker replaced a clock or reported more time than it ran.
        WorkloadError: If a worker crashes, times out or exits early.
    """
    cfg = config or TimingConfig()
    out_dir.mkdir(parents=True, exist_ok=True)
    calibration = 0.0
    if loops is None:
        loops, calibration = _calibrate(base, python, workload_file, pythonpath, out_dir, cfg)
    sandboxes: dict[Side, Workspace] = {"baseline": base, "candidate": cand}
    session = _Session(sandboxes, python, workload_file, pythonpath, cfg, out_dir, loops)
    session.run(cfg.rounds, cfg.rounds)
    while True:
        decision = stats.decide_runs(
            session.runs["baseline"], session.runs["candidate"], min_gain=cfg.min_gain,
            noise=noise, confidence=cfg.confidence, center=cfg.center,
        )  # fmt: skip
        spent = calibration + session.timing_s
        stop, step = next_step(
            decision, rounds_done=session.rounds, spent_s=spent,
            round_s=session.timing_s / session.rounds, config=cfg,
        )  # fmt: skip
        if stop is not None:
            return session.result(noise, spent, stop == "settled", stop)
        session.run(step, session.rounds + step)


def time_cold(
    base: Workspace,
    cand: Workspace,
    python: str,
    workload_file: str | Path,
    *,
    pythonpath: Sequence[str],
    processes: int,
    out_dir: Path,
    threshold: float,
    confidence: float = 0.95,
    center: stats.Center = "hodges_lehmann",
    timeout_s: float = 120,
    seed: int | None = None,
) -> Comparison:
    """Time ONE ``workload()`` call per fresh process, ``processes`` per side, interleaved.

    Each process imports the workload, runs ``setup()`` untimed and times a single
    call, so a cache filled by earlier calls (memoisation, a disk cache in HOME or
    TMPDIR, which are fresh per process) cannot help. A steady-state gain that
    vanishes here smells of caching. Raw values, with CPU, import and setup seconds
    per process, are written to ``out_dir/cold.json``.

    Args:
        threshold: The bar the speedup interval's low end must clear (>= 1).
        processes: Processes per side (at least 4 for 95% confidence).

    Raises:
        ValueError: If ``threshold`` is below 1 or ``processes`` below 2.
        TamperError: A worker replaced a clock or reported more time than it ran.
        WorkloadError: If a worker crashes, times out or exits early.

    ``seed``, when given, is passed as PERFSMITH_SEED: the cold calls then run on an
    input the Coder never saw, so a fast path for the visible input vanishes too.
    """
    if threshold < 1 or processes < 2:
        raise ValueError(f"need threshold >= 1 and processes >= 2, got {threshold}, {processes}")
    out_dir.mkdir(parents=True, exist_ok=True)
    sandboxes: dict[Side, Workspace] = {"baseline": base, "candidate": cand}
    records: dict[Side, list[dict[str, float]]] = {"baseline": [], "candidate": []}
    for r, side in interleaved(processes):
        raw = out_dir / f"cold-{side}-{r + 1}.json"
        what = f"timing a cold call (process {r + 1} of {processes})"
        res = worker_files(
            sandboxes[side], python, workload_file, pythonpath=pythonpath, mode="cold",
            outputs={"PERFSMITH_RESULT": raw}, timeout_s=timeout_s, side=side, what=what,
            env=None if seed is None else {"PERFSMITH_SEED": str(seed)},
        )  # fmt: skip
        record = {k: float(v) for k, v in json.loads(raw.read_text(encoding="utf-8")).items()}
        raw.unlink()
        check_wall(side, what, record["value"], res)
        records[side].append({**record, "value": max(record["value"], 1e-9)})
    (out_dir / "cold.json").write_text(json.dumps(records), encoding="utf-8")
    runs = {s: [[rec["value"]] for rec in records[s]] for s in SIDES}
    return comparison(runs, noise=0.0, min_gain=threshold - 1, confidence=confidence, center=center)


def time_command(
    base: Workspace,
    cand: Workspace,
    argv: Sequence[str],
    *,
    config: TimingConfig | None = None,
    out_dir: Path,
    env: Mapping[str, str] | None = None,
    noise: float = 0.0,
) -> TimingResult:
    """Time a whole command in baseline and candidate, interleaved, from outside.

    Each round runs the command once per side, with fresh private HOME, TMPDIR and
    XDG_CACHE_HOME folders; one value is the wall time of one process. One warm-up
    run per side comes first and is discarded (kept in the files as pyperf warm-ups).

    Args:
        base: Sandbox holding the baseline.
        cand: Sandbox holding the candidate.
        argv: The command, run with the sandbox root as working directory.
        config: ``rounds``, ``min_gain``, ``timeout_s``, ``confidence`` and
            ``center`` apply.
        out_dir: Where ``baseline.json`` and ``candidate.json`` are written.
        env: Extra environment variables for the command.
        noise: Relative noise measured on this task (A/A); raises the threshold.

    Raises:
        WorkloadError: If the command fails or times out on either side.
    """
    cfg = config or TimingConfig()
    out_dir.mkdir(parents=True, exist_ok=True)
    sandboxes: dict[Side, Workspace] = {"baseline": base, "candidate": cand}
    warm: dict[Side, float] = {}
    runs: dict[Side, list[list[float]]] = {"baseline": [], "candidate": []}
    inner = 0.0
    order = [(-1, s) for s in SIDES] + interleaved(cfg.rounds)
    for r, side in order:
        with fresh_dirs(sandboxes[side]) as dirs:
            res = sandboxes[side].exec(argv, timeout_s=cfg.timeout_s, env={**dirs, **(env or {})})
        inner += res.duration_s
        what = "warming up" if r < 0 else f"timing (round {r + 1} of {cfg.rounds})"
        if not res.ok:
            raise worker_failure(side, what, res, cfg.timeout_s)
        duration = max(res.duration_s, 1e-9)
        if r < 0:
            warm[side] = duration
        else:
            runs[side].append([duration])
    files: dict[str, str] = {}
    for side in SIDES:
        metadata = {"name": "command", "unit": "second", "loops": 1}
        first = [
            pyperf.Run(
                runs[side][0], warmups=[(1, warm[side])], metadata=metadata, collect_metadata=False
            )
        ]
        rest = [pyperf.Run(r, metadata=metadata, collect_metadata=False) for r in runs[side][1:]]
        bench = pyperf.Benchmark(first + rest)
        files[side] = save_benches([bench], out_dir / f"{side}.json")
    return TimingResult(comparison(runs, config=cfg, noise=noise), inner, 1, files)
