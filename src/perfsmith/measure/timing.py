"""Time baseline against candidate in fresh, interleaved processes.

Every sample batch is one pyperf worker process started directly in worker mode
(``_worker.py --worker --loops N ...``), so this module, not pyperf's manager,
decides the order: baseline and candidate alternate (A B, then B A, ...) so drift
of the machine hits both sides alike. Raw values are kept as pyperf JSON files
(``baseline.json``, ``candidate.json``) that ``python -m pyperf compare_to`` reads.

The worker script is copied into the sandbox's private folder and writes its
results there; this module reads them back and writes the merged files to
``out_dir``.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyperf

from perfsmith.core import Comparison, ExecResult, Workspace
from perfsmith.errors import ConfigError, WorkloadError
from perfsmith.measure import stats

__all__ = [
    "TimingConfig",
    "TimingResult",
    "calibrate",
    "check_output",
    "run_worker",
    "time_command",
    "time_interleaved",
]

Side = Literal["baseline", "candidate"]
WORKER_SOURCE = Path(__file__).with_name("_worker.py")
WORKER_NAME = "perfsmith_worker.py"
_TAIL_CHARS = 2000


@dataclass(frozen=True)
class TimingConfig:
    """How much to sample and what counts as a gain.

    Attributes:
        rounds: Worker processes per side; the bootstrap resamples these. At least
            4 for 95% confidence (see ``stats.min_p_value``).
        values: Timed values per process.
        warmups: Values per process computed and discarded first.
        min_time_s: Calibrate the loop count so one value lasts at least this long.
        max_value_s: ...unless one value, ``setup()`` included, would then take more
            than this many seconds of wall time (setup-heavy workloads).
        min_gain: Smallest relative gain worth keeping (0.05 = 5%).
        timeout_s: Limit for one worker process.
        confidence: Two-sided coverage of the speedup interval.
        center: What the speedup compares: ``"median"`` of all values, or
            ``"run_medians"`` (mean of per-process medians; steadier where a
            process runs at one of two speeds, see ``stats.bootstrap_ratio_runs``).
    """

    rounds: int = 6
    values: int = 3
    warmups: int = 1
    min_time_s: float = 0.05
    max_value_s: float = 1.0
    min_gain: float = 0.05
    timeout_s: float = 120
    confidence: float = 0.95
    center: stats.Center = "median"

    def __post_init__(self) -> None:
        checks = [
            (self.values >= 1, f"values must be at least 1 (got {self.values})"),
            (self.warmups >= 0, f"warmups must be >= 0 (got {self.warmups})"),
            (self.min_time_s > 0, f"min_time_s must be > 0 (got {self.min_time_s})"),
            (self.max_value_s > 0, f"max_value_s must be > 0 (got {self.max_value_s})"),
            (self.min_gain >= 0, f"min_gain must be >= 0 (got {self.min_gain})"),
            (self.timeout_s > 0, f"timeout_s must be > 0 (got {self.timeout_s})"),
            (
                self.center in ("median", "run_medians"),
                f"center must be 'median' or 'run_medians' (got {self.center!r})",
            ),
            (0 < self.confidence < 1, f"confidence must be in (0, 1) (got {self.confidence})"),
        ]
        problems = [message for ok, message in checks if not ok]
        if 0 < self.confidence < 1 and not stats.can_decide(
            self.rounds, self.rounds, self.confidence
        ):
            # Too few processes could never show a difference at this confidence.
            need = next((r for r in range(2, 100) if stats.can_decide(r, r, self.confidence)), 100)
            problems.append(
                f"rounds must be at least {need} for {self.confidence:.0%} confidence "
                f"(got {self.rounds})"
            )
        if problems:
            raise ConfigError(
                "Invalid timing settings: " + "; ".join(problems) + ".",
                hint="Fix the timing section of the configuration.",
            )


@dataclass(frozen=True)
class TimingResult:
    """A comparison plus what it cost and where the raw data lies.

    Attributes:
        comparison: Samples, speedup interval and decision.
        inner_s: Seconds spent inside worker processes (calibration included),
            so the harness can report its own overhead.
        loops: Workload calls per value (1 for commands).
        files: ``baseline`` and ``candidate`` -> path of the pyperf JSON file.
    """

    comparison: Comparison
    inner_s: float
    loops: int
    files: Mapping[str, str] = field(default_factory=dict)


def output_tail(text: str) -> str:
    text = text.strip()
    return text if len(text) <= _TAIL_CHARS else "..." + text[-_TAIL_CHARS:]


def worker_failure(side: str, what: str, res: ExecResult, timeout_s: float) -> WorkloadError:
    if res.timed_out:
        cause = f"timed out after {timeout_s:g} s"
    else:
        cause = f"exited with code {res.returncode}"
    tail = output_tail(res.stderr) or output_tail(res.stdout) or "(no output)"
    return WorkloadError(
        f"The {side} failed while {what}: the workload process {cause}. Last output:\n{tail}",
        hint=(
            f"Fix the {side} so the workload runs to the end, or raise the timeout "
            "if it is merely slow."
        ),
    )


def _worker_script(sandbox: Workspace) -> Path:
    """Copy the worker script into the sandbox's private folder (once)."""
    target = sandbox.private / WORKER_NAME
    source = WORKER_SOURCE.read_bytes()
    if not target.exists() or target.read_bytes() != source:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source)
    return target


def workload_path(sandbox: Workspace, workload_file: str | Path) -> Path:
    """Return the workload file as an absolute path inside the sandbox."""
    path = Path(workload_file)
    return path if path.is_absolute() else sandbox.root / path


def run_worker(
    sandbox: Workspace,
    python: str,
    workload_file: str | Path,
    *,
    pythonpath: Sequence[str],
    mode: Literal["time", "calibrate", "check", "profile"],
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    timeout_s: float,
) -> ExecResult:
    """Run the worker script once in ``sandbox`` and return what the process did.

    Args:
        sandbox: Where to run; the worker runs with the sandbox root as cwd.
        python: The target's Python executable (run directly, never a shim).
        workload_file: The workload, relative to the sandbox root or absolute.
        pythonpath: Folders relative to the sandbox root, put on PYTHONPATH.
        mode: The worker's mode (see ``_worker.py``).
        args: Extra command-line arguments (pyperf's, in "time" mode).
        env: Extra environment variables for the worker.
        timeout_s: Limit for the process.
    """
    script = _worker_script(sandbox)
    full_env = {
        "PYTHONPATH": ":".join(str(sandbox.root / p) for p in pythonpath),
        "PERFSMITH_MODE": mode,
        "PERFSMITH_WORKLOAD": str(workload_path(sandbox, workload_file)),
    }
    full_env.update(env or {})
    return sandbox.exec([python, str(script), *args], timeout_s=timeout_s, env=full_env)


def early_exit(side: str, what: str, res: ExecResult) -> WorkloadError:
    """The error for a worker that exited cleanly without writing its results."""
    tail = output_tail(res.stderr) or output_tail(res.stdout) or "(no output)"
    return WorkloadError(
        f"The {side} ended the worker process early (exit code 0, no results written) "
        f"while {what}. Last output:\n{tail}",
        hint="The workload must return normally: no sys.exit(), os._exit() or exit at import.",
    )


def worker_files(
    sandbox: Workspace,
    python: str,
    workload_file: str | Path,
    *,
    pythonpath: Sequence[str],
    mode: Literal["time", "calibrate", "check", "profile"],
    outputs: Mapping[str, Path],
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    timeout_s: float,
    side: str,
    what: str,
) -> ExecResult:
    """Run the worker once and copy the files it wrote to where the caller wants them.

    ``outputs`` maps an environment variable (or ``"-o"`` for pyperf's output
    option) to a destination path. The worker writes into the sandbox's private
    folder; every file must be there afterwards, or the run counts as failed.

    Raises:
        WorkloadError: The worker crashed, timed out or exited without its files.
    """
    scratch = sandbox.private / "perfsmith-measure"
    scratch.mkdir(parents=True, exist_ok=True)
    temp = {key: scratch / f"{uuid.uuid4().hex}{dest.suffix}" for key, dest in outputs.items()}
    full_env = {k: str(v) for k, v in temp.items() if k != "-o"}
    full_env.update(env or {})
    extra = ["-o", str(temp["-o"])] if "-o" in temp else []
    res = run_worker(
        sandbox, python, workload_file, pythonpath=pythonpath, mode=mode,
        args=[*args, *extra], env=full_env, timeout_s=timeout_s,
    )  # fmt: skip
    try:
        if not res.ok:
            raise worker_failure(side, what, res, timeout_s)
        if not all(t.exists() for t in temp.values()):
            raise early_exit(side, what, res)
        for key, dest in outputs.items():
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(temp[key], dest)
    finally:
        for t in temp.values():
            t.unlink(missing_ok=True)
    return res


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


def _interleaved(rounds: int) -> list[Side]:
    """A B, B A, A B, ...: who goes first swaps each round to cancel order effects."""
    order: list[Side] = []
    for r in range(rounds):
        order += ["baseline", "candidate"] if r % 2 == 0 else ["candidate", "baseline"]
    return order


def _save(benches: list[Any], path: Path) -> str:
    merged = benches[0]
    for other in benches[1:]:
        merged.add_runs(other)
    merged.dump(str(path), replace=True)
    return str(path)


def _comparison(
    runs: Mapping[Side, list[list[float]]], cfg: TimingConfig, noise: float
) -> Comparison:
    decision = stats.decide_runs(
        runs["baseline"],
        runs["candidate"],
        min_gain=cfg.min_gain,
        noise=noise,
        confidence=cfg.confidence,
        center=cfg.center,
    )
    return Comparison(
        baseline_s=tuple(x for run in runs["baseline"] for x in run),
        candidate_s=tuple(x for run in runs["candidate"] for x in run),
        speedup=decision.interval,
        threshold=decision.threshold,
        significant=decision.significant,
        slower=decision.slower,
        processes=len(runs["baseline"]),
    )


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
    """Time the workload in baseline and candidate, interleaved, in fresh processes.

    Both sides use the same loop count (calibrated on the baseline unless given).

    Args:
        base: Sandbox holding the baseline.
        cand: Sandbox holding the candidate.
        python: The target's Python executable.
        workload_file: The workload, relative to each sandbox root.
        pythonpath: Folders relative to each sandbox root, put on PYTHONPATH.
        config: Sampling settings and the minimum gain.
        out_dir: Where ``baseline.json``, ``candidate.json`` and
            ``calibration.json`` are written.
        noise: Relative noise measured on this task (A/A); raises the threshold.
        loops: Calls per value; None calibrates on the baseline.

    Returns:
        The comparison, time spent in workers, the loop count and the files.

    Raises:
        WorkloadError: If a worker crashes, times out or exits early; the message
            names the side and carries the tail of its output.
    """
    cfg = config or TimingConfig()
    out_dir.mkdir(parents=True, exist_ok=True)
    inner = 0.0
    if loops is None:
        loops, inner = _calibrate(base, python, workload_file, pythonpath, out_dir, cfg)
    sandboxes: dict[Side, Workspace] = {"baseline": base, "candidate": cand}
    benches: dict[Side, list[Any]] = {"baseline": [], "candidate": []}
    runs: dict[Side, list[list[float]]] = {"baseline": [], "candidate": []}
    args = ["--worker", "--quiet", "--loops", str(loops), "--values", str(cfg.values)]
    args += ["--warmups", str(cfg.warmups)]
    for i, side in enumerate(_interleaved(cfg.rounds)):
        raw = out_dir / f"{side}-{i // 2 + 1}.json"
        res = worker_files(
            sandboxes[side], python, workload_file, pythonpath=pythonpath, mode="time",
            outputs={"-o": raw}, args=args, timeout_s=cfg.timeout_s, side=side,
            what=f"timing (round {i // 2 + 1} of {cfg.rounds})",
        )  # fmt: skip
        inner += res.duration_s
        bench = pyperf.Benchmark.load(str(raw))
        raw.unlink()
        benches[side].append(bench)
        runs[side].append([v for run in bench.get_runs() for v in run.values])
    files: dict[str, str] = {s: _save(benches[s], out_dir / f"{s}.json") for s in benches}
    return TimingResult(_comparison(runs, cfg, noise), inner, loops, files)


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

    Each round runs the command once per side; one value is the wall time of one
    process. One warm-up run per side comes first and is discarded (kept in the
    files as pyperf warm-ups).

    Args:
        base: Sandbox holding the baseline.
        cand: Sandbox holding the candidate.
        argv: The command, run with the sandbox root as working directory.
        config: ``rounds``, ``min_gain``, ``timeout_s`` and ``confidence`` apply.
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
    order: list[Side] = ["baseline", "candidate", *_interleaved(cfg.rounds)]
    for i, side in enumerate(order):
        res = sandboxes[side].exec(argv, timeout_s=cfg.timeout_s, env=env)
        inner += res.duration_s
        what = "warming up" if i < 2 else f"timing (round {(i - 2) // 2 + 1} of {cfg.rounds})"
        if not res.ok:
            raise worker_failure(side, what, res, cfg.timeout_s)
        duration = max(res.duration_s, 1e-9)
        if i < 2:
            warm[side] = duration
        else:
            runs[side].append([duration])
    files: dict[str, str] = {}
    for side in ("baseline", "candidate"):
        metadata = {"name": "command", "unit": "second", "loops": 1}
        first = [
            pyperf.Run(
                runs[side][0], warmups=[(1, warm[side])], metadata=metadata, collect_metadata=False
            )
        ]
        rest = [pyperf.Run(r, metadata=metadata, collect_metadata=False) for r in runs[side][1:]]
        bench = pyperf.Benchmark(first + rest)
        files[side] = _save([bench], out_dir / f"{side}.json")
    return TimingResult(_comparison(runs, cfg, noise), inner, 1, files)


def check_output(
    sandbox: Workspace,
    python: str,
    workload_file: str | Path,
    *,
    pythonpath: Sequence[str],
    out_path: Path,
    timeout_s: float = 120,
    side: str = "workload",
) -> str:
    """Run ``setup()`` and ``workload()`` once and fingerprint the return value.

    The value is pickled (protocol 4) to ``out_path`` and a summary (digest, type)
    written beside it as ``out_path`` + ``.json``; the digest is a sha256 of a
    canonical form that ignores dict/set order and object addresses, so equal
    values from baseline and candidate give equal digests. A workload returning
    nothing gives the digest of ``None``.

    Args:
        sandbox: Where to run.
        python: The target's Python executable.
        workload_file: The workload, relative to the sandbox root or absolute.
        pythonpath: Folders relative to the sandbox root, put on PYTHONPATH.
        out_path: Where the pickled return value is copied.
        timeout_s: Limit for the process.
        side: Who is checked ("baseline", "candidate"), named in errors.

    Returns:
        The hex sha256 digest of the canonical return value.

    Raises:
        WorkloadError: If the workload crashes, times out or exits early.
    """
    summary = out_path.with_name(out_path.name + ".json")
    # A fixed hash seed keeps set iteration order (and so the value) stable
    # between processes running the same code.
    worker_files(
        sandbox, python, workload_file, pythonpath=pythonpath, mode="check",
        outputs={"PERFSMITH_PICKLE": out_path, "PERFSMITH_RESULT": summary},
        env={"PYTHONHASHSEED": "0"}, timeout_s=timeout_s, side=side,
        what="checking its output",
    )  # fmt: skip
    return str(json.loads(summary.read_text(encoding="utf-8"))["sha256"])
