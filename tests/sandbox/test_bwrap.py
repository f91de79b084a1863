"""LocalSandbox with isolation="bwrap": no network, a read-only host, a writable workspace."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from perfsmith.errors import SandboxError
from perfsmith.sandbox import local
from perfsmith.sandbox.bwrap import bwrap_available
from perfsmith.sandbox.local import LocalSandbox
from perfsmith.sandbox.pyenv import PythonEnv, inspect_python

PY = sys.executable
needs_bwrap = pytest.mark.skipif(
    not bwrap_available(), reason="bubblewrap (bwrap) is missing or cannot run here"
)
TEST_FILE = "def test_one():\n    assert 1 + 1 == 2\n"
# Starts a grandchild that carries a token in its argv, says so, then sleeps.
SPAWNER = """
import subprocess, sys, time
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", sys.argv[1]])
open("spawned.txt", "w").write("yes")
time.sleep(float(sys.argv[2]))
"""


def make_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "test_one.py").write_text(TEST_FILE)
    (repo / "spawner.py").write_text(SPAWNER)
    return repo


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path)


@pytest.fixture
def box(repo: Path, tmp_path: Path) -> Iterator[LocalSandbox]:
    env = inspect_python(PY, exclude=[tmp_path / "ws"])
    sandbox = LocalSandbox.create(repo, tmp_path / "ws", isolation="bwrap", python_env=env)
    yield sandbox
    sandbox.close()


def run_py(box: LocalSandbox, code: str, timeout_s: float = 60) -> Any:
    """Run ``code`` in the sandbox; it must print one JSON object as its last line."""
    res = box.exec([PY, "-c", code], timeout_s=timeout_s)
    assert res.ok, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


def processes_with(token: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if token.encode() in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue  # gone meanwhile
    return pids


# -- the argv, without running bwrap -----------------------------------------------------


def test_command_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local, "bwrap_available", lambda: True)
    env = PythonEnv("python", "/tmp/venv/bin/python", "3.11.7", ("/opt/py", "/tmp/venv"))
    root, private = Path("/tmp/ws/base"), Path("/tmp/ws/base.private")
    box = LocalSandbox(root, private, isolation="bwrap", python_env=env)
    argv = box._command(("python", "-V"), workdir=root / "sub")
    assert Path(argv[0]).name == "bwrap"
    assert argv[-3:] == ("--", "python", "-V")
    flat = " ".join(argv)
    assert flat.index("--ro-bind / /") < flat.index("--tmpfs /tmp") < flat.index("--bind /tmp/ws")
    assert "--ro-bind /tmp/venv /tmp/venv" in flat  # hidden by the tmpfs otherwise
    assert "/opt/py" not in flat  # already visible through the read-only root
    assert f"--bind {root} {root}" in flat and f"--bind {private} {private}" in flat
    assert f"--chdir {root / 'sub'}" in flat
    for flag in ("--unshare-all", "--die-with-parent", "--new-session", "--dev /dev"):
        assert flag in flat
    assert "--cap-drop ALL" in flat and "--proc /proc" in flat
    assert LocalSandbox(root, private)._command(("python", "-V")) == ("python", "-V")


def test_outer_binds_come_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """A venv folder that contains the workspace must not hide the writable bind."""
    monkeypatch.setattr(local, "bwrap_available", lambda: True)
    env = PythonEnv("python", "/tmp/a/bin/python", "3.11.7", ("/tmp/a",))
    box = LocalSandbox(
        Path("/tmp/a/ws/b"), Path("/tmp/a/ws/b.p"), isolation="bwrap", python_env=env
    )
    flat = " ".join(box._command(("true",)))
    assert flat.index("--ro-bind /tmp/a /tmp/a") < flat.index("--bind /tmp/a/ws/b ")


def test_kind_and_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local, "bwrap_available", lambda: True)
    assert LocalSandbox(tmp_path, tmp_path).kind == "local"
    assert LocalSandbox(tmp_path, tmp_path, isolation="bwrap").kind == "local+bwrap"
    with pytest.raises(SandboxError):
        LocalSandbox(tmp_path, tmp_path, isolation="firejail")  # type: ignore[arg-type]


def test_missing_bwrap_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local, "bwrap_available", lambda: False)
    with pytest.raises(SandboxError) as err:
        LocalSandbox.create(make_repo(tmp_path), tmp_path / "ws", isolation="bwrap")
    assert "bubblewrap" in err.value.message and "none" in err.value.hint
    assert not (tmp_path / "ws" / "base").exists()
    assert not (tmp_path / "ws" / "base.private").exists()


# -- the real thing ----------------------------------------------------------------------


@needs_bwrap
def test_only_a_private_loopback(box: LocalSandbox) -> None:
    code = """
import json, socket
names = [line.split(":")[0].strip() for line in open("/proc/net/dev").readlines()[2:]]
def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as exc:
        return type(exc).__name__
def tcp():
    socket.create_connection(("10.255.255.1", 80), timeout=3).close()
def dns():
    socket.getaddrinfo("example.com", 80)
print(json.dumps({"dev": names, "ifaces": [n for _, n in socket.if_nameindex()],
                  "tcp": attempt(tcp), "dns": attempt(dns)}))
"""
    found = run_py(box, code)
    assert found["dev"] == ["lo"] and found["ifaces"] == ["lo"]
    assert found["tcp"] != "ok"
    assert found["dns"] != "ok"


@needs_bwrap
def test_host_loopback_is_out_of_reach(box: LocalSandbox, repo: Path, tmp_path: Path) -> None:
    code = (
        "import json, socket, sys\n"
        "try:\n"
        "    socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=3).close()\n"
        "    print('connected')\n"
        "except OSError as exc:\n"
        "    print(type(exc).__name__)\n"
    )
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        port = str(server.getsockname()[1])
        inside = box.exec([PY, "-c", code, port], timeout_s=30)
        plain = LocalSandbox.create(repo, tmp_path / "plain")
        try:
            outside = plain.exec([PY, "-c", code, port], timeout_s=30)
        finally:
            plain.close()
    assert outside.stdout.strip() == "connected"  # the control: the server answers
    assert inside.stdout.strip() == "ConnectionRefusedError", inside.stderr


@needs_bwrap
def test_host_files_are_read_only(box: LocalSandbox, repo: Path) -> None:
    outside = Path("/var/tmp") / f"perfsmith-bwrap-{uuid.uuid4().hex}"
    code = f"""
import json, os
def attempt(path):
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as fh:
            fh.write("x")
        return "ok"
    except OSError as exc:
        return type(exc).__name__
print(json.dumps({{
    "usr": attempt("/usr/x"),
    "var_tmp": attempt({str(outside)!r}),
    "repo": attempt({str(repo / "hack.txt")!r}),
    "workspace": attempt("new/file.txt"),
    "tmpdir": attempt(os.path.join(os.environ["TMPDIR"], "t.txt")),
    "home": attempt(os.path.join(os.environ["HOME"], "h.txt")),
    "cap_eff": [l.split()[1] for l in open("/proc/self/status") if l.startswith("CapEff")][0],
}}))
"""
    try:
        found = run_py(box, code)
    finally:
        for leak in (Path("/usr/x"), outside):
            if leak.exists():  # only if isolation is broken; leave nothing behind
                leak.unlink()
    assert found["usr"] != "ok" and found["var_tmp"] != "ok"
    assert not outside.exists()
    # The user's repo lies under /tmp here: the sandbox sees an empty tmpfs, not the repo.
    assert not (repo / "hack.txt").exists()
    assert found["workspace"] == found["tmpdir"] == found["home"] == "ok"
    assert (box.root / "new" / "file.txt").read_text() == "x"
    assert int(str(found["cap_eff"]), 16) == 0
    assert box.changed_paths() == {"new/file.txt"}


@needs_bwrap
def test_pytest_runs_inside(box: LocalSandbox) -> None:
    res = box.exec([PY, "-m", "pytest", "-q", "-p", "no:cacheprovider"], timeout_s=120)
    assert res.ok, res.stdout + res.stderr
    assert "1 passed" in res.stdout


@needs_bwrap
def test_a_venv_under_tmp_is_shown_again(repo: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([PY, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    vpy = str(venv / "bin" / "python")
    code = ["-c", "import sys; print(sys.prefix)"]
    env = inspect_python(vpy, exclude=[tmp_path / "ws"])
    assert any(venv.is_relative_to(p) for p in env.paths)
    with LocalSandbox.create(repo, tmp_path / "ws", isolation="bwrap", python_env=env) as box:
        res = box.exec([vpy, *code], timeout_s=60)
        assert res.ok, res.stderr
        assert res.stdout.strip() == str(venv)
    bare = LocalSandbox.create(repo, tmp_path / "ws", "bare", isolation="bwrap")
    with bare:
        assert not bare.exec([vpy, *code], timeout_s=60).ok  # the tmpfs hides it


@needs_bwrap
def test_timeout_kills_everything_inside(box: LocalSandbox) -> None:
    token = f"perfsmith-token-{uuid.uuid4().hex}"
    res = box.exec([PY, "spawner.py", token, "60"], timeout_s=3)
    assert res.timed_out and not res.ok
    assert (box.root / "spawned.txt").exists()  # the grandchild did start
    deadline = time.monotonic() + 10
    while processes_with(token) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_with(token) == []


@needs_bwrap
def test_background_processes_die_with_the_command(box: LocalSandbox) -> None:
    token = f"perfsmith-token-{uuid.uuid4().hex}"
    res = box.exec([PY, "spawner.py", token, "0"], timeout_s=30)
    assert res.ok, res.stderr
    deadline = time.monotonic() + 10
    while processes_with(token) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_with(token) == []


@needs_bwrap
def test_clone_keeps_isolation(box: LocalSandbox) -> None:
    with box.clone("second") as twin:
        assert twin.kind == "local+bwrap" and twin.python_env == box.python_env
        code = "import json; print(json.dumps(open('/proc/net/dev').read().count(':')))"
        assert run_py(twin, code) == 1  # "lo:" only
        res = twin.exec([PY, "-c", "open('/usr/x', 'w')"], timeout_s=30)
        assert not res.ok and "Read-only file system" in res.stderr
        assert not os.path.exists("/usr/x")


@needs_bwrap
def test_missing_program_raises_as_without_bwrap(box: LocalSandbox) -> None:
    with pytest.raises(SandboxError) as err:
        box.exec(["/definitely/not/a/program"], timeout_s=5)
    assert err.value.hint
    with pytest.raises(SandboxError):
        box.exec(["no-such-program-perfsmith"], timeout_s=5)
