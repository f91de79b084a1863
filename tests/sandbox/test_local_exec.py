"""LocalSandbox.exec: environment, limits, timeouts, Ctrl-C and process-group cleanup."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from perfsmith.errors import SandboxError
from perfsmith.sandbox import local
from perfsmith.sandbox.local import Limits, LocalSandbox

PY = sys.executable
# The child starts a grandchild, writes both pids to pids.txt, then sleeps.
SPAWNER = """
import os, signal, subprocess, sys, time
if os.environ.get("IGNORE_TERM"):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # inherited by the grandchild
g = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
open("pids.txt.tmp", "w").write(f"{__import__('os').getpid()} {g.pid}")
__import__('os').replace("pids.txt.tmp", "pids.txt")
time.sleep(float(sys.argv[1]))
"""


def make_box(tmp_path: Path, limits: Limits | None = None) -> LocalSandbox:
    repo = tmp_path / "repo"
    repo.mkdir(exist_ok=True)
    (repo / "spawner.py").write_text(SPAWNER)
    (repo / "sub").mkdir(exist_ok=True)
    (repo / "sub" / "here.txt").write_text("x")
    return LocalSandbox.create(repo, tmp_path / "ws", limits=limits)


@pytest.fixture
def box(tmp_path: Path) -> Iterator[LocalSandbox]:
    sandbox = make_box(tmp_path)
    yield sandbox
    sandbox.close()


def alive(pid: int) -> bool:
    """True while pid runs (a zombie waiting for a reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_gone(pids: list[int], timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while any(alive(p) for p in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def read_pids(box: LocalSandbox, timeout_s: float = 15.0) -> list[int]:
    path = box.root / "pids.txt"
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError("the child never wrote its pids")
        time.sleep(0.01)
    return [int(p) for p in path.read_text().split()]


def test_exec_captures_output_and_returncode(box: LocalSandbox) -> None:
    code = "import os, sys; print(os.getcwd()); print('oops', file=sys.stderr); sys.exit(3)"
    res = box.exec([PY, "-c", code], timeout_s=30)
    assert res.returncode == 3
    assert not res.ok and not res.timed_out
    assert res.stdout.strip() == str(box.root)
    assert res.stderr.strip() == "oops"
    assert res.argv == (PY, "-c", code)
    sub = box.exec([PY, "-c", "import os; print(os.listdir())"], timeout_s=30, cwd="sub")
    assert sub.ok and "here.txt" in sub.stdout


def test_exec_environment_is_minimal(box: LocalSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERFSMITH_TEST_SECRET", "hunter2")
    code = "import json, os; print(json.dumps(dict(os.environ)))"
    env = __import__("json").loads(box.exec([PY, "-c", code], timeout_s=30).stdout)
    assert "PERFSMITH_TEST_SECRET" not in env
    assert env["PYTHONHASHSEED"] == "0"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["LANG"] == "C.UTF-8"
    for key in ("HOME", "TMPDIR"):
        assert Path(env[key]).is_relative_to(box.private)
        assert not Path(env[key]).is_relative_to(box.root)
    given = box.exec(
        [PY, "-c", code], timeout_s=30, env={"PERFSMITH_TEST_SECRET": "ok", "PYTHONHASHSEED": "7"}
    )
    env2 = __import__("json").loads(given.stdout)
    assert env2["PERFSMITH_TEST_SECRET"] == "ok"
    assert env2["PYTHONHASHSEED"] == "7"


@pytest.mark.parametrize("ignore_term", ["", "1"])
def test_timeout_kills_the_whole_process_group(box: LocalSandbox, ignore_term: str) -> None:
    res = box.exec([PY, "spawner.py", "60"], timeout_s=2, env={"IGNORE_TERM": ignore_term})
    assert res.timed_out and not res.ok
    assert res.returncode < 0
    assert wait_gone(read_pids(box))


def test_background_processes_die_when_the_command_ends(box: LocalSandbox) -> None:
    res = box.exec([PY, "spawner.py", "0"], timeout_s=30)
    assert res.ok, res.stderr
    assert wait_gone(read_pids(box))


def test_keyboard_interrupt_kills_the_child_and_reraises(box: LocalSandbox) -> None:
    main_pid = os.getpid()
    found: list[int] = []

    def interrupt() -> None:
        found.extend(read_pids(box))
        os.kill(main_pid, signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        box.exec([PY, "spawner.py", "60"], timeout_s=40)
    assert time.monotonic() - started < 30
    assert wait_gone(found)
    assert not LocalSandbox._live


def test_kill_all_stops_running_commands(box: LocalSandbox) -> None:
    results = []
    worker = threading.Thread(
        target=lambda: results.append(box.exec([PY, "spawner.py", "60"], timeout_s=40))
    )
    worker.start()
    pids = read_pids(box)
    assert LocalSandbox.kill_all() >= 1
    worker.join(30)
    assert results and results[0].returncode == -signal.SIGKILL
    assert not results[0].timed_out
    assert wait_gone(pids)


def test_file_size_limit(tmp_path: Path) -> None:
    box = make_box(tmp_path, Limits(file_bytes=1024 * 1024))
    code = (
        "import errno\n"
        "try:\n"
        "    open('big.bin', 'wb').write(b'x' * (2 * 1024 * 1024))\n"
        "except OSError as e:\n"
        "    print(errno.errorcode[e.errno])\n"
    )
    res = box.exec([PY, "-c", code], timeout_s=30)
    assert res.stdout.strip() == "EFBIG"
    assert (box.root / "big.bin").stat().st_size <= 1024 * 1024


def test_memory_limit(tmp_path: Path) -> None:
    box = make_box(tmp_path, Limits(memory_bytes=512 * 1024 * 1024))
    code = (
        "try:\n    b = bytearray(1024 ** 3)\n    print('allocated')\n"
        "except MemoryError:\n    print('MemoryError')\n"
    )
    assert box.exec([PY, "-c", code], timeout_s=30).stdout.strip() == "MemoryError"


def test_output_keeps_the_tail(box: LocalSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local, "OUTPUT_CAP", 1000)
    code = "import sys; sys.stdout.write('a' * 200000 + 'THE END')"
    res = box.exec([PY, "-c", code], timeout_s=30)
    assert res.stdout.endswith("THE END")
    assert "bytes dropped" in res.stdout
    assert len(res.stdout) < 1100


def test_bad_commands_raise(box: LocalSandbox) -> None:
    with pytest.raises(SandboxError):
        box.exec([], timeout_s=5)
    with pytest.raises(SandboxError) as err:
        box.exec(["/definitely/not/a/program"], timeout_s=5)
    assert err.value.hint
    with pytest.raises(SandboxError):
        box.exec([PY, "-c", "pass"], timeout_s=5, cwd="../..")
