"""Read callgrind's output format, and find what the lines of one source file cost.

The format is documented with valgrind ("Callgrind Format Specification"); this parser
covers what callgrind writes: name compression (``fn=(12) name``, then ``fn=(12)``),
relative positions (``+3``, ``-2``, ``*``), inlined code from other files (``fi=``,
``fe=``), calls (``cfn=`` and ``calls=``, whose next cost line is inclusive), and
optional trailing zeros. ``callgrind_annotate`` would do the same, but it needs perl,
which a sandbox lacks.

``kernel_cost`` picks one source file's share of a profile: its lines' own costs and the
calls they make into other code, so the shares of its lines add up to its total.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

__all__ = ["CallArc", "CallgrindData", "KernelCost", "add_costs", "kernel_cost", "parse_callgrind"]


@dataclass(frozen=True)
class CallArc:
    """One call site: who called whom from which source line, how often, at what cost.

    Attributes:
        caller: The function the call was filed under.
        file: The source file of the call site.
        line: Its line (0 without line information).
        callee: The called function.
        callee_file: The file the callee's code is in.
        callee_object: The object (shared library) it is in.
        count: Calls.
        inclusive: Cost of the calls, callees included, one value per event.
    """

    caller: str
    file: str
    line: int
    callee: str
    callee_file: str
    callee_object: str
    count: int
    inclusive: tuple[int, ...]


@dataclass(frozen=True)
class CallgrindData:
    """What a callgrind output file holds, reduced to what a profile needs.

    Attributes:
        events: Event names, in the order of every cost tuple (``Ir Dr Dw I1mr ...``).
        desc: The ``desc:`` lines (cache geometry, trigger), without the prefix.
        lines: Own cost per (source file, line).
        functions: Own cost per (object, function, source file).
        calls: Every call site.
        totals: The sum of all own costs.
    """

    events: tuple[str, ...]
    desc: tuple[str, ...]
    lines: Mapping[tuple[str, int], tuple[int, ...]]
    functions: Mapping[tuple[str, str, str], tuple[int, ...]]
    calls: tuple[CallArc, ...]
    totals: tuple[int, ...]

    def value(self, costs: Sequence[int], event: str) -> int:
        """One event's value from a cost tuple; 0 when the file did not count it."""
        return costs[self.events.index(event)] if event in self.events else 0


_K = TypeVar("_K")


def add_costs(into: dict[_K, list[int]], key: _K, costs: list[int]) -> None:
    have = into.get(key)
    if have is None:
        into[key] = list(costs)
    else:
        for i, v in enumerate(costs):
            have[i] += v


class _Names:
    """Callgrind's name compression: ``(12) name`` defines id 12, ``(12)`` reuses it."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, str]] = {"ob": {}, "fl": {}, "fn": {}}

    def get(self, kind: str, text: str) -> str:
        text = text.strip()
        if not text.startswith("("):
            return text
        close = text.find(")")
        if close < 0:
            return text
        key, name = text[1:close], text[close + 1 :].strip()
        table = self.tables[kind]
        if name:
            table[key] = name
            return name
        return table.get(key, f"({key})")


_KIND = {
    "ob": "ob", "cob": "ob",
    "fl": "fl", "fi": "fl", "fe": "fl", "cfi": "fl", "cfl": "fl", "jfi": "fl",
    "fn": "fn", "cfn": "fn", "jfn": "fn",
}  # fmt: skip


def _position(token: str, last: int) -> int:
    if token == "*":
        return last
    if token[0] in "+-":
        return last + int(token)
    return int(token, 16) if token.startswith("0x") else int(token)


def parse_callgrind(text: str) -> CallgrindData:
    """Parse a callgrind output file (compressed or not, one or more parts).

    Positions may be ``line`` or ``instr line``; only lines are kept. Costs of a call
    (the line after ``calls=``) are inclusive and go to ``calls``, not to own costs.

    Raises:
        ValueError: No ``events:`` line, or a cost line that is not numbers.
    """
    names = _Names()
    events: tuple[str, ...] = ()
    desc: list[str] = []
    positions = ["line"]
    lines: dict[tuple[str, int], list[int]] = {}
    functions: dict[tuple[str, str, str], list[int]] = {}
    calls: list[CallArc] = []
    obj = file = fn = ""
    cobj = cfile = cfn = ""
    pending: int | None = None  # call count of a `calls=` line awaiting its cost line
    last = [0] * len(positions)
    line_index = 0
    for number, raw in enumerate(text.splitlines(), 1):
        row = raw.strip()
        if not row or row.startswith("#"):
            continue
        head = row[0]
        if head.isdigit() or head in "+-*" or row.startswith("0x"):
            if not events:
                raise ValueError(f"line {number}: a cost line before the events: line")
            parts = row.split()
            try:
                pos = [_position(t, last[i]) for i, t in enumerate(parts[: len(positions)])]
                costs = [int(v) for v in parts[len(positions) :]]
            except ValueError as exc:
                raise ValueError(f"line {number}: not a cost line: {row[:80]!r}") from exc
            costs += [0] * (len(events) - len(costs))
            last = pos
            where = pos[line_index] if line_index < len(pos) else 0
            if pending is not None:
                calls.append(
                    CallArc(fn, file, where, cfn, cfile or file, cobj or obj, pending, tuple(costs))
                )
                pending, cobj, cfile = None, "", ""
            else:
                add_costs(lines, (file, where), costs)
                add_costs(functions, (obj, fn, file), costs)
            continue
        key, sep, value = row.partition("=")
        if sep and key in _KIND:
            name = names.get(_KIND[key], value)
            if key == "ob":
                obj = name
            elif key in ("fl", "fi", "fe"):
                file = name  # fi/fe: inlined code from another file, until the next one
            elif key == "fn":
                fn = name
            elif key == "cob":
                cobj = name
            elif key in ("cfi", "cfl"):
                cfile = name
            elif key == "cfn":
                cfn = name
            continue
        if key == "calls" and sep:
            pending = int(value.split()[0])
            continue
        if sep and key in ("jump", "jcnd"):
            continue
        label, colon, rest = row.partition(":")
        if not colon:
            raise ValueError(f"line {number}: not a callgrind line: {row[:80]!r}")
        if label == "events":
            events = tuple(rest.split())
        elif label == "positions":
            positions = rest.split() or ["line"]
            line_index = positions.index("line") if "line" in positions else len(positions)
            last = [0] * len(positions)
        elif label == "desc":
            desc.append(rest.strip())
    if not events:
        raise ValueError("no events: line: not a callgrind output file")
    width = len(events)
    totals = [0] * width
    for costs in lines.values():
        for i, v in enumerate(costs[:width]):
            totals[i] += v
    return CallgrindData(
        events=events,
        desc=tuple(desc),
        lines={k: tuple(v[:width]) for k, v in lines.items()},
        functions={k: tuple(v[:width]) for k, v in functions.items()},
        calls=tuple(calls),
        totals=tuple(totals),
    )


# -- the kernel's share of a callgrind profile --------------------------------------------


@dataclass(frozen=True)
class KernelCost:
    """The cost of the kernel's code in a callgrind profile, by line of its source.

    Attributes:
        events: Event names, the order of every cost tuple.
        total: Own costs of the kernel's lines plus the calls they make out of it.
        lines: Own cost per line of the kernel's source.
        calls: Per line, the calls that leave the kernel's source: (callee, object,
            count, inclusive cost), the largest first.
    """

    events: tuple[str, ...]
    total: tuple[int, ...]
    lines: Mapping[int, tuple[int, ...]]
    calls: Mapping[int, tuple[tuple[str, str, int, tuple[int, ...]], ...]]

    def value(self, costs: Sequence[int], *names: str) -> int:
        """The sum of the named events in ``costs`` (0 for events not counted, or missing
        from a short ``costs``)."""
        index = [self.events.index(n) for n in names if n in self.events]
        return sum(costs[i] for i in index if i < len(costs))

    @property
    def instructions(self) -> int:
        return self.value(self.total, "Ir")

    def share(self, costs: Sequence[int]) -> float:
        """``costs``' instructions as a fraction of the total."""
        return self.value(costs, "Ir") / max(self.instructions, 1)


def _reentrant(calls: Iterable[CallArc], is_kernel: Callable[[str], bool]) -> set[str]:
    """Functions outside the kernel that run kernel code (the OpenMP runtime calling an
    outlined region), directly or through other calls."""
    found = {a.caller for a in calls if is_kernel(a.callee_file) and not is_kernel(a.file)}
    while True:
        more = {a.caller for a in calls if a.callee in found and not is_kernel(a.file)} - found
        if not more:
            return found
        found |= more


def kernel_cost(data: CallgrindData, is_kernel: Callable[[str], bool]) -> KernelCost:
    """What the lines of the kernel's source cost, with the calls they make.

    Args:
        data: A parsed callgrind profile.
        is_kernel: Whether a source file path (as the debug information names it) is
            the kernel's source.

    Returns:
        Own costs per line, and per line the calls into code outside the kernel's source
        (inclusive costs). Calls into functions that come back into kernel code (the
        OpenMP runtime) are left out: their kernel lines are already counted where they
        run. The total is the sum of both, so every line's share adds up to it.
    """
    width = len(data.events)
    lines: dict[int, list[int]] = {}
    for (file, line), costs in data.lines.items():
        if is_kernel(file):
            add_costs(lines, line, list(costs))
    skip = _reentrant(data.calls, is_kernel)
    calls: dict[int, dict[tuple[str, str], list[int]]] = {}
    for a in data.calls:
        if not is_kernel(a.file) or is_kernel(a.callee_file) or a.callee in skip:
            continue
        per_line = calls.setdefault(a.line, {})
        add_costs(per_line, (a.callee, a.callee_object), [a.count, *a.inclusive])
    total = [0] * width
    for own in lines.values():
        total = [t + v for t, v in zip(total, own, strict=True)]
    for per_line in calls.values():
        for entry in per_line.values():
            total = [t + v for t, v in zip(total, entry[1:], strict=True)]
    ir = data.events.index("Ir") if "Ir" in data.events else 0
    return KernelCost(
        events=data.events,
        total=tuple(total),
        lines={k: tuple(v) for k, v in lines.items()},
        calls={
            line: tuple(
                sorted(
                    ((fn, obj, e[0], tuple(e[1:])) for (fn, obj), e in per_line.items()),
                    key=lambda c: -c[3][ir],
                )
            )
            for line, per_line in calls.items()
        },
    )
