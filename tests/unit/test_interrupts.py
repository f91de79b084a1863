"""A Ctrl-C swallowed by a callback that ignores exceptions is raised again at the next
sandbox command (each case runs in its own process: the request is process-wide)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SWALLOWED = """
import os, signal, sys
from pathlib import Path
from perfsmith import interrupts
from perfsmith.sandbox.local import LocalSandbox

interrupts.install()
box = LocalSandbox.create(Path(sys.argv[1]), Path(sys.argv[2]), "base")
try:
    os.kill(os.getpid(), signal.SIGINT)  # lands where the exception is thrown away
except KeyboardInterrupt:
    pass
print("swallowed", flush=True)
try:
    box.exec(["true"], timeout_s=30)
except KeyboardInterrupt:
    print("raised again")
"""


def test_a_swallowed_interrupt_is_raised_at_the_next_command(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "a.py").write_text("x = 1\n")
    out = subprocess.run(
        [sys.executable, "-c", SWALLOWED, str(repo), str(tmp_path / "work")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert out.stdout.split("\n")[:2] == ["swallowed", "raised again"], out.stderr


def test_without_an_interrupt_commands_run() -> None:
    code = "from perfsmith import interrupts; interrupts.install(); interrupts.check(); print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"
