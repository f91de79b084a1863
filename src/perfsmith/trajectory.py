"""Run folders and trajectories: versioned, written atomically after every step.

Layout (DESIGN.md section 9)::

    runs/<run_id>/
      run.json          format, versions, times, fingerprint, exit status
      config.yaml       the resolved configuration (re-runnable as is)
      trajectory.json   {"format": "perfsmith.trajectory/2", task, info, steps: [...]}
      steps/NNN/        patch.diff, prompt.md, reply.md, tests.xml, timing json, profile.txt
      best.patch, report.md
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

FORMAT = "perfsmith.trajectory/2"
RUN_FORMAT = "perfsmith.run/1"
FORMAT_PREFIX = "perfsmith.trajectory/"


def atomic_write(path: Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old or the new file, never half.

    Writes a temporary file in the same folder, fsyncs it, then ``os.replace``s it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, obj: Any) -> None:
    atomic_write(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def utc_now() -> str:
    """The current time as ISO 8601 UTC, to the second: ``2026-11-27T10:15:00Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def new_run_id(now: float | None = None) -> str:
    """A sortable, unique run id such as ``20261127-101500-3fa2``."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now if now is not None else time.time()))
    return f"{stamp}-{secrets.token_hex(2)}"


def step_dir(run_dir: Path, index: int) -> Path:
    path = run_dir / "steps" / f"{index:03d}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_trajectory(
    run_dir: Path, *, task: Mapping[str, Any], info: Mapping[str, Any], steps: list[Any]
) -> None:
    """Write ``trajectory.json`` atomically."""
    write_json(
        run_dir / "trajectory.json",
        {"format": FORMAT, "task": dict(task), "info": dict(info), "steps": steps},
    )


def format_version(data: Mapping[str, Any]) -> int:
    """The version number of a trajectory document (``perfsmith.trajectory/N`` -> N).

    Raises:
        ValueError: ``format`` is missing or not a perfsmith trajectory format.
    """
    fmt = data.get("format")
    if isinstance(fmt, str) and fmt.startswith(FORMAT_PREFIX):
        tail = fmt[len(FORMAT_PREFIX) :]
        if tail.isdigit() and int(tail) >= 1:
            return int(tail)
    raise ValueError(f"unknown trajectory format {fmt!r}")


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Format 2 adds, per step, ``usage`` (each agent's tokens, cost and latency) and
    ``started`` (when the Coder was asked). Format 1 kept only the step's totals, so the
    split is unknown (None) and so is the start time."""
    steps = []
    for step in data.get("steps") or []:
        step = dict(step)
        step.setdefault("usage", {"coder": None, "judge": None})
        step.setdefault("started", None)
        steps.append(step)
    return {**data, "format": f"{FORMAT_PREFIX}2", "steps": steps}


UPGRADES = {1: _v1_to_v2}  # version N -> a function returning version N + 1
CURRENT = format_version({"format": FORMAT})


def upgrade(data: Mapping[str, Any]) -> dict[str, Any]:
    """Bring a trajectory document of any known format up to the current one.

    Raises:
        ValueError: the format is unknown, or newer than this perfsmith understands.
    """
    version = format_version(data)
    if version > CURRENT:
        raise ValueError(
            f"trajectory format {data.get('format')!r} is newer than this perfsmith reads "
            f"({FORMAT!r}); upgrade perfsmith"
        )
    doc = dict(data)
    while version < CURRENT:
        doc = UPGRADES[version](doc)
        version += 1
    return doc


def load_trajectory(run_dir: Path) -> dict[str, Any]:
    """Read ``trajectory.json``, upgrading older formats to the current one.

    Raises:
        OSError: the file cannot be read.
        ValueError: it is not JSON, or its format is unknown.
    """
    try:
        data = json.loads((run_dir / "trajectory.json").read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{run_dir}/trajectory.json is not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{run_dir}/trajectory.json is not a JSON object")
    try:
        return upgrade(data)
    except ValueError as exc:
        raise ValueError(f"{run_dir}/trajectory.json: {exc}") from exc
