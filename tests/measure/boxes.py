"""A minimal workspace for the measurement tests: a folder, a private folder beside it,
and subprocesses run in it. It records which box ran each command, so tests can check
the interleaving order."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from perfsmith.core import ExecResult


@dataclass
class Box:
    """Just enough sandbox: a folder, a private folder and subprocesses run in it."""

    root: Path
    private: Path
    name: str = ""
    log: list[str] = field(default_factory=list)  # names of the boxes that ran, in order

    def exec(
        self, argv: Sequence[str], *, timeout_s: float, env: Mapping[str, str] | None = None
    ) -> ExecResult:
        self.log.append(self.name)
        full_env = {"PATH": os.environ.get("PATH", ""), **(env or {})}
        start = time.monotonic()
        proc = subprocess.Popen(
            list(argv), cwd=self.root, env=full_env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip
        try:
            out, err = proc.communicate(timeout=timeout_s)
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            timed_out = True
        return ExecResult(
            tuple(argv), proc.returncode, out, err, time.monotonic() - start, timed_out
        )
