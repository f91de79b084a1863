"""The host's end of the command runner inside a Docker sandbox container (``_runner.py``).

The runner is one ``docker exec`` per container; requests go to its stdin and replies
come back on its stdout, framed by the engine's stream multiplexing (an 8-byte header:
stream id, three zero bytes, big-endian payload size). No docker import here: this
module only speaks over the exec's socket.
"""

from __future__ import annotations

import base64
import contextlib
import json
import queue
import socket
import threading
from pathlib import Path
from typing import Any

RUNNER_SOURCE = Path(__file__).with_name("_runner.py")
RUNNER_NAME = "perfsmith-runner.py"
_STDOUT, _STDERR = 1, 2
_STDERR_CAP = 20_000


def install_runner(private: Path) -> Path:
    """Copy the runner script into a sandbox's private folder; return its path."""
    target = private / RUNNER_NAME
    data = RUNNER_SOURCE.read_bytes()
    if not target.exists() or target.read_bytes() != data:
        target.write_bytes(data)
    return target


def decode_output(b64: str, dropped: int) -> str:
    """A stream's tail as text, saying how many bytes were cut from its start."""
    head = f"[... {dropped} bytes dropped ...]\n" if dropped else ""
    return head + base64.b64decode(b64).decode("utf-8", "replace")


class Channel:
    """Requests to one runner and its replies, in order (one command at a time)."""

    def __init__(self, sock: socket.socket) -> None:
        sock.settimeout(None)  # the engine client's timeout must not cut a long command
        self._sock = sock
        self._replies: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._stderr = bytearray()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def request(self, req: dict[str, Any], timeout_s: float) -> dict[str, Any] | None:
        """Send one request and wait for its reply.

        Returns:
            The reply, or None when the runner is gone (killed, or its container removed).

        Raises:
            TimeoutError: no reply within ``timeout_s`` (the command still runs).
        """
        try:
            self._sock.sendall((json.dumps(req) + "\n").encode())
        except OSError:
            return None
        try:
            return self._replies.get(timeout=max(timeout_s, 0.0))
        except queue.Empty:
            raise TimeoutError from None

    @property
    def stderr(self) -> str:
        """What the runner itself printed to stderr (a traceback if it crashed)."""
        return bytes(self._stderr).decode("utf-8", "replace")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self._sock.close()

    def _read(self) -> None:
        buf = bytearray()
        try:
            while header := _read_exactly(self._sock, 8):
                payload = _read_exactly(self._sock, int.from_bytes(header[4:8], "big"))
                if payload is None:
                    break
                if header[0] == _STDERR:
                    self._stderr += payload
                    del self._stderr[:-_STDERR_CAP]
                    continue
                buf += payload
                while (cut := buf.find(b"\n")) >= 0:
                    line, buf = bytes(buf[:cut]), buf[cut + 1 :]
                    self._replies.put(json.loads(line))
        except (OSError, ValueError):
            pass
        finally:
            self._replies.put(None)


def _read_exactly(sock: socket.socket, n: int) -> bytes | None:
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)
