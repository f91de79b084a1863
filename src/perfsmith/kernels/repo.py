"""Turn a kernel task into the small generated repository the loop works on.

The repository (docs/kernels.md, "The generated repository")::

    kernel.c                   the only file a candidate may change
    .gitignore                 .kernel-build/ (where the harness builds)
    perfsmith_workload.py      setup() / workload() / variants()
    tests/__init__.py
    tests/kernel_harness.py    build, bind, poison, hash and compare
    tests/kernel_reference.py  the task's reference.py
    tests/kernel_spec.json     args, every shape (hidden ones too), seeds, tolerance
    tests/test_kernel.py       the correctness checks

The harness, tests and workload are copied from ``templates/``: they run with the
target's Python and import only the standard library, NumPy and pytest.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from perfsmith.bench.taskset import WORKLOAD_NAME, BenchTask, RepoSource, materialize
from perfsmith.core import Target
from perfsmith.diffs import unified_diff
from perfsmith.errors import ConfigError
from perfsmith.kernels.spec import KernelTask

__all__ = [
    "KERNEL_FILE",
    "expert_patch",
    "refresh_cached",
    "repo_files",
    "run_overrides",
    "to_bench_task",
    "write_files",
    "write_repo",
]

KERNEL_FILE = "kernel.c"
TEMPLATES = Path(__file__).resolve().parent / "templates"
GITIGNORE = ".kernel-build/\n__pycache__/\n"


def _template(name: str) -> str:
    return (TEMPLATES / name).read_text(encoding="utf-8")


def workload_code() -> str:
    """The generated ``perfsmith_workload.py`` (the same for every kernel task)."""
    return _template("workload.py")


def repo_files(task: KernelTask, *, source: str | None = None) -> dict[str, str]:
    """Every file of the generated repository, by path, the workload included.

    Args:
        task: the kernel task.
        source: the text of ``kernel.c`` (default: the task's starting kernel).

    Returns:
        path relative to the repository -> content.
    """
    spec = json.dumps(task.spec_json(hidden=True), indent=2) + "\n"
    return {
        KERNEL_FILE: task.kernel_source() if source is None else source,
        ".gitignore": GITIGNORE,
        WORKLOAD_NAME: workload_code(),
        "tests/__init__.py": "",
        "tests/kernel_harness.py": _template("kernel_harness.py"),
        "tests/kernel_reference.py": task.reference_source(),
        "tests/kernel_spec.json": spec,
        "tests/test_kernel.py": _template("test_kernel.py"),
    }


def write_repo(task: KernelTask, dest: Path, *, source: str | None = None) -> Path:
    """Write the generated repository into ``dest`` (a new folder) as one git base commit.

    Args:
        task: the kernel task.
        dest: where the repository goes; it must not exist yet.
        source: the text of ``kernel.c`` (default: the task's starting kernel).

    Returns:
        ``dest``.

    Raises:
        ConfigError: ``dest`` exists, or the task's files cannot be read.
    """
    dest = Path(dest)
    if dest.exists():
        raise ConfigError(f"{dest} already exists.", "Give write_repo a new folder.")
    try:
        files = repo_files(task, source=source)
    except OSError as exc:
        raise ConfigError(
            f"{task.instance_id}: cannot read a file of {task.folder}: {exc}.",
            "Check the task folder.",
        ) from exc
    return write_files(files, dest, task.instance_id, task.suite)


def write_files(files: dict[str, str], dest: Path, instance_id: str, suite: str) -> Path:
    """Write generated files (the workload among them) into ``dest`` as one git base commit.

    Shared by every generated task (kernel tasks, KernelBench problems): the files are
    staged in a temporary folder beside ``dest``, then ``materialize`` copies them, adds the
    workload and commits with its git flags.
    """
    files = dict(files)
    workload = files.pop(WORKLOAD_NAME)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="perfsmith-generated-", dir=dest.parent) as tmp:
        staging = Path(tmp) / "repo"
        for path, text in files.items():
            target = staging / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        bench = BenchTask(
            instance_id=instance_id,
            suite=suite,
            source=RepoSource("folder", str(staging)),
            workload_code=workload,
        )
        materialize(bench, dest)
    return dest


def expert_patch(task: KernelTask) -> str:
    """The unified diff from the starting ``kernel.c`` to the expert kernel ("" if none)."""
    expert = task.expert_source()
    if expert is None:
        return ""
    return unified_diff({KERNEL_FILE: task.kernel_source()}, {KERNEL_FILE: expert})


def _up_to_date(folder: Path, files: dict[str, str]) -> bool:
    for path, text in files.items():
        try:
            if (folder / path).read_text(encoding="utf-8") != text:
                return False
        except (OSError, UnicodeDecodeError):
            return False
    return True


def run_overrides(task: BenchTask) -> tuple[Path, dict[str, Any]]:
    """The repository to optimize for a generated task and the run settings it implies
    (the workload, tests and brief it was generated with, then the task's own settings)."""
    overrides: dict[str, Any] = {
        "workload": WORKLOAD_NAME,
        "workload_cmd": None,
        "tests": list(task.tests),
        "pythonpath": list(task.pythonpath),
        "brief": task.problem,
        "target": task.target,
    }
    return Path(task.source.path), {**overrides, **task.config}


def refresh_cached(folder: Path, files: dict[str, str], write: Callable[[Path], object]) -> None:
    """Make ``folder`` hold ``files``, rewriting it with ``write`` when it does not.

    ``write`` fills a new folder beside it, which is renamed into place, so concurrent
    callers never see half of one.
    """
    if _up_to_date(folder, files):
        return
    folder.parent.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    fresh.rmdir()
    write(fresh)
    stale = folder.with_name(f".{folder.name}-stale-{fresh.name}")
    if folder.exists():
        folder.rename(stale)
    try:
        fresh.rename(folder)
    except OSError:  # another caller renamed its copy in first: theirs is as good
        shutil.rmtree(fresh, ignore_errors=True)
    shutil.rmtree(stale, ignore_errors=True)


def to_bench_task(task: KernelTask, cache: Path) -> BenchTask:
    """The kernel task as a bench task whose repository is a folder under ``cache``.

    The repository is written into ``cache/<instance_id>`` when it is missing or differs
    from what the task generates now (a new folder is renamed into place, so concurrent
    callers never see half of one).

    Args:
        task: the kernel task.
        cache: a folder for generated repositories.

    Returns:
        A BenchTask: folder source, the generated workload, tests ``("tests",)``, the
        expert patch, the task's target and brief as its problem.
    """
    files = repo_files(task)
    folder = Path(cache) / task.instance_id
    refresh_cached(folder, files, lambda fresh: write_repo(task, fresh))
    if task.target not in typing.get_args(Target):
        raise ConfigError(f"{task.instance_id}: unknown target {task.target!r}.", "")
    return BenchTask(
        instance_id=task.instance_id,
        suite=task.suite,
        source=RepoSource("folder", str(folder)),
        workload_code=files[WORKLOAD_NAME],
        expert_patch=expert_patch(task),
        tests=("tests",),
        target=typing.cast(Target, task.target),
        pythonpath=(".",),
        problem=task.brief(),
        category=task.category,
    )
