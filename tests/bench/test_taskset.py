"""Task formats: folder suites (folder, tarball, bundle repos) and SWE-fficiency rows."""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml

from perfsmith.bench.taskset import (
    WORKLOAD_NAME,
    load_tasks,
    materialize,
    swefficiency_task,
    workload_from_script,
)
from perfsmith.errors import ConfigError
from tests.bench.helpers import FIXTURE, expert_patch, git_repo, make_suite


def test_folder_suite_loads_sorted_with_defaults(tmp_path: Path) -> None:
    name, tasks = load_tasks(make_suite(tmp_path))
    assert name == "minisuite"
    assert [t.instance_id for t in tasks] == [
        "minisuite__alpha",
        "minisuite__beta",
        "minisuite__gamma",
    ]
    t = tasks[0]
    assert t.tests == ("tests",) and t.target == "latency" and t.pythonpath == (".",)
    assert t.category == "redundant work" and "def workload" in t.workload_code
    assert t.expert_patch == expert_patch()


def test_materialize_commits_the_base_with_the_workload(tmp_path: Path) -> None:
    _, tasks = load_tasks(make_suite(tmp_path))
    repo = materialize(tasks[0], tmp_path / "out")
    assert (repo / WORKLOAD_NAME).read_text() == tasks[0].workload_code
    status = subprocess.run(
        ["git", "-C", str(repo), "status", "--porcelain"], capture_output=True, text=True
    )
    assert status.stdout == ""  # everything is in the base commit
    applied = subprocess.run(
        ["git", "-C", str(repo), "apply", "--check", "-"], input=tasks[0].expert_patch, text=True
    )
    assert applied.returncode == 0


def _retarget(task_dir: Path, repo: str, **extra: object) -> None:
    meta = yaml.safe_load((task_dir / "task.yaml").read_text())
    meta.update(repo=repo, **extra)
    (task_dir / "task.yaml").write_text(yaml.safe_dump(meta))


def test_tarball_and_bundle_repositories(tmp_path: Path) -> None:
    suite = make_suite(tmp_path, names=("tar", "bundle"))
    with tarfile.open(suite / "tar" / "repo.tar.gz", "w:gz") as tar:
        tar.add(suite / "tar" / "repo", arcname=".")
    shutil.rmtree(suite / "tar" / "repo")
    _retarget(suite / "tar", "repo.tar.gz")

    src = suite / "bundle" / "repo"
    base = git_repo(src)
    (src / "tiny" / "core.py").write_text("# a later commit the task must not see\n")
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(src), "commit", "-qam",
         "later"], check=True,
    )  # fmt: skip
    subprocess.run(["git", "-C", str(src), "bundle", "create", "../repo.bundle", "--all"],
                   check=True, capture_output=True)  # fmt: skip
    shutil.rmtree(src)
    _retarget(suite / "bundle", "repo.bundle", base_commit=base)

    _, tasks = load_tasks(suite)
    for task in tasks:
        repo = materialize(task, tmp_path / task.instance_id)
        core = (repo / "tiny" / "core.py").read_text()
        assert core == (FIXTURE / "tiny" / "core.py").read_text(), task.instance_id


def test_bad_suites_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"No task\.yaml"):
        load_tasks(tmp_path)
    suite = make_suite(tmp_path)
    _retarget(suite / "alpha", "missing-repo")
    with pytest.raises(ConfigError, match="missing or of an unknown kind"):
        load_tasks(suite)
    with pytest.raises(ConfigError, match="--repos"):
        rows = tmp_path / "rows.jsonl"
        rows.write_text("{}\n")
        load_tasks(rows)


SWE_WORKLOAD = """import timeit
import statistics

from tiny.core import total

DATA = []


def setup():
    DATA[:] = list(range(1000))


def workload():
    return total(DATA)


runtimes = timeit.repeat(workload, number=1, repeat=5, setup=setup)
print("Mean:", statistics.mean(runtimes))
"""


def test_workload_script_keeps_definitions_and_drops_self_timing() -> None:
    code = workload_from_script(SWE_WORKLOAD)
    assert "def workload" in code and "def setup" in code and "DATA = []" in code
    assert "repeat(" not in code and "print(" not in code
    with pytest.raises(ValueError, match="workload"):
        workload_from_script("import timeit\nx = 1\n")


def swe_row(clone: Path, base: str) -> dict[str, object]:
    return {
        "instance_id": "acme__tiny-1",
        "repo": "acme/tiny",
        "base_commit": base,
        "patch": expert_patch(),
        "workload": SWE_WORKLOAD,
        "covering_tests": ["tests/test_core.py"],
        "PASS_TO_PASS": ["tests/test_core.py::test_total"],
        "single_thread_tests": [],
        "test_cmd": "pytest",
    }


def swe_rows(tmp_path: Path) -> Path:
    """A JSONL file with one row whose repository is a local clone under tmp_path/repos,
    with a later commit after the base that the task must not see."""
    clone = tmp_path / "repos" / "acme__tiny"
    shutil.copytree(FIXTURE, clone, ignore=shutil.ignore_patterns("__pycache__", "bench"))
    base = git_repo(clone)
    (clone / "tiny" / "core.py").write_text("raise SystemExit('not the base')\n")
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(clone),
                    "commit", "-qam", "later"], check=True)  # fmt: skip
    rows = tmp_path / "swe.jsonl"
    rows.write_text(json.dumps(swe_row(clone, base)) + "\n")
    return rows


def test_swefficiency_row_from_a_local_clone_at_its_base_commit(tmp_path: Path) -> None:
    rows = swe_rows(tmp_path)
    name, tasks = load_tasks(rows, repos=tmp_path / "repos")
    assert name == "swe" and tasks[0].tests == ("tests/test_core.py",)
    repo = materialize(tasks[0], tmp_path / "m")
    assert "time.sleep(0.02)" in (repo / "tiny" / "core.py").read_text()  # the base, not later


def test_swefficiency_missing_clone_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        swefficiency_task(swe_row(tmp_path, "abc"), tmp_path / "repos", suite="s")
    assert "git clone https://github.com/acme/tiny" in info.value.hint
