"""Profile a C kernel by source line: instructions and simulated cache misses, by valgrind.

For a kernel task cProfile sees one opaque ctypes call, and hardware counters are often
unreadable (most VMs), so the native profile runs the workload's calls under ``valgrind
--tool=callgrind --cache-sim=yes`` through the counter script (``counters.py``'s way of
running it in the sandbox): one ``setup()`` and one ``workload()``, that is one kernel
call at the timing shape. Callgrind counts every instruction and simulates the caches
with this machine's geometry (L1 data and the last level, read from sysfs; the levels
between them are not simulated). ``perfsmith.measure.callgrind`` parses the output
(``callgrind_annotate`` needs perl, which a sandbox lacks); this module maps lines to
the C functions they belong to and annotates the source.

What belongs to the kernel is decided by source file, not by function name: ctypes
enters the kernel through libffi, which moves the stack pointer before its call, so
callgrind files the kernel's instructions under a libffi frame and a ``--toggle-collect``
on the kernel's name would never fire. Everything is collected; the kernel's cost is
what lines of ``kernel.c`` execute, plus the inclusive cost of what they call (``expf``,
``memcpy``), except calls that come back into ``kernel.c`` (the OpenMP runtime running an
outlined parallel region), whose kernel lines are counted where they execute. Setup's
NumPy work never touches ``kernel.c`` and so never counts.

The profiled process runs one OpenMP thread: valgrind runs threads one at a time on one
simulated cache, so more threads would only add interleaving noise. On a CPU with
AVX-512 the profiled build adds ``-mno-avx512f``, since valgrind cannot execute AVX-512
instructions; the timed build is unchanged. A missing valgrind, a crash or a timeout
gives a Profile that says why it is unavailable: the run goes on without one.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import re
import shutil
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from perfsmith.core import HotSpot, Profile, Workspace
from perfsmith.errors import SandboxError, WorkloadError
from perfsmith.measure import hardware
from perfsmith.measure.callgrind import (
    CallgrindData,
    KernelCost,
    add_costs,
    kernel_cost,
    parse_callgrind,
)

# The counter script's runner and scratch files are shared, not copied.
from perfsmith.measure.counters import run_counter, scratch_path
from perfsmith.measure.hardware import CpuSpec, format_bytes

__all__ = [
    "CFunction",
    "annotate",
    "c_functions",
    "describe",
    "native_profile",
    "unavailable",
    "valgrind_cache_args",
]

SOURCE_NAME = "kernel.c"  # the file a kernel task's Coder edits
SPEC_PATH = "tests/kernel_spec.json"  # the generated repository's spec (kernels/repo.py)
BUILD_DIR = ".kernel-build"  # where the harness compiles (a copy of) kernel.c
RAW_NAME = "native_profile.callgrind"
TEXT_NAME = "native_profile.txt"
TIMEOUT_S = 300.0
MAX_SOURCE_LINES = 60
HOT_LINE_SHARE = 0.005  # in a long function, lines at least this hot are shown with context
MIN_FUNCTION_SHARE = 0.001  # a function of kernel.c below this share is left out
OUTSIDE_MIN_SHARE = 0.02  # keep a function outside kernel.c only above this share
CALL_NOTE_SHARE = 0.01  # name a call on its line when it costs at least this share
# Runs `cc` as the harness would (else gcc), with AVX-512 off: valgrind cannot execute it.
NO_AVX512_CC = 'sh -c \'exec "$(command -v cc || command -v gcc)" -mno-avx512f "$@"\' sh'


# -- C source: which function each line belongs to ----------------------------------------


@dataclass(frozen=True)
class CFunction:
    """A function defined in a C file: its name and the lines its definition spans."""

    name: str
    first: int
    last: int


def _blank(chars: list[str], start: int, end: int) -> None:
    for i in range(start, end):
        if chars[i] != "\n":
            chars[i] = " "


def _code_only(source: str) -> str:
    """``source`` with comments, string and character literals and preprocessor lines
    blanked out; newlines stay, so every offset keeps its line."""
    chars = list(source)
    i, n, line_start = 0, len(source), True
    while i < n:
        c = source[i]
        if c == "\n":
            line_start, i = True, i + 1
            continue
        if line_start and c == "#":
            j = i
            while j < n and not (source[j] == "\n" and source[j - 1] != "\\"):
                j += 1
            _blank(chars, i, j)
            i = j
            continue
        if not c.isspace():
            line_start = False
        if source.startswith("//", i):
            j = source.find("\n", i)
            j = n if j < 0 else j
        elif source.startswith("/*", i):
            j = source.find("*/", i + 2)
            j = n if j < 0 else j + 2
        elif c in "\"'":
            j = i + 1
            while j < n and source[j] not in (c, "\n"):
                j += 2 if source[j] == "\\" else 1
            j = min(j + 1, n)
        else:
            i += 1
            continue
        _blank(chars, i, j)
        i = j
    return "".join(chars)


_NOT_NAMES = frozenset({"__attribute__", "__declspec", "_Alignas", "alignas", "asm", "__asm__"})


def _function_name(declaration: str) -> str | None:
    """The name a top-level declaration followed by ``{`` defines, if it is a function."""
    text = declaration.strip()
    if not text.endswith(")"):
        return None  # an initializer, struct, enum or union
    depth = 0
    for i, c in enumerate(text):
        if c == "(":
            if depth == 0:
                j = i
                while j > 0 and text[j - 1].isspace():
                    j -= 1
                k = j
                while k > 0 and (text[k - 1].isalnum() or text[k - 1] == "_"):
                    k -= 1
                name = text[k:j]
                if name and not name[0].isdigit() and name not in _NOT_NAMES:
                    return name
            depth += 1
        elif c == ")":
            depth = max(0, depth - 1)
    return None


def c_functions(source: str) -> tuple[CFunction, ...]:
    """The functions ``source`` defines at file scope, with their first and last lines.

    A function starts at the first line of its declaration (the return type) and ends at
    its closing brace. Comments, strings and preprocessor lines are ignored.
    """
    code = _code_only(source)
    newlines = [i for i, c in enumerate(code) if c == "\n"]

    def line_of(offset: int) -> int:
        return bisect.bisect_left(newlines, offset) + 1

    found: list[CFunction] = []
    depth, decl_start = 0, 0
    current: tuple[str, int] | None = None
    for i, c in enumerate(code):
        if c == "{":
            if depth == 0:
                decl = code[decl_start:i]
                name = _function_name(decl)
                start = decl_start + len(decl) - len(decl.lstrip())
                current = (name, line_of(start)) if name else None
            depth += 1
        elif c == "}":
            depth = max(0, depth - 1)
            if depth == 0:
                if current is not None:
                    found.append(CFunction(current[0], current[1], line_of(i)))
                    current = None
                decl_start = i + 1
        elif c == ";" and depth == 0:
            decl_start = i + 1
    return tuple(found)


# -- from costs to a Profile --------------------------------------------------------------


def _count(n: int) -> str:
    """``812``, ``45.2k``, ``3.1M``, ``1.2G``."""
    for unit, scale in (("G", 10**9), ("M", 10**6), ("k", 10**3)):
        if n >= scale:
            return f"{n / scale:.1f}{unit}"
    return str(n)


HEADER = " line |     Ir  D1 miss  LL miss | source"
_BLANK = " " * 24


def _columns(costs: Sequence[int], cost: KernelCost) -> str:
    d1 = _count(cost.value(costs, "D1mr", "D1mw")) if "D1mr" in cost.events else "-"
    ll = _count(cost.value(costs, "DLmr", "DLmw")) if "DLmr" in cost.events else "-"
    return f"{cost.share(costs):6.1%} {d1:>8} {ll:>8}"


def _shown_lines(function: CFunction, cost: KernelCost, end: int, max_lines: int) -> list[int]:
    numbers = list(range(function.first, min(function.last, end) + 1))
    if len(numbers) <= max_lines:
        return numbers
    hot = [
        n for n in numbers if n in cost.calls or cost.share(cost.lines.get(n, ())) >= HOT_LINE_SHARE
    ]
    keep = {function.first} | {m for n in hot for m in range(n - 2, n + 3)}
    return sorted(n for n in numbers if n in keep)[:max_lines]


def annotate(
    source: str, function: CFunction, cost: KernelCost, *, max_lines: int = MAX_SOURCE_LINES
) -> str:
    """One function of the kernel's source with its cost on every line.

    Columns: the line's share of the call's instructions (own instructions; a line's
    calls out of the kernel are named after it with their share, callees included),
    then its simulated L1-data and last-level misses (reads and writes). A function
    longer than ``max_lines`` is cut to its hot lines with two lines of context each.
    """
    text = source.splitlines()
    rows = [HEADER]
    shown = _shown_lines(function, cost, len(text), max_lines)
    previous = None
    for n in shown:
        if previous is not None and n != previous + 1:
            rows.append("  ... |" + " " * (len(_BLANK) + 2) + "|")
        own = cost.lines.get(n)
        row = f"{n:>5} | {_columns(own, cost) if own else _BLANK} | {text[n - 1]}".rstrip()
        notes = [
            f"{callee} x{_count(count)} = {cost.share(incl):.1%}"
            for callee, _obj, count, incl in cost.calls.get(n, ())
            if cost.share(incl) >= CALL_NOTE_SHARE
        ]
        if notes:
            row += "    <- calls " + ", ".join(notes)
        rows.append(row)
        previous = n
    hidden = function.last - function.first + 1 - len(shown)
    if hidden > 0:
        rows.append(f"  ... ({hidden} cold lines of {function.name} not shown)")
    return "\n".join(rows)


_CLONE = re.compile(r"\.(?:_omp_fn|part|constprop|isra|cold|lto_priv)(?:\.\d+)*.*$")


def _base_name(name: str) -> str:
    """A compiler clone's source name: ``matmul._omp_fn.0`` and ``f.constprop.0`` -> ``f``."""
    return _CLONE.sub("", name)


def _hotspots(
    cost: KernelCost,
    data: CallgrindData,
    source: str,
    entry: str,
    is_kernel: Callable[[str], bool],
) -> tuple[HotSpot, ...]:
    spots: list[HotSpot] = []
    total = max(cost.instructions, 1)
    for f in c_functions(source):
        span = range(f.first, f.last + 1)
        own = [cost.lines[n] for n in span if n in cost.lines]
        out = [c[3] for n in span for c in cost.calls.get(n, ())]
        own_ir = sum(cost.value(c, "Ir") for c in own)
        out_ir = sum(cost.value(c, "Ir") for c in out)
        if (own_ir + out_ir) / total < MIN_FUNCTION_SHARE and f.name != entry:
            continue
        # An OpenMP region's outlined function runs once per thread and region, not per call.
        calls = sum(
            a.count
            for a in data.calls
            if is_kernel(a.callee_file)
            and _base_name(a.callee) == f.name
            and "_omp_fn" not in a.callee
        )
        calls = calls or (1 if f.name == entry else 0)
        spots.append(
            HotSpot(
                f.name if calls else f"{f.name} (inlined)",
                f"{SOURCE_NAME}:{f.first}",
                own_ir / total,
                min((own_ir + out_ir) / total, 1.0),
                calls,
                annotate(source, f, cost),
            )
        )
    outside: dict[tuple[str, str], list[int]] = {}
    for per_line in cost.calls.values():
        for callee, obj, count, incl in per_line:
            add_costs(outside, (callee, obj), [count, cost.value(incl, "Ir")])
    for (callee, obj), (count, ir) in outside.items():
        share = ir / total
        if share >= OUTSIDE_MIN_SHARE:
            # Outside the kernel only the calls from it count, callees included.
            spots.append(HotSpot(callee, PurePosixPath(obj).name, share, share, count))
    if not spots and cost.instructions:
        spots.append(HotSpot(entry, SOURCE_NAME, 1.0, 1.0, 1))
    return tuple(sorted(spots, key=lambda h: (-h.own_share, -h.cum_share, h.function)))


_GEOMETRY = re.compile(r"^(I1|D1|LL) cache:\s*(\d+) B, (\d+) B, (.*?)(?: associative)?$")


def _geometry(desc: Sequence[str]) -> dict[str, tuple[str, int]]:
    """What valgrind simulated, per cache: (``48 KiB, 12-way, 64 B lines``, line size)."""
    found: dict[str, tuple[str, int]] = {}
    for line in desc:
        m = _GEOMETRY.match(line)
        if m:
            size, line_size, ways = int(m.group(2)), int(m.group(3)), m.group(4)
            found[m.group(1)] = (f"{format_bytes(size)}, {ways}, {line_size} B lines", line_size)
    return found


def _summary(cost: KernelCost, data: CallgrindData, spec: Mapping[str, object], note: str) -> str:
    timing = spec.get("timing")
    sizes = ", ".join(f"{k}={v}" for k, v in timing.items()) if isinstance(timing, dict) else ""
    head = f"one {spec.get('function') or 'kernel'} call" + (f" at {sizes}" if sizes else "")
    reads, writes = cost.value(cost.total, "Dr"), cost.value(cost.total, "Dw")
    lines = [
        f"Native profile of {head}, under valgrind (callgrind, one OpenMP thread).",
        f"Per call: {_count(cost.instructions)} instructions, {_count(reads)} data reads, "
        f"{_count(writes)} data writes.",
    ]
    geometry = _geometry(data.desc)
    accesses = max(reads + writes, 1)
    if "D1mr" in cost.events and "D1" in geometry and "LL" in geometry:
        d1 = cost.value(cost.total, "D1mr", "D1mw")
        ll = cost.value(cost.total, "DLmr", "DLmw")
        memory = format_bytes(ll * geometry["LL"][1])
        lines += [
            f"D1 misses: {_count(d1)}, {d1 / accesses:.1%} of data accesses "
            f"(L1 data cache: {geometry['D1'][0]}).",
            f"LL misses: {_count(ll)}, {ll / accesses:.2%} of data accesses, about {memory} "
            f"moved to or from memory (last-level cache: {geometry['LL'][0]}).",
            "Cache misses are simulated by valgrind with this machine's cache geometry (the "
            "L1 data and the last-level cache; levels between them are not simulated).",
        ]
    lines.append(
        "Shares are of the call's instructions: a line's own, and the calls it makes "
        "outside kernel.c (callees included)."
    )
    if note:
        lines.append(note)
    return "\n".join(lines)


def unavailable(reason: str) -> Profile:
    """A profile with no hot spots that says why there is none."""
    return Profile(hotspots=(), total_s=0.0, summary=f"Native profile unavailable: {reason}")


def valgrind_cache_args(cpu: CpuSpec) -> list[str]:
    """``--I1``, ``--D1`` and ``--LL`` options with the CPU's cache geometry.

    Valgrind's own detection can be wrong in a VM, so the geometry comes from sysfs. It
    simulates only a power-of-two number of sets: other sizes are rounded down to one.
    A cache sysfs does not describe fully is left to valgrind.
    """
    args = []
    for option, cache in (
        ("--I1", cpu.cache("L1i")),
        ("--D1", cpu.cache("L1d")),
        ("--LL", cpu.last_level()),
    ):
        if cache is None or cache.ways < 1 or cache.line_bytes < 16:
            continue
        if cache.line_bytes & (cache.line_bytes - 1):
            continue
        sets = cache.size_bytes // (cache.ways * cache.line_bytes)
        if sets < 1:
            continue
        sets = 1 << (sets.bit_length() - 1)
        args.append(
            f"{option}={sets * cache.ways * cache.line_bytes},{cache.ways},{cache.line_bytes}"
        )
    return args


def _kernel_file(root: Path) -> Callable[[str], bool]:
    """Whether a path from the debug information is the workspace's kernel source: its
    build copy (``.kernel-build/<digest>/kernel.c``) or the file itself."""
    own = {str(root / SOURCE_NAME), str(root.resolve() / SOURCE_NAME)}

    def is_kernel(path: str) -> bool:
        p = PurePosixPath(path)
        return p.name == SOURCE_NAME and (BUILD_DIR in p.parts or path in own)

    return is_kernel


def _reason(exc: WorkloadError | SandboxError) -> str:
    text = exc.message
    if "unhandled instruction" in text:
        return (
            "valgrind cannot execute an instruction the kernel (or a library it calls) "
            "uses; the run goes on without a native profile"
        )
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    tail = f" ({lines[-1][:300]})" if len(lines) > 1 else ""
    return lines[0][:300] + tail if lines else "valgrind failed"


def describe(profile: Profile, sources: int = 3) -> str:
    """The summary, the hot spots and the annotated source of the hottest functions."""
    parts = [profile.as_text(limit=20)]
    for spot in [h for h in profile.hotspots if h.source][:sources]:
        parts.append(f"{spot.function} ({spot.location}):\n{spot.source}")
    return "\n\n".join(parts)


def native_profile(
    sandbox: Workspace,
    python: str,
    workload_file: str | Path,
    *,
    pythonpath: Sequence[str],
    out_dir: Path,
    timeout_s: float = TIMEOUT_S,
    valgrind: str = "valgrind",
    cpu: CpuSpec | None = None,
    side: str = "workload",
) -> Profile:
    """Profile one kernel call by line of ``kernel.c`` under valgrind's cache simulation.

    One process makes one ``setup()`` and one ``workload()`` call (the kernel at the
    timing shape, one OpenMP thread) under callgrind. Never raises for a failed profile:
    a missing valgrind, a crash, a timeout or output without the kernel's lines gives
    ``unavailable(reason)``.

    Args:
        sandbox: The workspace of a generated kernel repository.
        python: The target's interpreter.
        workload_file: The workload, relative to the sandbox root or absolute.
        pythonpath: Folders relative to the sandbox root, put on PYTHONPATH.
        out_dir: Where ``native_profile.callgrind`` (the raw output with the kernel call)
            and ``native_profile.txt`` (summary and annotated source) go.
        timeout_s: Limit for the process (callgrind with cache simulation runs Python
            about 100 times slower, compiled loops about 30 times).
        valgrind: The valgrind executable.
        cpu: The CPU (default: this machine's), for the cache geometry and AVX-512.
        side: Who is profiled ("baseline", "candidate"), named in reasons.

    Returns:
        Hot spots: the functions of ``kernel.c`` (own share of the call's instructions,
        and with the calls they make out of it; the source annotated per line) and the
        functions outside it that the kernel's calls spend at least 2% in. ``summary``
        holds the totals per call; ``total_s`` is 0 (nothing is timed).
    """
    started = time.monotonic()
    try:
        spec = json.loads((sandbox.root / SPEC_PATH).read_text(encoding="utf-8"))
        source = (sandbox.root / SOURCE_NAME).read_text(encoding="utf-8", errors="replace")
    except (OSError, ValueError) as exc:
        return unavailable(
            f"not a kernel repository: cannot read {SPEC_PATH} or {SOURCE_NAME} ({exc})"
        )
    if shutil.which(valgrind) is None:
        return unavailable(f"{valgrind} is not installed (apt-get install valgrind)")
    cpu = cpu or hardware.cpu_spec()
    folder = scratch_path(sandbox, ".native")
    folder.mkdir(parents=True)
    prefix = [
        valgrind, "--tool=callgrind", "-q", "--cache-sim=yes", *valgrind_cache_args(cpu),
        # Only the kernel call's part of the output is wanted: ctypes calls go through
        # libffi's ffi_call. Without one, the output at exit still holds the call.
        "--zero-before=ffi_call", "--dump-after=ffi_call",
        f"--callgrind-out-file={folder}/callgrind.%p.out",
    ]  # fmt: skip
    env = {
        "PERFSMITH_CALLS": "1",
        "PERFSMITH_SETUPS": "1",
        "PERFSMITH_WARMUPS": "0",
        "PERFSMITH_EXACT": "1",
        "OMP_NUM_THREADS": "1",
    }
    note = ""
    if "avx512f" in cpu.simd:
        env["CC"] = NO_AVX512_CC
        note = (
            "Profiled build: -mno-avx512f added, as valgrind cannot execute AVX-512; the "
            "timed build uses AVX-512, so its vector loops may run fewer instructions."
        )
    try:
        run_counter(
            sandbox, python, workload_file, pythonpath=pythonpath, env=env, prefix=prefix,
            timeout_s=timeout_s, side=side, what="profiling the kernel under valgrind",
        )  # fmt: skip
        is_kernel = _kernel_file(sandbox.root)
        best = _pick(sorted(folder.iterdir()), is_kernel)
        if best is None:
            return unavailable(
                "valgrind recorded no instruction on a line of kernel.c (is it compiled "
                "with -g, and does the workload call it?)"
            )
        path, data, cost = best
        out_dir.mkdir(parents=True, exist_ok=True)
        raw = out_dir / RAW_NAME
        shutil.copyfile(path, raw)
    except (WorkloadError, SandboxError) as exc:
        return unavailable(_reason(exc))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    profile = Profile(
        hotspots=_hotspots(cost, data, source, str(spec.get("function", "")), is_kernel),
        total_s=0.0,
        raw_path=str(raw),
        summary=_summary(cost, data, spec, note),
    )
    took = time.monotonic() - started
    text = describe(profile, sources=10) + f"\n\n(valgrind run and parsing took {took:.1f} s)\n"
    with contextlib.suppress(OSError):  # the text is a copy for people; the profile stands
        (out_dir / TEXT_NAME).write_text(text, encoding="utf-8")
    return profile


def _pick(
    files: Iterable[Path], is_kernel: Callable[[str], bool]
) -> tuple[Path, CallgrindData, KernelCost] | None:
    """The output file (of the process, of the part) that holds the most kernel work."""
    best: tuple[Path, CallgrindData, KernelCost] | None = None
    for path in files:
        try:
            data = parse_callgrind(path.read_text(encoding="utf-8", errors="replace"))
        except (OSError, ValueError, IndexError):  # unreadable, or cut off mid-line
            continue
        cost = kernel_cost(data, is_kernel)
        if cost.instructions and (best is None or cost.instructions > best[2].instructions):
            best = (path, data, cost)
    return best
