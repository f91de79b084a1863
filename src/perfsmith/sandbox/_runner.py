"""Runs commands inside a Docker sandbox container, one fresh process each (stdlib only).

Started once per container (one ``docker exec``), it reads one JSON request per line on
stdin - ``{"argv": [...], "env": {...}, "cwd": "..."}`` - starts the command in its own
session, waits for it, kills its whole group and then every other process of this uid
(``kill(-1)`` spares the caller), and answers with one JSON line on stdout:
``{"rc": int, "out": b64, "err": b64, "dropped": [int, int]}`` or
``{"error": "not_found" | "cannot_start", "detail": str}``.

A ``docker exec`` costs ~50 ms on the engine side; starting a process here costs what it
costs on the host. Timeouts are the host's business: it removes the container.
This file is copied into the sandbox's private folder and run by path: no imports from
perfsmith.
"""

import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from typing import IO, Any

CAP = int(os.environ.get("PERFSMITH_OUTPUT_CAP", "1000000"))


class Tail(threading.Thread):
    """Drain a pipe, keeping the last ``CAP`` bytes and counting the rest."""

    def __init__(self, pipe: IO[bytes]) -> None:
        super().__init__(daemon=True)
        self.pipe, self.buf, self.dropped = pipe, bytearray(), 0
        self.start()

    def run(self) -> None:
        fd = self.pipe.fileno()
        try:
            while chunk := os.read(fd, 65536):
                self.buf += chunk
                if len(self.buf) > 2 * CAP:
                    cut = len(self.buf) - CAP
                    self.dropped += cut
                    del self.buf[:cut]
        except OSError:
            pass
        finally:
            self.pipe.close()

    def result(self) -> tuple[str, int]:
        data, dropped = bytes(self.buf), self.dropped
        if len(data) > CAP:
            dropped += len(data) - CAP
            data = data[-CAP:]
        return base64.b64encode(data).decode("ascii"), dropped


def run(request: dict[str, Any]) -> dict[str, Any]:
    try:
        proc = subprocess.Popen(
            request["argv"], env=request["env"], cwd=request["cwd"], stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        )  # fmt: skip
    except FileNotFoundError as exc:
        return {"error": "not_found", "detail": str(exc)}
    except OSError as exc:
        return {"error": "cannot_start", "detail": str(exc)}
    assert proc.stdout is not None and proc.stderr is not None
    readers = (Tail(proc.stdout), Tail(proc.stderr))
    rc = proc.wait()
    for sig_target in (-proc.pid, -1):  # the command's group, then any straggler of this uid
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(sig_target, signal.SIGKILL)
    for r in readers:
        r.join(2.0)
    (out, d_out), (err, d_err) = (r.result() for r in readers)
    return {"rc": rc, "out": out, "err": err, "dropped": [d_out, d_err]}


def main() -> None:
    # kill(-1) after each command must only ever reach the sandbox's own processes.
    if os.getuid() == 0 or os.environ.get("PERFSMITH_RUNNER") != "1":
        sys.exit("perfsmith's command runner runs only inside a sandbox container, never as root")
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    for line in sys.stdin:
        if not line.strip():
            continue
        reply = run(json.loads(line))
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
        with contextlib.suppress(ChildProcessError):  # reap zombies the kill left under us
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass


if __name__ == "__main__":
    main()
