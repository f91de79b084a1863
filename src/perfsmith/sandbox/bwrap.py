"""The bubblewrap profile of the local sandbox (``isolation="bwrap"``).

Each command runs under bubblewrap (5-25 ms more per command start): the whole file
system read-only, a fresh /dev, /proc and an empty /tmp, the workspace and its private
folder writable, the interpreter's folders (``PythonEnv.paths``) shown again when they lie
under /tmp, no network but a loopback of its own, new pid, ipc, uts and cgroup namespaces
(a user namespace where the kernel allows), no capabilities. Caveats: the user's files
outside /tmp stay readable, /sys is the host's (read-only), and root stays root (uid 0 of
a read-only view, without capabilities), so this keeps honest mistakes and simple tricks
out of the user's files and off the network; it is not a container.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

from perfsmith.sandbox.pyenv import PythonEnv

# Read-only root, private /dev, /proc and /tmp, every namespace, no capabilities.
BWRAP_BASE = (
    "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
    "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
)  # fmt: skip


@functools.lru_cache(maxsize=1)
def bwrap_available() -> bool:
    """Whether bubblewrap is on PATH and can build this module's sandbox (checked once)."""
    path = shutil.which("bwrap")
    if path is None:
        return False
    try:
        res = subprocess.run(
            [path, *BWRAP_BASE, "true"], stdin=subprocess.DEVNULL,
            capture_output=True, timeout=30, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return False
    return res.returncode == 0


def bwrap_argv(
    args: tuple[str, ...],
    *,
    root: Path,
    private: Path,
    workdir: Path,
    python_env: PythonEnv | None,
) -> tuple[str, ...]:
    """The argv that runs ``args`` in ``workdir`` under bubblewrap.

    Args:
        args: the command.
        root: the workspace (bound writable).
        private: the workspace's private folder (bound writable).
        workdir: the folder the command starts in.
        python_env: the interpreter whose folders under /tmp are bound again read-only.
    """
    binds = [("--ro-bind", p) for p in _under_tmp(python_env)]
    binds += [("--bind", str(root.absolute())), ("--bind", str(private.absolute()))]
    # Outer folders first, so a later bind is never hidden by one above it.
    binds.sort(key=lambda b: len(Path(b[1]).parts))
    mounts = [arg for flag, path in binds for arg in (flag, path, path)]
    chdir = str(workdir.absolute())
    return (_bwrap_path(), *BWRAP_BASE, *mounts, "--chdir", chdir, "--", *args)


def runnable(program: str, workdir: Path, path: str) -> bool:
    """Whether ``program`` (relative to ``workdir`` or looked up on ``path``) can be run.

    bwrap itself starts fine and only then fails on a missing program, so the caller
    checks first to report it as it would be reported without bwrap.
    """
    if "/" in program:
        full = workdir / program
        return full.is_file() and os.access(full, os.X_OK)
    return shutil.which(program, path=path) is not None


@functools.lru_cache(maxsize=1)
def _bwrap_path() -> str:
    return shutil.which("bwrap") or "bwrap"


def _under_tmp(python_env: PythonEnv | None) -> list[str]:
    """The interpreter's folders that the tmpfs on /tmp would hide."""
    if python_env is None:
        return []
    return [p for p in python_env.paths if Path(p).is_relative_to("/tmp")]
