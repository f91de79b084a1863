"""Run folders and trajectories: versioned, written atomically after every step.

Layout (DESIGN.md section 9)::

    runs/<run_id>/
      run.json          format, versions, times, fingerprint, exit status
      config.yaml       the resolved configuration (re-runnable as is)
      trajectory.json   {"format": "perfsmith.trajectory/1", task, info, steps: [...]}
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

FORMAT = "perfsmith.trajectory/1"
RUN_FORMAT = "perfsmith.run/1"


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


def load_trajectory(run_dir: Path) -> dict[str, Any]:
    """Read ``trajectory.json``, upgrading older formats to the current one."""
    data = json.loads((run_dir / "trajectory.json").read_text(encoding="utf-8"))
    fmt = data.get("format")
    if fmt != FORMAT:
        raise ValueError(f"{run_dir}/trajectory.json has unknown format {fmt!r}")
    return dict(data)
