"""Run the worker script in a sandbox and collect what it wrote.

The worker (``_worker.py``, with ``_canonical.py`` beside it) is copied into the
sandbox's private folder and started there with the target's Python. Each process gets
a fresh HOME, TMPDIR and XDG_CACHE_HOME of its own, removed when it ends, so nothing a
workload caches on disk in those places reaches the next process. Files the worker
writes land in the private folder and are copied to where the caller wants them; a
crash, a timeout, an early exit or a replaced clock becomes an error naming the side.

Output checks may ask for other inputs than the visible ones. ``seed`` sets
PERFSMITH_SEED (and seeds ``random`` before the import), which the workload may read to
build its inputs. ``variant`` picks ``variants()[i]`` from a workload that defines
``variants()`` (a list of values, e.g. sizes or seeds) and passes it as the only
argument to ``setup(variant)``; without such a ``setup`` a variant is an error. The
summary of a plain check says how many variants there are.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from perfsmith.core import ExecResult, Workspace
from perfsmith.errors import WorkloadError

__all__ = [
    "OutputCheck",
    "TamperError",
    "check_output",
    "check_output_tree",
    "check_wall",
    "early_exit",
    "fresh_dirs",
    "install_worker",
    "run_worker",
    "worker_failure",
    "worker_files",
    "workload_path",
]

Mode = Literal["time", "calibrate", "check", "cold", "profile"]
WORKER_SOURCE = Path(__file__).with_name("_worker.py")
CANONICAL_SOURCE = Path(__file__).with_name("_canonical.py")
WORKER_NAME = "perfsmith_worker.py"
CANONICAL_NAME = "perfsmith_canonical.py"  # the name the worker imports it by
TAMPER_EXIT = 87  # the worker's exit code when a clock was replaced (_worker.TAMPER_EXIT)
# The in-process timed seconds may exceed the parent's wall clock only by clock
# granularity and start-up jitter, never by this much.
WALL_SLACK = 0.05
WALL_SLACK_S = 0.05
_TAIL_CHARS = 2000


class TamperError(WorkloadError):
    """The workload replaced a clock, or reported more timed seconds than it ran.

    Attributes:
        patched: What was replaced (``"time.perf_counter"``, ...); empty when the
            wall-clock cross-check failed instead.
    """

    def __init__(self, message: str, hint: str = "", *, patched: Sequence[str] = ()) -> None:
        super().__init__(message, hint)
        self.patched = tuple(patched)


def output_tail(text: str) -> str:
    """The end of a process's output, at most a couple of thousand characters."""
    text = text.strip()
    return text if len(text) <= _TAIL_CHARS else "..." + text[-_TAIL_CHARS:]


def worker_failure(side: str, what: str, res: ExecResult, timeout_s: float) -> WorkloadError:
    """The error for a worker that crashed or timed out."""
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


def early_exit(side: str, what: str, res: ExecResult) -> WorkloadError:
    """The error for a worker that exited cleanly without writing its results."""
    tail = output_tail(res.stderr) or output_tail(res.stdout) or "(no output)"
    return WorkloadError(
        f"The {side} ended the worker process early (exit code 0, no results written) "
        f"while {what}. Last output:\n{tail}",
        hint="The workload must return normally: no sys.exit(), os._exit() or exit at import.",
    )


def workload_path(sandbox: Workspace, workload_file: str | Path) -> Path:
    """Return the workload file as an absolute path inside the sandbox."""
    path = Path(workload_file)
    return path if path.is_absolute() else sandbox.root / path


def install_worker(sandbox: Workspace) -> Path:
    """Copy the worker and its canonicaliser into the sandbox's private folder.

    Returns:
        The worker script's path.
    """
    for source, name in ((WORKER_SOURCE, WORKER_NAME), (CANONICAL_SOURCE, CANONICAL_NAME)):
        target = sandbox.private / name
        data = source.read_bytes()
        if not target.exists() or target.read_bytes() != data:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    return sandbox.private / WORKER_NAME


@contextlib.contextmanager
def fresh_dirs(sandbox: Workspace) -> Iterator[dict[str, str]]:
    """Create private HOME, TMPDIR and XDG_CACHE_HOME folders for one process.

    Yields:
        The environment variables pointing at them; the folders are removed after.
    """
    folder = sandbox.private / "perfsmith-proc" / uuid.uuid4().hex
    home, tmp, cache = folder / "home", folder / "tmp", folder / "cache"
    for path in (home, tmp, cache):
        path.mkdir(parents=True)
    try:
        yield {
            "HOME": str(home),
            "TMPDIR": str(tmp),
            "TMP": str(tmp),
            "TEMP": str(tmp),
            "XDG_CACHE_HOME": str(cache),
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_worker(
    sandbox: Workspace,
    python: str,
    workload_file: str | Path,
    *,
    pythonpath: Sequence[str],
    mode: Mode,
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
    script = install_worker(sandbox)
    with fresh_dirs(sandbox) as dirs:
        full_env = {
            **dirs,
            "PYTHONPATH": ":".join(str(sandbox.root / p) for p in pythonpath),
            "PERFSMITH_MODE": mode,
            "PERFSMITH_WORKLOAD": str(workload_path(sandbox, workload_file)),
        }
        full_env.update(env or {})
        return sandbox.exec([python, str(script), *args], timeout_s=timeout_s, env=full_env)


def _tamper(side: str, what: str, marker: Path) -> TamperError:
    try:
        found = json.loads(marker.read_text(encoding="utf-8"))
        patched = [str(p) for p in found.get("patched", [])]
        where = str(found.get("where", ""))
    except (OSError, ValueError, AttributeError):
        patched, where = [], ""
    names = ", ".join(patched) or "a clock"
    return TamperError(
        f"The {side} replaced {names} while {what}" + (f" ({where})." if where else "."),
        hint="Leave the time module alone: timing uses clocks captured before the code runs.",
        patched=patched,
    )


def check_wall(side: str, what: str, timed_s: float, res: ExecResult) -> None:
    """Refuse in-process timings that add up to more than the process's own wall time.

    Raises:
        TamperError: ``timed_s`` exceeds the parent-measured duration beyond slack.
    """
    allowed = res.duration_s * (1 + WALL_SLACK) + WALL_SLACK_S
    if timed_s > allowed:
        raise TamperError(
            f"The {side} reported {timed_s:.3f} s of timed calls while {what}, but its "
            f"process ran only {res.duration_s:.3f} s: the in-process clock cannot be trusted.",
            hint="Leave the time module and the worker's results alone.",
        )


def worker_files(
    sandbox: Workspace,
    python: str,
    workload_file: str | Path,
    *,
    pythonpath: Sequence[str],
    mode: Mode,
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
        TamperError: The worker found a clock replaced.
        WorkloadError: The worker crashed, timed out or exited without its files.
    """
    scratch = sandbox.private / "perfsmith-measure"
    scratch.mkdir(parents=True, exist_ok=True)
    temp = {key: scratch / f"{uuid.uuid4().hex}{dest.suffix}" for key, dest in outputs.items()}
    marker = scratch / f"{uuid.uuid4().hex}.tamper"
    full_env = {k: str(v) for k, v in temp.items() if k != "-o"}
    full_env["PERFSMITH_TAMPER"] = str(marker)
    full_env.update(env or {})
    extra = ["-o", str(temp["-o"])] if "-o" in temp else []
    try:
        res = run_worker(
            sandbox, python, workload_file, pythonpath=pythonpath, mode=mode,
            args=[*args, *extra], env=full_env, timeout_s=timeout_s,
        )  # fmt: skip
        if marker.exists():
            raise _tamper(side, what, marker)
        if not res.ok:
            raise worker_failure(side, what, res, timeout_s)
        if not all(t.exists() for t in temp.values()):
            raise early_exit(side, what, res)
        for key, dest in outputs.items():
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(temp[key], dest)
    finally:
        for t in (*temp.values(), marker):
            t.unlink(missing_ok=True)
            t.with_name(t.name + ".tmp").unlink(missing_ok=True)
    return res


@dataclass(frozen=True)
class OutputCheck:
    """What one run of ``setup()`` + ``workload()`` returned.

    Attributes:
        digest: Hex sha256 of the canonical tree; equal values give equal digests.
        tree: The canonical tree (see ``_canonical``), for ``equivalence.compare``;
            None when it was too large to keep (then only the digest compares).
        type_name: The returned value's type.
        variants: How many values the workload's ``variants()`` returns (0: none).
        pickled: Whether the value could be pickled to ``out_path``.
    """

    digest: str
    tree: Any
    type_name: str
    variants: int
    pickled: bool


def check_output_tree(
    sandbox: Workspace,
    python: str,
    workload_file: str | Path,
    *,
    pythonpath: Sequence[str],
    out_path: Path,
    timeout_s: float = 120,
    side: str = "workload",
    seed: int | None = None,
    variant: int | None = None,
) -> OutputCheck:
    """Run ``setup()`` and ``workload()`` once and capture the return value.

    Writes the pickled value to ``out_path`` (empty if unpicklable), its canonical
    tree to ``out_path`` + ``.tree.json`` and a summary to ``out_path`` + ``.json``.

    Args:
        sandbox: Where to run.
        python: The target's Python executable.
        workload_file: The workload, relative to the sandbox root or absolute.
        pythonpath: Folders relative to the sandbox root, put on PYTHONPATH.
        out_path: Where the pickled return value is copied.
        timeout_s: Limit for the process.
        side: Who is checked ("baseline", "candidate"), named in errors.
        seed: Sets PERFSMITH_SEED (and seeds ``random``) for this run; the workload
            may build other inputs from it.
        variant: Runs ``setup(variants()[variant])`` instead of ``setup()``.

    Raises:
        TamperError: The workload replaced a clock.
        WorkloadError: The workload crashed, timed out or exited early.
    """
    summary = out_path.with_name(out_path.name + ".json")
    tree_path = out_path.with_name(out_path.name + ".tree.json")
    # A fixed hash seed keeps set iteration order (and so the value) stable
    # between processes running the same code.
    env = {"PYTHONHASHSEED": "0"}
    if seed is not None:
        env["PERFSMITH_SEED"] = str(seed)
    if variant is not None:
        env["PERFSMITH_VARIANT"] = str(variant)
    label = "checking its output" + (f" (seed {seed})" if seed is not None else "")
    label += f" (variant {variant})" if variant is not None else ""
    worker_files(
        sandbox, python, workload_file, pythonpath=pythonpath, mode="check",
        outputs={"PERFSMITH_PICKLE": out_path, "PERFSMITH_RESULT": summary,
                 "PERFSMITH_TREE": tree_path},
        env=env, timeout_s=timeout_s, side=side, what=label,
    )  # fmt: skip
    info = json.loads(summary.read_text(encoding="utf-8"))
    return OutputCheck(
        digest=str(info["sha256"]),
        tree=json.loads(tree_path.read_text(encoding="utf-8")),
        type_name=str(info.get("type", "")),
        variants=int(info.get("variants", 0)),
        pickled=bool(info.get("pickled", False)),
    )


def check_output(
    sandbox: Workspace,
    python: str,
    workload_file: str | Path,
    *,
    pythonpath: Sequence[str],
    out_path: Path,
    timeout_s: float = 120,
    side: str = "workload",
    seed: int | None = None,
    variant: int | None = None,
) -> str:
    """Run ``setup()`` and ``workload()`` once and fingerprint the return value.

    As ``check_output_tree``, returning only the digest: the hex sha256 of a
    canonical form that ignores dict/set order and object addresses but keeps types
    apart, so equal values from baseline and candidate give equal digests. A
    workload returning nothing gives the digest of ``None``.

    Raises:
        TamperError: The workload replaced a clock.
        WorkloadError: The workload crashed, timed out or exited early.
    """
    return check_output_tree(
        sandbox, python, workload_file, pythonpath=pythonpath, out_path=out_path,
        timeout_s=timeout_s, side=side, seed=seed, variant=variant,
    ).digest  # fmt: skip
