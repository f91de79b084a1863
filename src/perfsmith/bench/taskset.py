"""Task sets: our folder suites and SWE-fficiency JSONL rows, and turning a task into a repo.

A folder suite is ``benchmarks/<suite>/<task>/task.yaml`` plus the repository (a folder,
a ``.tar.gz`` or a git bundle), ``workload.py`` and ``expert.patch``::

    instance_id: perfsmith-lite__csv-render   # default: <suite>__<folder>
    category: string building
    problem: Rendering a large report takes seconds ...
    repo: repo                # folder | repo.tar.gz | repo.bundle (then base_commit)
    base_commit: null
    workload: workload.py     # setup() / workload(); copied in as perfsmith_workload.py
    expert_patch: expert.patch
    tests: [tests]            # covering tests, relative to the repository
    target: latency
    pythonpath: ["."]

SWE-fficiency rows (``instance_id, repo, base_commit, patch, workload, covering_tests,
PASS_TO_PASS, test_cmd, ...``) name a GitHub repository; ``--repos DIR`` points at local
clones (``DIR/owner__name``, ``DIR/name`` or ``DIR/owner/name``). Their workload is a
script that times itself with ``timeit`` at top level; ``workload_from_script`` keeps its
imports and definitions and drops the self-timing, so our workers can import it.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from perfsmith.core import Target
from perfsmith.errors import ConfigError

WORKLOAD_NAME = "perfsmith_workload.py"
SourceKind = Literal["folder", "tarball", "bundle", "clone"]
_GIT = ("git", "-c", "core.hooksPath=/dev/null", "-c", "commit.gpgsign=false")
_IDENTITY = ("-c", "user.name=perfsmith", "-c", "user.email=perfsmith@localhost")
_TARGETS = ("latency", "throughput", "memory", "instructions", "energy")


@dataclass(frozen=True)
class RepoSource:
    """Where a task's repository comes from: a folder, a tarball, a git bundle or a clone."""

    kind: SourceKind
    path: str
    commit: str | None = None


@dataclass(frozen=True)
class BenchTask:
    """One task of a set: the repository at its base, the workload, tests and expert patch."""

    instance_id: str
    suite: str
    source: RepoSource
    workload_code: str
    expert_patch: str = ""
    tests: tuple[str, ...] = ()
    target: Target = "latency"
    pythonpath: tuple[str, ...] = (".",)
    problem: str = ""
    category: str | None = None
    config: dict[str, Any] = field(default_factory=dict)  # run settings the task needs

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form (for worker processes); ``from_json`` reads it back."""
        return {
            "instance_id": self.instance_id, "suite": self.suite,
            "source": {"kind": self.source.kind, "path": self.source.path,
                       "commit": self.source.commit},
            "workload_code": self.workload_code, "expert_patch": self.expert_patch,
            "tests": list(self.tests), "target": self.target,
            "pythonpath": list(self.pythonpath), "problem": self.problem,
            "category": self.category, "config": self.config,
        }  # fmt: skip

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> BenchTask:
        return cls(
            instance_id=d["instance_id"], suite=d["suite"], source=RepoSource(**d["source"]),
            workload_code=d["workload_code"], expert_patch=d["expert_patch"],
            tests=tuple(d["tests"]), target=d["target"], pythonpath=tuple(d["pythonpath"]),
            problem=d["problem"], category=d["category"], config=dict(d.get("config") or {}),
        )  # fmt: skip


def load_tasks(spec: Path, *, repos: Path | None = None) -> tuple[str, list[BenchTask]]:
    """Load a suite folder or a SWE-fficiency JSONL file; return the suite's name and tasks.

    Raises:
        ConfigError: the path is neither, or a task is malformed (the message names it).
    """
    if spec.is_dir():
        return spec.name, load_suite(spec)
    if spec.is_file() and spec.suffix in (".jsonl", ".json"):
        if repos is None:
            raise ConfigError(
                f"{spec} holds SWE-fficiency rows, which name GitHub repositories.",
                "Clone them locally and pass --repos DIR (DIR/owner__name or DIR/name).",
            )
        return spec.stem, load_swefficiency(spec, repos)
    raise ConfigError(
        f"{spec} is neither a suite folder nor a JSONL file of tasks.",
        "Pass benchmarks/<suite> (folders with task.yaml) or a SWE-fficiency .jsonl file.",
    )


def load_suite(root: Path) -> list[BenchTask]:
    """Every ``<task>/task.yaml`` and KernelBench problem file (``<suite>/<name>.py``,
    docs/kernels.md) under ``root``, sorted by instance id."""
    from perfsmith.kernels.kernelbench import bench_task, is_kernelbench_file

    folders = [d for d in sorted(root.iterdir()) if (d / "task.yaml").is_file()]
    tasks = [_folder_task(root.name, d) for d in folders]
    problems = [f for f in sorted(root.glob("*.py")) if is_kernelbench_file(f)]
    tasks += [bench_task(f, root.name) for f in problems]
    if not tasks:
        raise ConfigError(
            f"No task.yaml or KernelBench problem file under {root}.",
            "Each task is <suite>/<task>/task.yaml, or a KernelBench file <suite>/<name>.py.",
        )
    ids = [t.instance_id for t in tasks]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ConfigError(f"Duplicate instance ids in {root}: {', '.join(dupes)}.", "Rename them.")
    return sorted(tasks, key=lambda t: t.instance_id)


def _folder_task(suite: str, folder: Path) -> BenchTask:
    from perfsmith.kernels.spec import is_kernel_task

    if is_kernel_task(folder):
        from perfsmith.kernels.mode import bench_task

        return bench_task(folder, suite)
    where = folder / "task.yaml"
    try:
        meta = yaml.safe_load(where.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"Cannot read {where}: {exc}", "Fix the YAML.") from exc
    if not isinstance(meta, dict):
        raise ConfigError(f"{where} is not a mapping.", "See benchmarks/README.md for the format.")

    def file_text(key: str, required: bool) -> str:
        name = meta.get(key)
        if not name:
            if required:
                raise ConfigError(f"{where} has no {key!r}.", f"Add {key}: FILE.")
            return ""
        try:
            return (folder / str(name)).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{where}: cannot read {key} {name}: {exc.strerror}.", "") from exc

    repo = folder / str(meta.get("repo", "repo"))
    if repo.is_dir():
        source = RepoSource("folder", str(repo))
    elif repo.name.endswith((".tar.gz", ".tgz", ".tar")) and repo.is_file():
        source = RepoSource("tarball", str(repo))
    elif repo.suffix == ".bundle" and repo.is_file():
        source = RepoSource("bundle", str(repo), meta.get("base_commit") or "HEAD")
    else:
        raise ConfigError(
            f"{where}: the repository {repo} is missing or of an unknown kind.",
            "Use a folder, a .tar.gz or a git bundle (.bundle, with base_commit).",
        )
    target = meta.get("target", "latency")
    if target not in _TARGETS:
        raise ConfigError(f"{where}: unknown target {target!r}.", f"Use one of {_TARGETS}.")
    tests = meta.get("tests") or []
    return BenchTask(
        instance_id=str(meta.get("instance_id") or f"{suite}__{folder.name}"),
        suite=suite,
        source=source,
        workload_code=file_text("workload", True),
        expert_patch=file_text("expert_patch", False),
        tests=tuple([tests] if isinstance(tests, str) else tests),
        target=target,
        pythonpath=tuple(meta.get("pythonpath") or (".",)),
        problem=str(meta.get("problem") or ""),
        category=meta.get("category"),
    )


def load_swefficiency(path: Path, repos: Path) -> list[BenchTask]:
    """SWE-fficiency rows, one JSON object per line, with repositories cloned under ``repos``."""
    tasks = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            tasks.append(swefficiency_task(row, repos, suite=path.stem))
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"{path}:{number} is not a SWE-fficiency row ({exc}).",
                "Each line needs instance_id, repo, base_commit, patch and workload.",
            ) from exc
    return tasks


def swefficiency_task(row: dict[str, Any], repos: Path, *, suite: str) -> BenchTask:
    """One SWE-fficiency row as a task (its repository must be cloned under ``repos``)."""
    name = str(row["repo"])
    owner, _, short = name.rpartition("/")
    candidates = [repos / name.replace("/", "__"), repos / short, repos / owner / short]
    clone = next((c for c in candidates if (c / ".git").exists()), None)
    if clone is None:
        raise ConfigError(
            f"No local clone of {name} for {row['instance_id']} under {repos}.",
            f"Clone it: git clone https://github.com/{name} {repos / name.replace('/', '__')}",
        )
    tests = row.get("covering_tests") or row.get("PASS_TO_PASS") or []
    if isinstance(tests, str):
        tests = json.loads(tests) if tests.startswith("[") else tests.split()
    return BenchTask(
        instance_id=str(row["instance_id"]),
        suite=suite,
        source=RepoSource("clone", str(clone), str(row["base_commit"])),
        workload_code=workload_from_script(str(row["workload"])),
        expert_patch=str(row.get("patch") or ""),
        tests=tuple(str(t) for t in tests),
        problem=str(row.get("problem_statement") or ""),
    )


def workload_from_script(code: str) -> str:
    """Keep a workload script's imports, definitions and plain assignments; drop the
    top-level statements that time it (``timeit.repeat(...)``, prints, loops), so
    importing it defines ``setup()`` and ``workload()`` and runs nothing else."""
    tree = ast.parse(code)
    defs = ast.Import | ast.ImportFrom | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
    kept: list[ast.stmt] = [
        node
        for node in tree.body
        if isinstance(node, defs)
        or (isinstance(node, ast.Assign | ast.AnnAssign) and not _calls_timeit(node))
    ]
    names = {n.name for n in kept if isinstance(n, ast.FunctionDef)}
    if "workload" not in names:
        raise ValueError("the workload script defines no workload() function")
    return ast.unparse(ast.Module(body=kept, type_ignores=[])) + "\n"


def _calls_timeit(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Call) and "timeit" in ast.unparse(n.func) for n in ast.walk(node))


def materialize(task: BenchTask, dest: Path) -> Path:
    """Write the task's repository at its base into ``dest`` (a new folder), add the
    workload as ``perfsmith_workload.py`` and commit it all as one base commit.

    Raises:
        ConfigError: the repository cannot be unpacked or the base commit is missing.
    """
    src = task.source
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        if src.kind == "folder":
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".git")
            shutil.copytree(src.path, dest, ignore=ignore, symlinks=True)
        elif src.kind == "tarball":
            dest.mkdir()
            with tarfile.open(src.path) as tar:
                tar.extractall(dest, filter="data")
        else:  # a bundle or a local clone: the tree of the base commit, without history
            dest.mkdir()
            archive = _git_archive(src)
            if archive.returncode != 0:
                raise ConfigError(
                    f"{task.instance_id}: git cannot read {src.commit} from {src.path}: "
                    f"{archive.stderr.decode(errors='replace').strip()[-300:]}",
                    "Fetch the base commit into the clone (git fetch) and try again.",
                )
            subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    except (OSError, tarfile.TarError, subprocess.CalledProcessError) as exc:
        raise ConfigError(
            f"{task.instance_id}: cannot unpack its repository {src.path}: {exc}.",
            "Check the task's repo entry.",
        ) from exc
    (dest / WORKLOAD_NAME).write_text(task.workload_code, encoding="utf-8")
    git = [*_GIT, *_IDENTITY, "-C", str(dest)]
    for args in (["init", "-q", "-b", "main"], ["add", "-A", "-f"],
                 ["commit", "-q", "--no-verify", "-m", f"{task.instance_id} base"]):  # fmt: skip
        subprocess.run([*git, *args], check=True, capture_output=True, timeout=300)
    return dest


def _git_archive(src: RepoSource) -> subprocess.CompletedProcess[bytes]:
    """A tar of the base commit's tree; a bundle is cloned into a scratch folder first."""
    commit = src.commit or "HEAD"
    if src.kind == "clone":
        return subprocess.run(
            [*_GIT, "-C", src.path, "archive", "--format=tar", commit],
            capture_output=True, check=False, timeout=600,
        )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="perfsmith-bundle-") as tmp:
        clone = Path(tmp) / "clone"
        res = subprocess.run(
            [*_GIT, "clone", "-q", "--no-checkout", src.path, str(clone)],
            capture_output=True, check=False, timeout=600,
        )  # fmt: skip
        if res.returncode != 0:
            return res
        return subprocess.run(
            [*_GIT, "-C", str(clone), "archive", "--format=tar", commit],
            capture_output=True, check=False, timeout=600,
        )  # fmt: skip
