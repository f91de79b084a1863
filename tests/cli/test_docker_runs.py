"""Whole runs with the Docker sandbox: parity with local, leftovers, Ctrl-C, a dead engine."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.test_demo import _git_copy
from tests.treehash import tree_hash

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _optimize_argv(repo: Path, example: str, runs: Path, run_id: str, sandbox: str) -> list[str]:
    return [
        str(BIN / "optimize"),
        str(repo),
        "--model",
        f"scripted:{ROOT / 'examples' / example / 'demo.yaml'}",
        "--runs-dir",
        str(runs),
        "--run-id",
        run_id,
        "--sandbox",
        sandbox,
    ]


def _run(argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        check=False,
    )


def _client():  # type: ignore[no-untyped-def]
    from tests.sandbox.docker_helpers import client_or_skip

    return client_or_skip()


def _ours(client, pid: int) -> list[object]:  # type: ignore[no-untyped-def]
    return client.containers.list(
        all=True, filters={"label": ["perfsmith.sandbox=1", f"perfsmith.owner.pid={pid}"]}
    )


@pytest.mark.docker
@pytest.mark.slow
def test_docker_and_local_give_the_same_verdicts(tmp_path: Path) -> None:
    client = _client()
    repo = _git_copy("logstats", tmp_path)
    before = tree_hash(repo)
    runs = tmp_path / "runs"
    steps = {}
    for sandbox in ("docker", "local"):
        res = _run(_optimize_argv(repo, "logstats", runs, sandbox, sandbox))
        assert res.returncode == 0, res.stderr
        traj = json.loads((runs / sandbox / "trajectory.json").read_text())
        steps[sandbox] = [(s["status"], s["kept"]) for s in traj["steps"]]
        assert traj["info"]["fingerprint"]["sandbox"] in (sandbox, "local+bwrap")
    assert (
        steps["docker"]
        == steps["local"]
        == [
            ("test_failed", False),
            ("faster", True),
            ("faster", True),
        ]
    )
    assert tree_hash(repo) == before
    assert _ours(client, os.getpid()) == []


@pytest.mark.docker
@pytest.mark.slow
def test_kill_9_leaves_labelled_containers_and_the_next_start_removes_only_those(
    tmp_path: Path,
) -> None:
    client = _client()
    from tests.sandbox.docker_helpers import image_tag

    tag = image_tag(client, tmp_path)
    bystander = client.containers.create(
        tag, ["sleep", "infinity"], name=f"bystander-{os.getpid()}"
    )
    try:
        repo = _git_copy("logstats", tmp_path)
        runs = tmp_path / "runs"
        proc = subprocess.Popen(
            _optimize_argv(repo, "logstats", runs, "killed", "docker"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 300
        while not _ours(client, proc.pid):
            assert proc.poll() is None, "the run ended before it made a container"
            assert time.monotonic() < deadline
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        left = _ours(client, proc.pid)
        assert left, "kill -9 gives perfsmith no chance to clean up"

        measure = [str(BIN / "perfsmith"), "measure", str(repo)]
        measure += ["--patch", str(_empty_patch(tmp_path)), "--sandbox", "docker"]
        res = _run([*measure, "--out", str(tmp_path / "m")])
        assert "left by an interrupted run" in res.stderr, res.stderr
        assert _ours(client, proc.pid) == []
        bystander.reload()
        assert bystander.status == "created"  # unlabelled: untouched
    finally:
        bystander.remove(force=True)


def _empty_patch(tmp_path: Path) -> Path:
    p = tmp_path / "noop.diff"
    p.write_text("")
    return p


@pytest.mark.docker
@pytest.mark.slow
def test_ctrl_c_removes_our_containers(tmp_path: Path) -> None:
    client = _client()
    repo = _git_copy("logstats", tmp_path)
    before = tree_hash(repo)
    runs = tmp_path / "runs"
    proc = subprocess.Popen(
        _optimize_argv(repo, "logstats", runs, "cc", "docker"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    marker = runs / "cc" / "steps" / "002" / "patch.diff"
    deadline = time.monotonic() + 300
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(1.0)
    assert _ours(client, proc.pid)
    os.killpg(proc.pid, signal.SIGINT)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert _ours(client, proc.pid) == []
    assert tree_hash(repo) == before


DEAD = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}


def test_engine_down_docker_is_a_clear_error(tmp_path: Path) -> None:
    repo = _git_copy("logstats", tmp_path)
    res = _run(_optimize_argv(repo, "logstats", tmp_path / "runs", "x", "docker"), env=DEAD)
    assert res.returncode == 2
    text = " ".join(res.stderr.split())
    assert "does not answer" in text and "--sandbox local" in text
    assert "Traceback" not in res.stderr


def test_engine_down_auto_falls_back_to_local_with_a_warning(tmp_path: Path) -> None:
    from perfsmith.sandbox.factory import choose

    old = os.environ.get("DOCKER_HOST")
    os.environ["DOCKER_HOST"] = DEAD["DOCKER_HOST"]
    try:
        choice = choose("auto")
    finally:
        if old is None:
            del os.environ["DOCKER_HOST"]
        else:
            os.environ["DOCKER_HOST"] = old
    assert choice.kind.startswith("local")
    assert "Docker is not available" in choice.warning and "weaker" in choice.warning
    assert "\n" not in choice.warning


@pytest.mark.slow
def test_engine_down_auto_run_goes_on_locally(tmp_path: Path) -> None:
    repo = _git_copy("logstats", tmp_path)
    runs = tmp_path / "runs"
    res = _run(_optimize_argv(repo, "logstats", runs, "auto", "auto"), env=DEAD)
    assert res.returncode == 0, res.stderr
    assert "Docker is not available" in res.stderr
    traj = json.loads((runs / "auto" / "trajectory.json").read_text())
    assert traj["info"]["fingerprint"]["sandbox"].startswith("local")
