"""The Coder agent: asks a model for SEARCH/REPLACE edits and turns them into a patch."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from perfsmith.agents.edits import apply_blocks, parse_blocks
from perfsmith.core import (
    CoderContext,
    Interval,
    Message,
    Model,
    Profile,
    Proposal,
    Reply,
    Task,
    Workload,
)
from perfsmith.diffs import unified_diff
from perfsmith.errors import FormatError
from perfsmith.measure.guards import is_protected
from perfsmith.measure.hardware import cpu_spec
from perfsmith.prompts import render

HISTORY_LINES = 20  # the Coder sees the latest attempts; older ones rarely change its plan
HOTSPOT_SOURCES = 5
HOTSPOT_SOURCE_CHARS = 4_000
# A kernel's hot spot is its function annotated per line (up to 60 lines with cost columns).
KERNEL_SOURCE_CHARS = 8_000
_MIN_PARTIAL_CHARS = 2_000  # below this a truncated file is more confusing than useful


def format_seconds(seconds: float) -> str:
    """A duration with a readable unit, three significant digits (``"4.31 ms"``).

    Args:
        seconds: A duration in seconds.

    Returns:
        The duration in ns, µs, ms or s.
    """
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if abs(seconds) >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def format_speedup(speedup: Interval) -> str:
    """A speedup with its interval, e.g. ``"1.32x (95% interval 1.20x to 1.45x)"``.

    Args:
        speedup: Baseline time over candidate time, with its confidence interval.

    Returns:
        One short line.
    """
    return (
        f"{speedup.estimate:.2f}x ({speedup.confidence:.0%} interval "
        f"{speedup.low:.2f}x to {speedup.high:.2f}x)"
    )


def describe_workload(workload: Workload) -> str:
    """One line saying what the timed workload runs."""
    if workload.file is not None:
        return (
            f"{workload.file}: setup() once, then workload() is timed, many calls "
            "in fresh processes"
        )
    if workload.command is not None:
        return "the command `" + " ".join(workload.command) + "`, timed as a whole"
    return "not described"


def machine_text(machine: str | None) -> str:
    """The CPU as kernel prompts show it: ``machine`` if given, else this machine's spec
    (model, cores, SIMD flags, caches)."""
    return machine if machine is not None else cpu_spec().describe()


def system_template(agent: str, task: Task) -> str:
    """The system prompt's template: ``<agent>/system_kernel.j2`` for a kernel task."""
    return f"{agent}/system_kernel.j2" if task.mode == "kernel" else f"{agent}/system.j2"


def code_fence(text: str) -> str:
    """A Markdown fence longer than any backtick run in ``text``."""
    # The fence must be longer than any backtick run inside, or the file would end it.
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _location_path(location: str) -> str:
    path, sep, line = location.rpartition(":")
    return path if sep and line.isdigit() else location


def _hot_rank(paths: Sequence[str], profile: Profile | None) -> dict[str, int]:
    """Rank of each file by its hottest function (0 = hottest); files not in the profile absent."""
    rank: dict[str, int] = {}
    if profile is None:
        return rank
    for index, spot in enumerate(profile.hotspots):
        where = _location_path(spot.location).replace("\\", "/")
        for path in paths:
            if path not in rank and (where == path or where.endswith("/" + path)):
                rank[path] = index
    return rank


@dataclass(frozen=True)
class FileView:
    """One file as shown to the Coder."""

    path: str
    content: str
    fence: str
    readonly: bool
    note: str = ""


@dataclass(frozen=True)
class FilesView:
    """The files that fit in the prompt, and those left out."""

    shown: tuple[FileView, ...]
    omitted: tuple[str, ...]


def select_files(
    files: Mapping[str, str], profile: Profile | None, task: Task, max_chars: int
) -> FilesView:
    """Choose which files to show within ``max_chars``, files in the profile first.

    Args:
        files: path -> current content.
        profile: The current profile; files holding hot functions come first, hottest first.
        task: For the read-only marks (protected patterns and the workload file).
        max_chars: Budget for file contents; a file that does not fit is shown truncated
            (if enough room is left) and the rest are listed by name only.

    Returns:
        The files to show, in order, and the paths left out.
    """
    rank = _hot_rank(list(files), profile)
    order = sorted(files, key=lambda p: (rank.get(p, len(rank) + 1_000_000), p))
    shown: list[FileView] = []
    omitted: list[str] = []
    left = max_chars
    for path in order:
        content = files[path].rstrip("\n")
        # Read in order, last match wins: ["*", "!kernel.c"] leaves kernel.c editable.
        locked = path == task.workload.file or is_protected(path, task.protected)
        note = ""
        if len(content) > left:
            if left < _MIN_PARTIAL_CHARS:
                omitted.append(path)
                continue
            cut = content.rfind("\n", 0, left)
            cut = cut if cut > 0 else left
            hidden = len(content) - cut
            content = content[:cut]
            note = f"[{path} is truncated here: {hidden} more characters not shown]"
        left -= len(content)
        shown.append(FileView(path, content, code_fence(content), locked, note))
    return FilesView(tuple(shown), tuple(omitted))


class LLMCoder:
    """A Coder backed by a chat model that answers in SEARCH/REPLACE blocks.

    Attributes:
        model: The chat model.
        max_files_chars: How many characters of file contents a prompt may hold.
        machine: The CPU description a kernel task's prompt shows; None: this machine's.
    """

    def __init__(
        self, model: Model, *, max_files_chars: int = 60_000, machine: str | None = None
    ) -> None:
        self.model = model
        self.max_files_chars = max_files_chars
        self.machine = machine

    def messages(self, ctx: CoderContext) -> tuple[Message, ...]:
        """The system and user messages for one proposal.

        Args:
            ctx: What the Coder knows now.

        Returns:
            The two messages, rendered from ``coder/system.j2`` (``system_kernel.j2`` for
            a kernel task) and ``coder/user.j2``.
        """
        view = select_files(ctx.files, ctx.profile, ctx.task, self.max_files_chars)
        kernel = ctx.task.mode == "kernel"
        hotspots: list[dict[str, str]] = []
        if ctx.profile is not None:
            for spot in ctx.profile.hotspots:
                if len(hotspots) == HOTSPOT_SOURCES:
                    break
                if spot.source.strip():
                    limit = KERNEL_SOURCE_CHARS if kernel else HOTSPOT_SOURCE_CHARS
                    source = spot.source.rstrip("\n")[:limit]
                    hotspots.append(
                        {
                            "function": spot.function,
                            "location": spot.location,
                            "source": source,
                            "fence": code_fence(source),
                        }
                    )
        history = list(ctx.history)
        if kernel and self.machine is None:
            self.machine = machine_text(None)
        user = render(
            "coder/user.j2",
            mode=ctx.task.mode,
            machine=self.machine if kernel else "",
            # A kernel's hot spots carry kernel.c annotated per line, not plain code.
            source_lang="" if kernel else "python",
            task_name=ctx.task.name,
            brief=ctx.task.brief.strip(),
            target=ctx.task.target,
            workload=describe_workload(ctx.task.workload),
            tests=" ".join(ctx.task.tests) or "the repository's default pytest selection",
            protected=list(ctx.task.protected),
            baseline=format_seconds(ctx.baseline_s),
            best=(
                format_speedup(ctx.best_speedup)
                if ctx.best_speedup is not None
                else "no candidate kept yet (the current code is the baseline)"
            ),
            profile=ctx.profile.as_text() if ctx.profile is not None else "",
            hotspots=hotspots,
            files=view.shown,
            omitted=view.omitted,
            history=history[-HISTORY_LINES:],
            history_skipped=max(0, len(history) - HISTORY_LINES),
            feedback=ctx.feedback.strip(),
        )
        return (
            Message("system", render(system_template("coder", ctx.task))),
            Message("user", user),
        )

    def propose(self, ctx: CoderContext) -> Proposal:
        """Ask the model for edits and return them as a cumulative patch against the base.

        A malformed answer never raises: it comes back as a Proposal with an empty patch
        and ``error`` set to a message meant for the model's next attempt. Model errors
        (network, auth, an exhausted script) do raise.

        Args:
            ctx: The task, the current best files, the base files, numbers and feedback.

        Returns:
            The proposal, with the messages sent and the reply always recorded.
        """
        messages = self.messages(ctx)
        reply = self.model.query(messages)
        try:
            parsed = parse_blocks(reply.text)
            touched = apply_blocks(ctx.files, parsed.blocks)
        except FormatError as exc:
            return _failed(reply, messages, _describe(exc))
        if all(ctx.files.get(path) == content for path, content in touched.items()):
            return _failed(
                reply,
                messages,
                "the edits change nothing: every REPLACE section equals its SEARCH section. "
                "Change the code this time.",
                parsed.rationale,
            )
        patch = cumulative_patch(ctx.files, ctx.base_files, touched)
        if not patch:
            return _failed(
                reply,
                messages,
                "the edits undo every earlier change: the result equals the original code.",
                parsed.rationale,
            )
        return Proposal(
            patch=patch, rationale=parsed.rationale, reply=reply, messages=tuple(messages)
        )


def cumulative_patch(
    files: Mapping[str, str], base_files: Mapping[str, str], touched: Mapping[str, str]
) -> str:
    """The diff from the base to the current files updated with ``touched``.

    Args:
        files: path -> current (best) content; may already differ from the base.
        base_files: path -> base content. Empty means the current files are the base; a
            path missing from a non-empty mapping is a file created by an earlier candidate.
        touched: path -> new content from this proposal.

    Returns:
        A git-style unified diff covering earlier kept changes and this one.
    """
    base = base_files if base_files else files
    state = {**files, **touched}
    changed = [p for p in state if state[p] != base.get(p)]
    return unified_diff({p: base[p] for p in changed if p in base}, {p: state[p] for p in changed})


def _describe(exc: FormatError) -> str:
    return f"{exc.message}\n{exc.hint}" if exc.hint else exc.message


def _failed(reply: Reply, messages: Sequence[Message], error: str, rationale: str = "") -> Proposal:
    return Proposal(
        patch="", rationale=rationale, reply=reply, messages=tuple(messages), error=error
    )
