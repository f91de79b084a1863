"""Core types shared by every part of perfsmith.

This module imports nothing else from the package. Everything that crosses a
boundary between components is one of the frozen dataclasses or Protocols
defined here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant"]
Target = Literal["latency", "throughput", "memory", "instructions", "energy"]
Mode = Literal["python", "kernel"]
"""What kind of code a task optimizes. ``kernel``: a compiled kernel (docs/kernels.md), so
the profile is by source line under cachegrind, memory is the process's resident growth
per call, and the agents' prompts speak of kernels."""
"""Metric that decides whether a candidate is better; the others are reported beside it."""

MetricName = Literal[
    "latency",  # steady-state seconds per workload() call (pyperf workers)
    "cpu_time",  # CPU seconds per call in the same workers
    "cold_latency",  # one call per fresh process
    "throughput",  # calls per second (the inverse of latency)
    "peak_memory",  # peak bytes allocated during a call
    "instructions",  # instructions per call (callgrind; deterministic)
    "energy",  # joules per call (RAPL or NVML), where readable
]

Outcome = Literal["passed", "failed", "error", "skipped", "xfailed", "xpassed"]

CandidateStatus = Literal[
    "faster",  # every gate passed and the gain is significant
    "not_significant",  # correct, but the interval does not clear the threshold
    "slower",  # correct, and significantly slower
    "test_failed",  # an expected test did not pass
    "incorrect_output",  # workload() returned a different value than the baseline
    "workload_error",  # the workload crashed or timed out on the candidate
    "apply_failed",  # the patch does not apply to the base
    "rejected",  # a static guard refused it (protected path, size, outside repo)
    "noop",  # the patch changes nothing that runs
    "format_error",  # the model's answer could not be turned into a patch
    "quarantined",  # implausible or cache-like gain that extra checks did not clear
]

Decision = Literal["keep", "discard", "stop"]

ExitStatus = Literal[
    "completed",  # the model said stop, or the run reached its natural end
    "budget_iterations",
    "budget_evaluations",
    "budget_tokens",
    "budget_usd",
    "budget_time",
    "patience",
    "format_errors",
    "model_error",
    "interrupted",
    "error",
]


@dataclass(frozen=True)
class Message:
    """One chat message sent to a model."""

    role: Role
    content: str


@dataclass(frozen=True)
class Usage:
    """Token counts of one model call."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class Reply:
    """A model's answer with what it cost."""

    text: str
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    latency_s: float = 0.0
    model: str = ""


@runtime_checkable
class Model(Protocol):
    """Anything that answers a list of chat messages."""

    name: str

    def query(self, messages: Sequence[Message]) -> Reply: ...


@dataclass(frozen=True)
class ExecResult:
    """What one command run inside a sandbox did."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    duration_s: float
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


class Sandbox(Protocol):
    """One isolated copy of the repository where commands run."""

    def exec(
        self,
        argv: Sequence[str],
        *,
        timeout_s: float,
        env: Mapping[str, str] | None = None,
    ) -> ExecResult: ...

    def read_file(self, path: str) -> str: ...

    def write_file(self, path: str, content: str) -> None: ...

    def close(self) -> None: ...


class Workspace(Protocol):
    """What measurement needs from a sandbox: host paths of its workspace and of a private
    folder outside it (for reports the candidate cannot reach), and a way to run things."""

    @property
    def root(self) -> Path: ...

    @property
    def private(self) -> Path: ...

    def exec(
        self,
        argv: Sequence[str],
        *,
        timeout_s: float,
        env: Mapping[str, str] | None = None,
    ) -> ExecResult: ...


@dataclass(frozen=True)
class Workload:
    """How to exercise the code that should get faster.

    Exactly one of ``file`` (a Python file, relative to the repository, with
    ``workload()`` and optionally ``setup()``) and ``command`` (an argv run as
    a whole and timed from outside) is set.
    """

    file: str | None = None
    command: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Task:
    """One optimization problem: a repository, a workload, tests, a target."""

    repo: str  # absolute path of the user's repository (never written to)
    workload: Workload
    tests: tuple[str, ...] = ()  # pytest selection, relative to the repo; () = pytest's default
    target: Target = "latency"
    protected: tuple[str, ...] = ()  # glob patterns the candidate may not touch
    pythonpath: tuple[str, ...] = (".",)  # folders (relative) put on PYTHONPATH
    name: str = ""
    brief: str = ""  # what the Coder is told beside the code (a kernel's signature and shapes)
    mode: Mode = "python"


@dataclass(frozen=True)
class TestReport:
    """Per-test outcomes parsed from a JUnit XML report (never from stdout)."""

    __test__ = False  # not a pytest test class, despite its name

    outcomes: Mapping[str, Outcome]
    returncode: int
    duration_s: float
    xml_path: str = ""
    output_tail: str = ""

    def passed_ids(self) -> frozenset[str]:
        return frozenset(t for t, o in self.outcomes.items() if o == "passed")


@dataclass(frozen=True)
class Grade:
    """A candidate's tests graded against the ids that passed at baseline."""

    ok: bool
    failed: tuple[str, ...] = ()  # expected ids that failed, errored, were skipped or xfailed
    missing: tuple[str, ...] = ()  # expected ids that were not reported at all


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided confidence interval."""

    estimate: float
    low: float
    high: float
    confidence: float = 0.95


@dataclass(frozen=True)
class Comparison:
    """Baseline against candidate timing, raw samples kept."""

    baseline_s: tuple[float, ...]  # seconds per workload call, one value per sample
    candidate_s: tuple[float, ...]
    speedup: Interval  # baseline / candidate time, by the configured centre (>1: faster)
    threshold: float  # the interval's low end must exceed this to count as faster
    significant: bool  # speedup.low > threshold
    slower: bool  # speedup.high < 1 / threshold
    processes: int  # worker processes per side
    p_value: float = 1.0  # two-sided Mann-Whitney U test of the two sample sets
    decided: bool = True  # False when sampling stopped at its cap before the answer was clear


@dataclass(frozen=True)
class MetricResult:
    """One metric measured on baseline and candidate; ``speedup`` > 1 means better."""

    name: MetricName
    unit: str
    baseline: float  # median per call, in ``unit``
    candidate: float
    speedup: Interval | None  # baseline / candidate (inverse for throughput), None if n/a
    n: int  # samples (processes) per side
    available: bool = True
    note: str = ""  # why unavailable, or how it was measured


@dataclass(frozen=True)
class HotSpot:
    """One hot function from a profile."""

    function: str
    location: str  # path:line, relative to the repository where possible
    own_share: float  # fraction of total time spent in the function itself
    cum_share: float  # fraction including callees
    calls: int
    source: str = ""


@dataclass(frozen=True)
class Profile:
    """A compact profile for the agents, plus where the raw data lives."""

    hotspots: tuple[HotSpot, ...]
    total_s: float
    raw_path: str = ""
    summary: str = ""  # shown before the hot spots: a native profile's totals, or why none

    def as_text(self, limit: int = 8) -> str:
        lines = [self.summary] if self.summary else []
        for h in self.hotspots[:limit]:
            lines.append(
                f"{h.own_share:6.1%} own {h.cum_share:6.1%} cum {h.calls:>8} calls  "
                f"{h.function}  ({h.location})"
            )
        return "\n".join(lines)


@dataclass(frozen=True)
class Measurement:
    """Everything the gate pipeline learned about one candidate."""

    status: CandidateStatus
    reason: str  # one line a person (or the Coder) can act on
    patch: str
    gate: str = ""  # the gate that decided a failure: parse, static, apply, tests, output, timing
    code: str = ""  # machine-readable reason: protected_path, variant_mismatch, cache_suspected…
    grade: Grade | None = None
    tests: TestReport | None = None
    comparison: Comparison | None = None
    profile: Profile | None = None
    metrics: tuple[MetricResult, ...] = ()  # every metric measured, the deciding one first
    flags: tuple[str, ...] = ()
    artifacts: Mapping[str, str] = field(default_factory=dict)  # name -> path
    duration_s: float = 0.0
    inner_s: float = 0.0  # time spent inside workload and test processes

    @property
    def passed_gates(self) -> bool:
        return self.status in ("faster", "not_significant", "slower")


@dataclass(frozen=True)
class Proposal:
    """What the Coder proposed: a patch (cumulative, against the base) and why."""

    patch: str
    rationale: str
    reply: Reply
    messages: tuple[Message, ...] = ()
    error: str = ""  # set when the answer could not be turned into a patch


@dataclass(frozen=True)
class Verdict:
    """What the Judge concluded about one measured candidate."""

    decision: Decision
    bottleneck: str = ""
    next_step: str = ""
    suspicion: str = ""
    reply: Reply | None = None
    overruled: str = ""  # why the harness did not follow the Judge, if it did not


@dataclass(frozen=True)
class CoderContext:
    """What the Coder sees when it proposes the next candidate."""

    task: Task
    files: Mapping[str, str]  # path -> current (best) content of the files worth editing
    profile: Profile | None
    baseline_s: float  # median seconds per call at baseline
    best_speedup: Interval | None
    history: Sequence[str]  # one compact line per earlier attempt, oldest first
    feedback: str = ""  # the Judge's or the harness's word on the last attempt
    base_files: Mapping[str, str] = field(default_factory=dict)  # base contents, for diffs


@dataclass(frozen=True)
class JudgeContext:
    """What the Judge sees about one measured candidate."""

    task: Task
    measurement: Measurement
    proposal: Proposal
    profile: Profile | None
    history: Sequence[str]


class Coder(Protocol):
    def propose(self, ctx: CoderContext) -> Proposal: ...


class Judge(Protocol):
    def review(self, ctx: JudgeContext) -> Verdict: ...


class Evaluator(Protocol):
    def evaluate(self, task: Task, patch: str) -> Measurement: ...


class TaskSource(Protocol):
    def tasks(self) -> Iterable[Task]: ...
