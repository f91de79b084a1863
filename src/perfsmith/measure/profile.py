"""Profile a workload and reduce the result to a few hot functions with their source.

The worker runs ``workload()`` under cProfile (``setup()`` excluded) in the sandbox;
this module loads the pstats file and keeps what an agent can act on: functions in
the workspace, ranked by their own time, each with its source. Time spent in
builtins, the standard library or installed packages is kept only where it is a
large share on its own, since that still says where the time goes.
"""

from __future__ import annotations

import ast
import json
import pstats
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from perfsmith.core import HotSpot, Profile, Workspace
from perfsmith.measure.timing import WORKER_NAME, worker_files, workload_path

__all__ = ["function_source", "profile_workload"]

MAX_SOURCE_LINES = 60
OUTSIDE_MIN_SHARE = 0.05  # keep a builtin/library function only above this own share
_LIBRARY_MARKERS = ("site-packages", "dist-packages")


@dataclass(frozen=True)
class _Entry:
    file: str
    line: int
    name: str
    calls: int
    own_s: float
    cum_s: float


def _relative(path: str, roots: tuple[Path, ...]) -> str | None:
    """Return ``path`` relative to the workspace, or None if it lies outside."""
    if any(m in path for m in _LIBRARY_MARKERS):
        return None
    for root in roots:
        try:
            return Path(path).relative_to(root).as_posix()
        except ValueError:
            continue
    return None


def _def_nodes(tree: ast.AST) -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """All function definitions with their qualified names, outermost first."""
    found: list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found.append((prefix + child.name, child))
                visit(child, f"{prefix}{child.name}.<locals>.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def function_source(path: Path, line: int) -> tuple[str, str]:
    """Return (qualified name, source) of the function defined at ``line`` of ``path``.

    ``line`` is a code object's first line: the ``def`` line or, for a decorated
    function, the first decorator's. The source is capped at ``MAX_SOURCE_LINES``
    lines. Returns ``("", "")`` when the file cannot be read or parsed or no
    definition starts there.
    """
    try:
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return "", ""
    for qualname, node in _def_nodes(tree):
        start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        if line not in (start, node.lineno):
            continue
        lines = text.splitlines()[start - 1 : node.end_lineno or node.lineno]
        if len(lines) > MAX_SOURCE_LINES:
            more = len(lines) - MAX_SOURCE_LINES
            lines = [*lines[:MAX_SOURCE_LINES], f"    # ... ({more} more lines)"]
        return qualname, "\n".join(lines)
    return "", ""


def _load(pstats_path: Path) -> list[_Entry]:
    raw = pstats.Stats(str(pstats_path)).stats  # type: ignore[attr-defined]
    entries = []
    for (file, line, name), (_cc, nc, tt, ct, _callers) in raw.items():
        entries.append(_Entry(str(file), int(line), str(name), int(nc), float(tt), float(ct)))
    return entries


def _builtin_label(entry: _Entry) -> str:
    # cProfile names C functions like "<built-in method builtins.sorted>".
    return entry.name.strip("<>{}") if entry.file == "~" else entry.name


def profile_workload(
    sandbox: Workspace,
    python: str,
    workload_file: str | Path,
    *,
    pythonpath: Sequence[str],
    out_dir: Path,
    top: int = 10,
    min_time_s: float = 0.2,
    timeout_s: float = 120,
    side: str = "workload",
) -> Profile:
    """Profile the workload and return its hottest functions.

    ``workload()`` is called (after one unprofiled call) until the profiled calls
    add up to ``min_time_s``; ``setup()`` runs before each call, outside the profile.

    Args:
        sandbox: Where to run.
        python: The target's Python executable.
        workload_file: The workload, relative to the sandbox root or absolute.
        pythonpath: Folders relative to the sandbox root, put on PYTHONPATH.
        out_dir: Where ``profile.pstats`` and ``profile.json`` (calls, seconds) go.
        top: How many hot spots to keep.
        min_time_s: Least total profiled time.
        timeout_s: Limit for the process.
        side: Who is profiled ("baseline", "candidate"), named in errors.

    Returns:
        Hot spots ranked by own time. Shares are fractions of the total time
        spent in ``workload()`` calls; ``total_s`` is that total (over all
        profiled calls, with the profiler's overhead); ``raw_path`` the pstats file.

    Raises:
        WorkloadError: If the workload crashes, times out or exits early.
    """
    raw_path = out_dir / "profile.pstats"
    summary_path = out_dir / "profile.json"
    worker_files(
        sandbox, python, workload_file, pythonpath=pythonpath, mode="profile",
        outputs={"PERFSMITH_PSTATS": raw_path, "PERFSMITH_RESULT": summary_path},
        env={"PERFSMITH_MIN_TIME": repr(min_time_s)}, timeout_s=timeout_s, side=side,
        what="profiling",
    )  # fmt: skip
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    entries = _load(raw_path)
    wl_files = {str(workload_path(sandbox, workload_file)), str(summary.get("workload_file"))}
    roots = [e for e in entries if e.name == "workload" and e.file in wl_files]
    total = roots[0].cum_s if roots else 0.0
    if total <= 0:
        total = sum(e.own_s for e in entries) or float(summary.get("total_s", 0.0)) or 1e-12
    return Profile(
        hotspots=_hotspots(entries, sandbox, total, top),
        total_s=total,
        raw_path=str(raw_path),
    )


def _hotspots(
    entries: list[_Entry], sandbox: Workspace, total: float, top: int
) -> tuple[HotSpot, ...]:
    roots = (sandbox.root, sandbox.root.resolve())
    worker = str(sandbox.private / WORKER_NAME)
    spots: list[HotSpot] = []
    for e in sorted(entries, key=lambda e: (-e.own_s, -e.cum_s, e.file, e.line)):
        if len(spots) >= top:
            break
        # The harness's own frames and the profiler switching itself off are noise.
        if e.file == worker or "_lsprof.Profiler" in e.name:
            continue
        own, cum = e.own_s / total, min(e.cum_s / total, 1.0)
        rel = _relative(e.file, roots)
        if rel is None:
            if own < OUTSIDE_MIN_SHARE:
                continue
            location = "" if e.file == "~" else f"{e.file}:{e.line}"
            spots.append(HotSpot(_builtin_label(e), location, own, cum, e.calls))
            continue
        qualname, source = function_source(sandbox.root / rel, e.line)
        spots.append(HotSpot(qualname or e.name, f"{rel}:{e.line}", own, cum, e.calls, source))
    return tuple(spots)
