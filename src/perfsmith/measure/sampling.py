"""What timing samples and what it returns: the settings, the result and the shared
steps of every timing procedure (interleaving, merging pyperf files, deciding)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from perfsmith.core import Comparison
from perfsmith.errors import ConfigError
from perfsmith.measure import stats

__all__ = [
    "SIDES",
    "Side",
    "StopReason",
    "TimingConfig",
    "TimingResult",
    "comparison",
    "interleaved",
    "next_step",
    "save_benches",
]

Side = Literal["baseline", "candidate"]
StopReason = Literal["fixed", "settled", "max_rounds", "time_cap"]
SIDES: tuple[Side, Side] = ("baseline", "candidate")


@dataclass(frozen=True)
class TimingConfig:
    """How much to sample and what counts as a gain.

    Attributes:
        rounds: Worker processes per side (the least, for ``time_adaptive``). At
            least 4 for 95% confidence (see ``stats.min_p_value``).
        values: Timed values per process.
        warmups: Values per process computed and discarded first.
        min_time_s: Calibrate the loop count so one value lasts at least this long.
        max_value_s: ...unless one value, ``setup()`` included, would then take more
            than this many seconds of wall time (setup-heavy workloads).
        min_gain: Smallest relative gain worth keeping (0.05 = 5%).
        timeout_s: Limit for one worker process.
        confidence: Two-sided coverage of the speedup interval.
        center: What the speedup compares: ``"hodges_lehmann"`` (the median of the
            pairwise ratios of per-process medians, with a rank interval),
            ``"median"`` of all values, or ``"run_medians"`` (mean of per-process
            medians); see the module docstring for why the first is the default.
        step_rounds: ``time_adaptive``: rounds added at a time while undecided.
        max_rounds: ``time_adaptive``: most rounds per side.
        time_cap_s: ``time_adaptive``: most seconds spent in worker processes
            (calibration included); no step starts that would pass it.
    """

    rounds: int = 6
    values: int = 3
    warmups: int = 1
    min_time_s: float = 0.05
    max_value_s: float = 1.0
    min_gain: float = 0.05
    timeout_s: float = 120
    confidence: float = 0.95
    center: stats.Center = "hodges_lehmann"
    step_rounds: int = 2
    max_rounds: int = 30
    time_cap_s: float = 120.0

    def __post_init__(self) -> None:
        checks = [
            (self.values >= 1, f"values must be at least 1 (got {self.values})"),
            (self.warmups >= 0, f"warmups must be >= 0 (got {self.warmups})"),
            (self.min_time_s > 0, f"min_time_s must be > 0 (got {self.min_time_s})"),
            (self.max_value_s > 0, f"max_value_s must be > 0 (got {self.max_value_s})"),
            (self.min_gain >= 0, f"min_gain must be >= 0 (got {self.min_gain})"),
            (self.timeout_s > 0, f"timeout_s must be > 0 (got {self.timeout_s})"),
            (
                self.center in stats.CENTERS,
                f"center must be one of {', '.join(stats.CENTERS)} (got {self.center!r})",
            ),
            (0 < self.confidence < 1, f"confidence must be in (0, 1) (got {self.confidence})"),
            (self.step_rounds >= 1, f"step_rounds must be at least 1 (got {self.step_rounds})"),
            (
                self.max_rounds >= self.rounds,
                f"max_rounds must be >= rounds (got {self.max_rounds} < {self.rounds})",
            ),
            (self.time_cap_s > 0, f"time_cap_s must be > 0 (got {self.time_cap_s})"),
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
        comparison: Wall-time samples, speedup interval and decision.
        inner_s: Seconds spent inside worker processes (calibration included),
            so the harness can report its own overhead.
        loops: Workload calls per value (1 for commands).
        files: ``baseline``, ``candidate`` -> pyperf JSON file; ``cpu`` -> the CPU
            seconds per call (``{"baseline": [[...], ...], "candidate": ...}``).
        cpu: The same comparison on CPU seconds of the same calls; None for commands.
        stop: Why sampling stopped: ``fixed`` (a set number of rounds), ``settled``,
            ``max_rounds`` or ``time_cap`` (the last two leave it undecided).
    """

    comparison: Comparison
    inner_s: float
    loops: int
    files: Mapping[str, str] = field(default_factory=dict)
    cpu: Comparison | None = None
    stop: StopReason = "fixed"


def next_step(
    decision: stats.SpeedupDecision,
    *,
    rounds_done: int,
    spent_s: float,
    round_s: float,
    config: TimingConfig,
) -> tuple[StopReason | None, int]:
    """What adaptive sampling does next: stop (and why) or how many rounds to add.

    Args:
        decision: The decision on the rounds so far.
        rounds_done: Rounds run so far.
        spent_s: Worker seconds spent so far (calibration included).
        round_s: Worker seconds one round is expected to take.
        config: ``step_rounds``, ``max_rounds`` and ``time_cap_s`` apply.

    Returns:
        ``(reason, 0)`` to stop, or ``(None, rounds)`` to run ``rounds`` more; a step
        that would pass ``time_cap_s`` is not started.
    """
    if decision.settled:
        return "settled", 0
    step = min(config.step_rounds, config.max_rounds - rounds_done)
    if step <= 0:
        return "max_rounds", 0
    if spent_s + step * round_s > config.time_cap_s:
        return "time_cap", 0
    return None, step


def interleaved(rounds: int, start: int = 0) -> list[tuple[int, Side]]:
    """(round, side) pairs: A B, B A, A B, ...; who goes first swaps each round to
    cancel order effects."""
    order: list[tuple[int, Side]] = []
    for r in range(start, start + rounds):
        first, second = SIDES if r % 2 == 0 else SIDES[::-1]
        order += [(r, first), (r, second)]
    return order


def save_benches(benches: list[Any], path: Path) -> str:
    """Merge pyperf benchmarks (one per process) into one file; return its path."""
    merged = benches[0]
    for other in benches[1:]:
        merged.add_runs(other)
    merged.dump(str(path), replace=True)
    return str(path)


def comparison(
    runs: Mapping[Side, Sequence[Sequence[float]]],
    *,
    noise: float,
    config: TimingConfig | None = None,
    min_gain: float | None = None,
    confidence: float | None = None,
    center: stats.Center | None = None,
    decided: bool = True,
) -> Comparison:
    """Decide on runs (one list of values per process): ``config``'s settings unless
    given one by one. ``decided`` False marks a run stopped undecided at a cap."""
    cfg = config or TimingConfig()
    min_gain = cfg.min_gain if min_gain is None else min_gain
    confidence = cfg.confidence if confidence is None else confidence
    center = cfg.center if center is None else center
    decision = stats.decide_runs(
        runs["baseline"], runs["candidate"], min_gain=min_gain, noise=noise,
        confidence=confidence, center=center,
    )  # fmt: skip
    return Comparison(
        baseline_s=tuple(x for run in runs["baseline"] for x in run),
        candidate_s=tuple(x for run in runs["candidate"] for x in run),
        speedup=decision.interval,
        threshold=decision.threshold,
        significant=decision.significant,
        slower=decision.slower,
        processes=len(runs["baseline"]),
        p_value=decision.p_value,
        decided=decided or decision.settled,
    )
