"""What gets copied from the user's project into a workspace, and how.

Nothing here writes into the user's repository: git runs without optional locks and
without fsmonitor, and links that point into the project are re-pointed into the copy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from perfsmith.errors import RepoError

SKIP_DIRS = frozenset(
    {".git", ".venv", "venv", "__pycache__", ".mypy_cache", ".pytest_cache", "node_modules"}
)


def snapshot_files(repo: Path) -> list[str]:
    """List the files that make up the user's project, relative to ``repo``, sorted.

    In a git work tree: tracked files that still exist plus untracked files that are
    not ignored (the working-tree content is what gets copied). Elsewhere: every file,
    skipping virtualenvs, caches, ``.git`` and ``*.pyc``. Nothing is written into
    ``repo``: git runs without optional locks and without fsmonitor.

    Args:
        repo: the user's project folder.

    Returns:
        POSIX-style relative paths of files and symlinks.

    Raises:
        RepoError: ``repo`` does not exist or is not a directory.
    """
    if not repo.exists():
        raise RepoError(f"Repository {repo} does not exist.", "Check the path you gave.")
    if not repo.is_dir():
        raise RepoError(f"Repository {repo} is not a directory.", "Point at the project folder.")
    listed = _git_listing(repo)
    if not listed:  # not a git work tree, or a folder the enclosing repository ignores
        return _walk(repo)
    files: set[str] = set()
    for rel in (p.rstrip("/") for p in listed):  # a nested repository is listed as "dir/"
        path = repo / rel
        if path.is_symlink() or path.is_file():
            files.add(rel)
        elif path.is_dir():  # a submodule or nested repository: its files, not its .git
            files.update(f"{rel}/{sub}" for sub in _walk(path))
        # else: tracked but deleted in the work tree; the snapshot follows the work tree
    return sorted(files)


def _git_listing(repo: Path) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    for key in ("GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM", "GIT_CONFIG_NOSYSTEM"):
        if key in os.environ:
            env[key] = os.environ[key]
    env["GIT_OPTIONAL_LOCKS"] = "0"
    # safe.directory: we only list files, and fsmonitor (the one hook ls-files could run)
    # is off, so a repository owned by another user is safe to read.
    base = ["git", "-c", "core.fsmonitor=false", "-c", "core.untrackedCache=false"]
    base += ["-c", "safe.directory=*"]
    try:
        inside = subprocess.run(
            [*base, "rev-parse", "--is-inside-work-tree"],
            cwd=repo, env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        if inside.returncode != 0 or inside.stdout.strip() != "true":
            return []
        out = subprocess.run(
            [*base, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=repo, env=env, capture_output=True, timeout=300, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return []  # no git on PATH, or a hung file system: fall back to walking
    if out.returncode != 0:
        return []
    return [os.fsdecode(p) for p in out.stdout.split(b"\0") if p]


def _walk(root: Path) -> list[str]:
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        keep = []
        for d in dirnames:
            if d in SKIP_DIRS:
                continue
            if (here / d).is_symlink():  # os.walk does not descend into these; copy the link
                found.append((here / d).relative_to(root).as_posix())
            else:
                keep.append(d)
        dirnames[:] = sorted(keep)
        found.extend(
            (here / f).relative_to(root).as_posix()
            for f in filenames
            if not f.endswith(".pyc") and f != ".git"
        )
    return sorted(found)


def copy_entry(src_root: Path, dst_root: Path, rel: str) -> None:
    """Copy one file or symlink ``rel`` from ``src_root`` to ``dst_root``."""
    src, dst = src_root / rel, dst_root / rel
    dst.parent.mkdir(parents=True, exist_ok=True)
    if not src.is_symlink():
        shutil.copy2(src, dst)
        return
    target = os.readlink(src)
    absolute = Path(os.path.normpath(src.parent / target))
    if absolute.is_relative_to(src_root):
        # A link into the project must point into the copy, never back at the user's tree.
        link = os.path.relpath(dst_root / absolute.relative_to(src_root), dst.parent)
    else:
        link = str(absolute)  # outside the project: keep pointing at the same place
    os.symlink(link, dst)
