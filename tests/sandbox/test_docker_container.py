"""Inside a real sandbox container: what the hardened profile allows and what it stops."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sandbox.docker_helpers import GiB, client_or_skip, image_tag, small_repo

pytestmark = pytest.mark.docker

PY = sys.executable


@pytest.fixture(scope="module")
def client():  # type: ignore[no-untyped-def]
    return client_or_skip()


@pytest.fixture(scope="module")
def tag(client, tmp_path_factory: pytest.TempPathFactory) -> str:  # type: ignore[no-untyped-def]
    return image_tag(client, tmp_path_factory.mktemp("image"))


@pytest.fixture
def box(client, tag: str, tmp_path: Path) -> Iterator[object]:  # type: ignore[no-untyped-def]
    from perfsmith.sandbox import docker as dock
    from perfsmith.sandbox.pyenv import inspect_python

    env = inspect_python(PY, exclude=(tmp_path,))
    settings = dock.DockerSettings(
        image=tag, python_paths=env.paths, memory_bytes=1 * GiB, pids=128, tmpfs_bytes=64 << 20
    )
    parent = tmp_path / "work"
    b = dock.open_docker(small_repo(tmp_path), parent, "base", settings, client, env)
    yield b
    b.close()


def py(box, code: str, timeout_s: float = 60):  # type: ignore[no-untyped-def]
    return box.exec([PY, "-c", code], timeout_s=timeout_s)


def test_only_loopback_and_no_dns(box) -> None:  # type: ignore[no-untyped-def]
    res = py(box, "import os; print(sorted(os.listdir('/sys/class/net')))")
    assert res.ok, res.stderr
    assert res.stdout.strip() == "['lo']"
    dns = py(box, "import socket; socket.getaddrinfo('example.com', 80)")
    assert dns.returncode != 0 and "gaierror" in dns.stderr
    tcp = py(box, "import socket; socket.create_connection(('10.255.255.1', 80), timeout=3)")
    assert tcp.returncode != 0 and ("OSError" in tcp.stderr or "unreachable" in tcp.stderr)


def test_read_only_system_writable_workspace(box) -> None:  # type: ignore[no-untyped-def]
    res = box.exec(["touch", "/usr/x"], timeout_s=30)
    assert res.returncode != 0 and "Read-only file system" in res.stderr
    assert box.exec(["touch", "made-inside.txt"], timeout_s=30).ok
    assert (box.root / "made-inside.txt").exists()
    git = box.exec(["touch", ".git/evil"], timeout_s=30)
    assert git.returncode != 0  # the workspace's git is the referee's: read-only inside


def test_unprivileged_user_no_capabilities_no_new_privileges(box) -> None:  # type: ignore[no-untyped-def]
    uid = box.exec(["id", "-u"], timeout_s=30)
    assert uid.ok and int(uid.stdout) != 0
    status = box.exec(["cat", "/proc/self/status"], timeout_s=30).stdout
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    assert int(fields["CapEff"].strip(), 16) == 0
    assert fields["NoNewPrivs"].strip() == "1"


def test_python_environment_and_pytest_run_inside(box) -> None:  # type: ignore[no-untyped-def]
    res = py(box, "import pyperf, pytest, ssl, sqlite3; import mod; print(mod.f())")
    assert res.ok, res.stderr
    assert res.stdout.strip() == "1"


def test_fork_bomb_stops_at_the_pids_limit_and_the_host_stays_responsive(box, client) -> None:  # type: ignore[no-untyped-def]
    counted = py(
        box,
        "import os, time\n"
        "n = 0\n"
        "try:\n"
        "    while True:\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(30); os._exit(0)\n"
        "        n += 1\n"
        "except BlockingIOError:\n"
        "    print(n)\n",
    )
    assert counted.ok, counted.stderr
    assert 0 < int(counted.stdout) < 128  # stopped by the pids limit, not by us
    # A real shell fork bomb, while the host keeps starting processes.
    slowest = []

    def probe() -> None:
        for _ in range(5):
            t = time.monotonic()
            subprocess.run(["true"], check=True, timeout=30)
            slowest.append(time.monotonic() - t)
            time.sleep(0.5)

    t = threading.Thread(target=probe)
    t.start()
    old = box.container_id
    bomb = box.exec(["sh", "-c", "f() { f | f & }; f; sleep 60"], timeout_s=4)
    t.join()
    # The bomb either dies of "Cannot fork" at the limit or runs into its timeout (and the
    # container goes with it); either way nothing of it is left.
    assert bomb.timed_out or "Cannot fork" in bomb.stderr, bomb
    assert len(slowest) == 5  # every host process started and finished
    if bomb.timed_out:
        assert _gone(client, old)
    assert _processes_of_command_user(box) == 2  # the wrapper shell and the counting python


def test_huge_allocation_is_oom_killed_inside(box) -> None:  # type: ignore[no-untyped-def]
    res = py(
        box,
        "chunks = []\nfor _ in range(80):\n    chunks.append(b'x' * (256 << 20))  # 20 GB in all\n",
        timeout_s=120,
    )
    assert not res.timed_out
    assert res.returncode == -9  # SIGKILL from the container's OOM killer
    assert box.exec(["true"], timeout_s=30).ok


def test_infinite_loop_is_killed_at_its_timeout_and_the_container_is_gone(box, client) -> None:  # type: ignore[no-untyped-def]
    assert box.exec(["true"], timeout_s=30).ok
    old = box.container_id
    started = time.monotonic()
    res = py(box, "while True: pass", timeout_s=2)
    assert res.timed_out and res.returncode == -9
    assert time.monotonic() - started < 30
    assert _gone(client, old)
    again = py(box, "print('fresh')")
    assert again.ok and again.stdout.strip() == "fresh" and box.container_id != old


def test_stragglers_do_not_outlive_their_command(box) -> None:  # type: ignore[no-untyped-def]
    assert box.exec(["sh", "-c", "sleep 300 & echo started"], timeout_s=30).ok
    assert _processes_of_command_user(box) == 2  # the wrapper shell and the counting python


def _processes_of_command_user(box) -> int:  # type: ignore[no-untyped-def]
    ps = py(
        box,
        "import os\n"
        "me = os.getuid()\n"
        "print(sum(1 for p in os.listdir('/proc') if p.isdigit() and "
        "os.stat('/proc/' + p).st_uid == me))",
    )
    assert ps.ok, ps.stderr
    return int(ps.stdout)


def test_exit_codes_output_and_missing_programs(box) -> None:  # type: ignore[no-untyped-def]
    from perfsmith.errors import SandboxError

    res = box.exec(["sh", "-c", "echo out; echo err >&2; exit 3"], timeout_s=30)
    assert (res.returncode, res.stdout, res.stderr) == (3, "out\n", "err\n")
    with pytest.raises(SandboxError, match="not found"):
        box.exec(["no-such-program-here"], timeout_s=30)


def test_clone_runs_in_its_own_container_and_close_removes_it(box, client) -> None:  # type: ignore[no-untyped-def]
    cand = box.clone("cand-001")
    try:
        assert cand.exec(["touch", "only-here"], timeout_s=30).ok
        assert not (box.root / "only-here").exists()
        ls = box.exec(["ls", str(cand.root)], timeout_s=30)
        assert ls.returncode != 0  # a candidate's workspace is not mounted in the base's
        cid = cand.container_id
        assert cid and cid != box.container_id
    finally:
        cand.close()
    assert _gone(client, cid)


def test_real_container_config_is_hardened(box, client) -> None:  # type: ignore[no-untyped-def]
    assert box.exec(["true"], timeout_s=30).ok
    attrs = client.containers.get(box.container_id).attrs
    host = attrs["HostConfig"]
    assert host["Privileged"] is False
    assert not host.get("CapAdd")
    assert host["CapDrop"] == ["ALL"]
    assert host["ReadonlyRootfs"] is True
    assert host["NetworkMode"] == "none"
    assert "no-new-privileges:true" in host["SecurityOpt"]
    assert host["PidsLimit"] == 128 and host["Memory"] == 1 * GiB
    assert host["CpusetCpus"]
    sources = [m.get("Source", "") for m in host.get("Mounts") or []] + (host.get("Binds") or [])
    assert not any("docker.sock" in s for s in sources)
    assert attrs["Config"]["Labels"]["perfsmith.sandbox"] == "1"
    assert attrs["Config"]["User"] != "0"


def _gone(client, cid: str | None) -> bool:  # type: ignore[no-untyped-def]
    import docker.errors

    assert cid
    try:
        client.containers.get(cid)
    except docker.errors.NotFound:
        return True
    return False


def test_a_command_that_kills_the_runner_fails_and_the_next_one_gets_a_fresh_container(box) -> None:  # type: ignore[no-untyped-def]
    assert box.exec(["true"], timeout_s=30).ok
    old = box.container_id
    res = box.exec(["sh", "-c", "kill -KILL -1; sleep 5"], timeout_s=30)
    assert res.returncode == -9 and "runner died" in res.stderr
    assert box.exec(["true"], timeout_s=30).ok
    assert box.container_id != old


def test_large_output_keeps_its_tail(box) -> None:  # type: ignore[no-untyped-def]
    res = py(box, "import sys; sys.stdout.write('x' * 3_000_000 + 'END')")
    assert res.ok
    assert res.stdout.endswith("END") and "bytes dropped" in res.stdout.splitlines()[0]
