"""Ctrl-C (and SIGTERM) that cannot be lost.

Python raises KeyboardInterrupt wherever the main thread happens to be. If that is a
callback whose exceptions are ignored (logging's after-fork hook runs in the parent after
every subprocess fork), the interrupt is printed as "Exception ignored" and the program
goes on as if nothing happened. So the handler also records the request, and
``check()``, called before and after every sandbox command, raises it again.
"""

from __future__ import annotations

import signal
import threading

_requested = threading.Event()


def _handler(signum: int, frame: object) -> None:
    _requested.set()
    raise KeyboardInterrupt


def install() -> None:
    """Route SIGINT and SIGTERM through the recording handler (main thread only)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _handler)


def check() -> None:
    """Raise KeyboardInterrupt if an interrupt arrived and may have been swallowed."""
    if _requested.is_set():
        raise KeyboardInterrupt


def requested() -> bool:
    """Whether an interrupt has arrived in this process."""
    return _requested.is_set()
