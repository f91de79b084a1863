"""A small suite built from the tiny fixture repository: fast, deterministic gains."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from perfsmith.diffs import unified_diff

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "tinyrepo"
FAST = {
    "timing": {"rounds": 4, "values": 2, "warmups": 0, "min_time_s": 0.02},
    "checks": {"hidden_variants": 1},
}


def expert_patch() -> str:
    """Cut the fixture's pause fivefold (below the tenfold quarantine line)."""
    old = (FIXTURE / "tiny" / "core.py").read_text()
    new = old.replace("time.sleep(0.02)", "time.sleep(0.004)")
    return unified_diff({"tiny/core.py": old}, {"tiny/core.py": new})


def make_suite(parent: Path, names: tuple[str, ...] = ("alpha", "beta", "gamma")) -> Path:
    """A suite folder with one task per name (each the tiny repo, its workload, an expert
    patch that cuts the pause fivefold) and a config file with fast timing settings."""
    suite = parent / "minisuite"
    for name in names:
        task = suite / name
        shutil.copytree(
            FIXTURE, task / "repo", ignore=shutil.ignore_patterns("__pycache__", "bench")
        )
        shutil.copy(FIXTURE / "bench" / "workload.py", task / "workload.py")
        (task / "expert.patch").write_text(expert_patch())
        (task / "task.yaml").write_text(
            yaml.safe_dump(
                {
                    "category": "redundant work",
                    "problem": "total() is slow.",
                    "repo": "repo",
                    "workload": "workload.py",
                    "expert_patch": "expert.patch",
                    "tests": ["tests"],
                }
            )
        )
    (parent / "fast.yaml").write_text(yaml.safe_dump(FAST))
    return suite


def git_repo(path: Path) -> str:
    """Make ``path`` a git repository with one commit; return the commit's sha."""
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    subprocess.run([*git, "-C", str(path), "add", "-A"], check=True)
    subprocess.run([*git, "-C", str(path), "commit", "-qm", "base"], check=True)
    out = subprocess.run(
        ["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()
