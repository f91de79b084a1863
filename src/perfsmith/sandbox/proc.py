"""Low-level process helpers for the sandboxes: rlimits, process groups, output tails.

A sandbox command runs as the leader of its own process group. The helpers here let the
caller wait for it without reaping it (so the group id stays ours until every member is
killed), signal the whole group, and drain its pipes in threads while keeping only the
tail of what they print.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

OUTPUT_CAP = 1_000_000  # bytes kept per stream (the tail)
KILL_GRACE_S = 1.0
READER_JOIN_S = 2.0


def limiter(rlimits: Sequence[tuple[int, int | None]]) -> Callable[[], None]:
    """A ``preexec_fn`` that sets each (``resource.RLIMIT_*``, value) pair in the child.

    A value of None leaves that limit as it is; a value above the hard limit is lowered to
    it; a limit that cannot be set is skipped, so it never stops the command.
    """
    pairs = list(rlimits)

    def apply() -> None:  # runs in the child between fork and exec: keep it tiny
        for res, value in pairs:
            if value is None:
                continue
            _, hard = resource.getrlimit(res)
            v = value if hard == resource.RLIM_INFINITY else min(value, hard)
            # A limit we cannot set must not stop the command.
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(res, (v, v))

    return apply


def wait_no_reap(pid: int, timeout_s: float) -> bool:
    """Wait for ``pid`` to exit without reaping it (so its pgid stays ours); True if it did."""
    deadline = time.monotonic() + max(timeout_s, 0.0)
    delay = 0.0005
    while True:
        try:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return True
        except ChildProcessError:
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.05)


def signal_group(pgid: int, sig: int) -> None:
    """Send ``sig`` to process group ``pgid``; a group that is gone or not ours is ignored."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def remove_tree(path: Path) -> None:
    """Delete ``path`` and everything below it, opening up read-only folders if need be."""
    shutil.rmtree(path, ignore_errors=True)
    if not path.exists():
        return
    # A command may leave read-only folders behind (matters when not root): open them up.
    for dirpath, dirnames, _ in os.walk(path):
        for d in dirnames:
            with contextlib.suppress(OSError):
                os.chmod(os.path.join(dirpath, d), 0o700)
    with contextlib.suppress(OSError):
        os.chmod(path, 0o700)
    shutil.rmtree(path, ignore_errors=True)


class TailReader:
    """Drain a pipe in a thread, keeping only the last ``cap`` bytes; closes it at EOF."""

    def __init__(self, pipe: IO[bytes], cap: int = OUTPUT_CAP) -> None:
        self._pipe = pipe
        self._cap = cap
        self._buf = bytearray()
        self._dropped = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        fd = self._pipe.fileno()
        try:
            while chunk := os.read(fd, 65536):
                self._buf += chunk
                if len(self._buf) > 2 * self._cap:
                    cut = len(self._buf) - self._cap
                    self._dropped += cut
                    del self._buf[:cut]
        except OSError:
            pass
        finally:
            self._pipe.close()

    def join(self, timeout: float) -> None:
        """Wait at most ``timeout`` seconds for the pipe to reach EOF."""
        self._thread.join(timeout)

    def text(self) -> str:
        """The kept tail as text, headed by a note of how many bytes were dropped."""
        data = bytes(self._buf)
        dropped = self._dropped
        if len(data) > self._cap:
            dropped += len(data) - self._cap
            data = data[-self._cap :]
        head = f"[... {dropped} bytes dropped ...]\n" if dropped else ""
        return head + data.decode("utf-8", "replace")
