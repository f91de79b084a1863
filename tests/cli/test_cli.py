"""The command line as a person uses it: real processes, real exit codes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.loop.helpers import BREAK_TOTAL, HALF_PAUSE, MALFORMED, judge, tiny_repo
from tests.treehash import tree_hash

BIN = Path(sys.executable).parent
FAST = ["--rounds", "4"]


def optimize(*args: str | Path, env: dict[str, str] | None = None, timeout: float = 300):
    return subprocess.run(
        [str(BIN / "optimize"), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        check=False,
    )


def script(tmp_path: Path, coder: list[object], judge_replies: list[object]) -> Path:
    path = tmp_path / "script.yaml"
    path.write_text(yaml.safe_dump({"coder": coder, "judge": judge_replies}))
    return path


def test_help_is_fast_and_does_not_import_litellm() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from perfsmith import cli; "
            "print('litellm' in sys.modules, 'langgraph' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split() == ["False", "False"]
    res = optimize("--help")
    assert res.returncode == 0
    assert "--workload" in res.stdout and "--budget-usd" in res.stdout and "--resume" in res.stdout


def test_perfsmith_optimize_is_the_same_command() -> None:
    res = subprocess.run(
        [str(BIN / "perfsmith"), "optimize", "--help"], capture_output=True, text=True, check=False
    )
    assert res.returncode == 0 and "--workload" in res.stdout


@pytest.mark.parametrize(
    ("setup", "needle"),
    [
        ("missing", "does not exist"),
        ("not_python", "no Python files"),
        ("no_workload", "No workload is set"),
        ("workload_file_missing", "does not exist"),
    ],
)
def test_bad_input_gives_one_clear_error(tmp_path: Path, setup: str, needle: str) -> None:
    repo = tmp_path / "repo"
    if setup != "missing":
        repo.mkdir()
        (repo / "README.md").write_text("hello\n")
    if setup in ("no_workload", "workload_file_missing"):
        (repo / "mod.py").write_text("x = 1\n")
    args: list[str | Path] = [repo, "--model", "scripted:none.yaml", "--runs-dir", tmp_path / "r"]
    if setup == "workload_file_missing":
        args += ["--workload", "bench/nothere.py"]
    res = optimize(*args)
    assert res.returncode == 2
    assert needle in res.stderr
    assert "what to do:" in res.stderr
    assert "Traceback" not in res.stderr


def test_missing_model_key_fails_before_any_work(tmp_path: Path) -> None:
    repo = tiny_repo(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    res = subprocess.run(
        [
            str(BIN / "optimize"),
            str(repo),
            "--model",
            "openai/gpt-4.1-mini",
            "--runs-dir",
            str(tmp_path / "runs"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert res.returncode == 3
    assert "OPENAI_API_KEY" in res.stderr
    assert "Traceback" not in res.stderr


@pytest.mark.slow
def test_failing_baseline_lists_the_failing_tests(tmp_path: Path) -> None:
    repo = tiny_repo(tmp_path)
    core = repo / "tiny" / "core.py"
    core.write_text(core.read_text().replace('"n=%d"', '"N=%d"'))
    before = tree_hash(repo)
    res = optimize(
        repo,
        "--model",
        f"scripted:{script(tmp_path, [], [])}",
        "--runs-dir",
        tmp_path / "runs",
        *FAST,
    )
    assert res.returncode == 2
    assert "test_label" in res.stderr and "fails 1 test" in res.stderr
    assert tree_hash(repo) == before


@pytest.mark.slow
def test_no_tests_collected_is_an_error(tmp_path: Path) -> None:
    repo = tiny_repo(tmp_path)
    res = optimize(
        repo,
        "--tests",
        "tiny",
        "--model",
        f"scripted:{script(tmp_path, [], [])}",
        "--runs-dir",
        tmp_path / "runs",
        *FAST,
    )
    assert res.returncode == 2
    assert "No test passed" in res.stderr


@pytest.mark.slow
def test_crashing_workload_is_an_error(tmp_path: Path) -> None:
    repo = tiny_repo(tmp_path)
    (repo / "bench" / "workload.py").write_text("def workload():\n    raise RuntimeError('boom')\n")
    res = optimize(
        repo,
        "--model",
        f"scripted:{script(tmp_path, [], [])}",
        "--runs-dir",
        tmp_path / "runs",
        *FAST,
    )
    assert res.returncode == 2
    assert "workload" in res.stderr.lower() and "boom" in res.stderr


@pytest.mark.slow
def test_malformed_replies_in_a_row_end_the_run_cleanly(tmp_path: Path) -> None:
    repo = tiny_repo(tmp_path)
    s = script(tmp_path, [MALFORMED] * 3, [])
    res = optimize(
        repo, "--model", f"scripted:{s}", "--runs-dir", tmp_path / "runs", "--run-id", "r1", *FAST
    )
    assert res.returncode == 0, res.stderr
    traj = json.loads((tmp_path / "runs" / "r1" / "trajectory.json").read_text())
    assert traj["info"]["exit_status"] == "format_errors"
    assert [s["status"] for s in traj["steps"]] == ["format_error"] * 3


@pytest.mark.slow
def test_apply_commits_best_patch_on_a_new_branch_only(tmp_path: Path) -> None:
    repo = tiny_repo(tmp_path)
    git = ["git", "-C", str(repo)]
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    index = (repo / ".git" / "index").read_bytes()
    files = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts}
    s = script(tmp_path, [HALF_PAUSE], [judge("stop")])
    res = optimize(
        repo,
        "--model",
        f"scripted:{s}",
        "--runs-dir",
        tmp_path / "runs",
        "--run-id",
        "ap",
        "--apply",
        *FAST,
    )
    assert res.returncode == 0, res.stderr
    assert "perfsmith/ap" in res.stderr
    assert (
        subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout == head
    )
    assert (repo / ".git" / "index").read_bytes() == index
    assert {p: p.read_bytes() for p in files} == files
    status = subprocess.run([*git, "status", "--porcelain"], capture_output=True, text=True)
    assert status.stdout == ""
    log = subprocess.run(
        [*git, "rev-list", "--count", f"{head.strip()}..perfsmith/ap"],
        capture_output=True,
        text=True,
    )
    assert log.stdout.strip() == "1"
    shown = subprocess.run(
        [*git, "show", "perfsmith/ap:tiny/core.py"], capture_output=True, text=True
    ).stdout
    assert "time.sleep(0.005)" in shown


def _workspace_processes(prefix: str) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if os.readlink(proc / "cwd").startswith(prefix):
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


@pytest.mark.slow
def test_ctrl_c_during_evaluation_then_resume(tmp_path: Path) -> None:
    repo = tiny_repo(tmp_path)
    before = tree_hash(repo)
    s = script(tmp_path, [BREAK_TOTAL, HALF_PAUSE], [judge("discard"), judge("stop")])
    runs = tmp_path / "runs"
    proc = subprocess.Popen(
        [
            str(BIN / "optimize"),
            str(repo),
            "--model",
            f"scripted:{s}",
            "--runs-dir",
            str(runs),
            "--run-id",
            "cc",
            "--rounds",
            "8",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, "COLUMNS": "300"},
    )
    marker = runs / "cc" / "steps" / "002" / "patch.diff"
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(0.5)  # inside the interleaved timing of step 2
    os.killpg(proc.pid, signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "--resume cc" in err
    assert tree_hash(repo) == before
    workspace = next(
        line.split("workspace", 1)[1].strip() for line in err.splitlines() if "workspace" in line
    )
    assert _workspace_processes(str(Path(workspace).parent)) == []
    run_json = json.loads((runs / "cc" / "run.json").read_text())
    assert run_json["exit_status"] == "interrupted"

    res = optimize("--resume", "cc", "--runs-dir", runs)
    assert res.returncode == 0, res.stderr
    traj = json.loads((runs / "cc" / "trajectory.json").read_text())
    assert [s["status"] for s in traj["steps"]] == ["test_failed", "faster"]
    assert traj["info"]["exit_status"] == "completed"
    assert (runs / "cc" / "best.patch").read_text().strip()
    assert tree_hash(repo) == before
    shutil.rmtree(runs)


@pytest.mark.slow
def test_hanging_workload_times_out_with_a_clear_error(tmp_path: Path) -> None:
    repo = tiny_repo(tmp_path)
    (repo / "bench" / "workload.py").write_text(
        "import time\n\ndef workload():\n    time.sleep(600)\n"
    )
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("timing:\n  timeout_s: 3\n")
    started = time.monotonic()
    res = optimize(
        repo,
        "--model",
        f"scripted:{script(tmp_path, [], [])}",
        "--config",
        cfg,
        "--runs-dir",
        tmp_path / "runs",
        *FAST,
    )
    assert res.returncode == 2
    assert "timed out" in res.stderr.lower() or "timeout" in res.stderr.lower()
    assert time.monotonic() - started < 120
    assert _workspace_processes(str(tmp_path)) == []


def _serve(*behaviours: object) -> tuple[object, dict[str, str]]:
    from tests.fixtures.openai_server import OpenAIServer

    server = OpenAIServer().start()
    server.enqueue(*behaviours)
    env = {
        "OPENAI_API_KEY": "sk-test-not-a-real-key",
        "OPENAI_BASE_URL": server.api_base,
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    return server, env


@pytest.mark.slow
def test_real_litellm_adapter_over_http_end_to_end(tmp_path: Path) -> None:
    from tests.fixtures.openai_server import reply

    repo = tiny_repo(tmp_path)
    server, env = _serve(
        reply(HALF_PAUSE, prompt_tokens=900, completion_tokens=120),
        reply(judge("stop"), prompt_tokens=700, completion_tokens=40),
    )
    try:
        res = optimize(
            repo,
            "--model",
            "openai/gpt-4o-mini",
            "--runs-dir",
            tmp_path / "runs",
            "--run-id",
            "http",
            *FAST,
            env=env,
        )
    finally:
        server.stop()  # type: ignore[attr-defined]
    assert res.returncode == 0, res.stderr
    traj = json.loads((tmp_path / "runs" / "http" / "trajectory.json").read_text())
    assert [s["status"] for s in traj["steps"]] == ["faster"]
    assert traj["info"]["totals"]["tokens"] == 900 + 120 + 700 + 40
    assert traj["info"]["totals"]["cost_usd"] > 0
    assert len(server.completion_requests()) == 2  # type: ignore[attr-defined]
    saved = "".join(
        p.read_text()
        for p in (tmp_path / "runs" / "http").rglob("*")
        if p.is_file() and p.suffix in (".json", ".yaml", ".md")
    )
    assert "sk-test-not-a-real-key" not in saved


@pytest.mark.slow
def test_rejected_key_stops_with_a_clear_error_and_saves_the_run(tmp_path: Path) -> None:
    from tests.fixtures.openai_server import unauthorized

    repo = tiny_repo(tmp_path)
    server, env = _serve(unauthorized())
    try:
        res = optimize(
            repo,
            "--model",
            "openai/gpt-4o-mini",
            "--runs-dir",
            tmp_path / "runs",
            "--run-id",
            "k",
            *FAST,
            env=env,
        )
    finally:
        server.stop()  # type: ignore[attr-defined]
    assert res.returncode == 3
    assert "rejected" in res.stderr and "OPENAI_API_KEY" in res.stderr
    assert "Traceback" not in res.stderr
    assert len(server.completion_requests()) == 1  # type: ignore[attr-defined]
    run_json = json.loads((tmp_path / "runs" / "k" / "run.json").read_text())
    assert run_json["exit_status"] == "model_error"


def test_doctor_lists_every_check_with_what_it_costs() -> None:
    res = subprocess.run(
        [str(BIN / "perfsmith"), "doctor"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "250"},
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    names = ("docker", "bubblewrap", "valgrind", "perf", "rapl", "nvml", "energy", "nsight")
    for name in names:
        assert name in res.stdout
    from perfsmith.doctor import checks

    for c in checks():
        assert c.ok or c.cost, f"{c.name} is missing but says nothing about what that costs"


def test_doctor_with_a_dead_engine_says_what_that_costs() -> None:
    res = subprocess.run(
        [str(BIN / "perfsmith"), "doctor"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "250", "DOCKER_HOST": "unix:///nonexistent/docker.sock"},
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    line = next(line for line in res.stdout.splitlines() if "│ docker " in line)
    assert "does not answer" in line and "local sandbox" in line
    assert "docker image" not in res.stdout


@pytest.mark.docker
def test_doctor_reports_the_sandbox_image() -> None:
    from perfsmith.doctor import checks
    from tests.sandbox.docker_helpers import client_or_skip

    client_or_skip()
    image = next(c for c in checks() if c.name == "docker image")
    assert image.ok and "perfsmith-sandbox:" in image.detail
    assert "cached" in image.detail or "not built yet" in image.detail
