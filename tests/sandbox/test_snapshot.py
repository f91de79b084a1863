"""snapshot_files, LocalSandbox.create/clone and the promise never to write into the user's repo."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from perfsmith.errors import RepoError, SandboxError
from perfsmith.sandbox.local import LocalSandbox, snapshot_files

GIT_ENV = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def git(repo: Path, *args: str) -> str:
    out = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=repo, env=GIT_ENV, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return out.stdout


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def tree_state(root: Path) -> dict[str, tuple[object, ...]]:
    """Every entry under root (.git included): mode, mtime and content hash or link target."""
    state: dict[str, tuple[object, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            rel = str(path.relative_to(root))
            if stat.S_ISLNK(st.st_mode):
                state[rel] = ("link", os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                state[rel] = ("dir", st.st_mode, st.st_mtime_ns)
            else:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                state[rel] = ("file", st.st_mode, st.st_mtime_ns, digest)
    top = root.stat()
    state["."] = ("dir", top.st_mode, top.st_mtime_ns)
    return state


@pytest.fixture
def user_repo(tmp_path: Path) -> Path:
    """A git repo with tracked, modified, deleted, untracked and ignored files."""
    repo = tmp_path / "user"
    write(repo / "pkg" / "__init__.py", "X = 1\n")
    write(repo / "pkg" / "gone.py", "old\n")
    write(repo / ".gitignore", "*.log\nbuild/\n")
    write(repo / "forced.log", "tracked although ignored\n")
    git(repo.parent, "init", "-q", str(repo))
    git(repo, "add", "-A")
    git(repo, "add", "-f", "forced.log")
    git(repo, "commit", "-q", "-m", "init")
    write(repo / "pkg" / "__init__.py", "X = 2  # modified, not committed\n")
    (repo / "pkg" / "gone.py").unlink()
    write(repo / "new_module.py", "Y = 3\n")
    write(repo / "debug.log", "ignored\n")
    write(repo / "build" / "out.txt", "ignored\n")
    return repo


def test_snapshot_git_repo_follows_the_work_tree(user_repo: Path) -> None:
    assert snapshot_files(user_repo) == [
        ".gitignore",
        "forced.log",
        "new_module.py",
        "pkg/__init__.py",
    ]


def test_snapshot_includes_nested_repositories_without_their_git(user_repo: Path) -> None:
    nested = user_repo / "vendor" / "lib"
    write(nested / "code.py", "Z = 1\n")
    git(user_repo, "init", "-q", str(nested))
    assert [f for f in snapshot_files(user_repo) if f.startswith("vendor")] == [
        "vendor/lib/code.py"
    ]


def test_snapshot_of_a_subfolder_is_relative_to_it(user_repo: Path) -> None:
    assert snapshot_files(user_repo / "pkg") == ["__init__.py"]


def test_snapshot_plain_folder_skips_caches_and_envs(tmp_path: Path) -> None:
    for rel in [
        "a.py", "sub/b.txt", ".hidden.cfg", "sub/__pycache__/b.cpython-311.pyc", "c.pyc",
        ".venv/bin/python", "venv/x", ".mypy_cache/y", ".pytest_cache/z",
        "node_modules/m.js", ".git/HEAD", "sub/.git",
    ]:  # fmt: skip
        write(tmp_path / rel, "x\n")
    assert snapshot_files(tmp_path) == [".hidden.cfg", "a.py", "sub/b.txt"]


def test_snapshot_rejects_missing_and_non_directories(tmp_path: Path) -> None:
    with pytest.raises(RepoError) as missing:
        snapshot_files(tmp_path / "nope")
    assert missing.value.hint
    with pytest.raises(RepoError):
        snapshot_files(write(tmp_path / "file.py", ""))


def test_create_copies_working_tree_and_commits_base(user_repo: Path, tmp_path: Path) -> None:
    box = LocalSandbox.create(user_repo, tmp_path / "ws")
    assert box.kind == "local"
    assert box.root == tmp_path / "ws" / "base"
    assert (box.root / "pkg" / "__init__.py").read_text() == "X = 2  # modified, not committed\n"
    assert not (box.root / "debug.log").exists()
    assert not (box.root / "pkg" / "gone.py").exists()
    assert git(box.root, "log", "--format=%s").splitlines() == ["perfsmith base"]
    tracked = git(box.root, "ls-files").split()
    assert "forced.log" in tracked  # a .gitignore in the project must not drop it
    assert box.diff_against_base() == ""
    assert not box.private.is_relative_to(box.root)


def test_create_keeps_modes_and_in_tree_symlinks(tmp_path: Path) -> None:
    repo = tmp_path / "plain"
    script = write(repo / "run.sh", "#!/bin/sh\necho hi\n")
    script.chmod(0o755)
    write(repo / "data" / "real.txt", "payload\n")
    (repo / "rel_link.txt").symlink_to("data/real.txt")
    (repo / "abs_link.txt").symlink_to(repo / "data" / "real.txt")
    (repo / "outside_link").symlink_to(tmp_path)
    box = LocalSandbox.create(repo, tmp_path / "ws")
    assert os.access(box.root / "run.sh", os.X_OK)
    assert os.readlink(box.root / "rel_link.txt") == "data/real.txt"
    # An absolute link into the project must point into the copy, not at the user's files.
    assert (box.root / "abs_link.txt").resolve() == (box.root / "data" / "real.txt").resolve()
    assert os.readlink(box.root / "outside_link") == str(tmp_path)


def test_user_repo_is_never_written(user_repo: Path, tmp_path: Path) -> None:
    before = tree_state(user_repo)
    assert any(k.startswith(".git/") for k in before)
    snapshot_files(user_repo)
    box = LocalSandbox.create(user_repo, tmp_path / "ws")
    other = box.clone("c1")
    other.write_file("pkg/__init__.py", "X = 3\n")
    other.exec([sys.executable, "-c", "open('made.txt', 'w').write('x')"], timeout_s=30)
    other.diff_against_base()
    other.close()
    box.close()
    assert tree_state(user_repo) == before


def test_clone_is_an_independent_copy_with_history(user_repo: Path, tmp_path: Path) -> None:
    box = LocalSandbox.create(user_repo, tmp_path / "ws")
    box.write_file("pkg/__init__.py", "X = 10\n")
    twin = box.clone("twin")
    assert twin.root == tmp_path / "ws" / "twin"
    assert twin.read_file("pkg/__init__.py") == "X = 10\n"
    twin.write_file("pkg/__init__.py", "X = 20\n")
    assert box.read_file("pkg/__init__.py") == "X = 10\n"
    assert "+X = 20" in twin.diff_against_base()
    assert twin.limits == box.limits


def test_existing_workspace_name_is_refused(user_repo: Path, tmp_path: Path) -> None:
    box = LocalSandbox.create(user_repo, tmp_path / "ws")
    with pytest.raises(SandboxError):
        LocalSandbox.create(user_repo, tmp_path / "ws")
    with pytest.raises(SandboxError):
        box.clone("base")
    with pytest.raises(SandboxError):
        box.clone("../escape")


def test_close_is_idempotent_and_removes_private(user_repo: Path, tmp_path: Path) -> None:
    box = LocalSandbox.create(user_repo, tmp_path / "ws")
    (box.private / "report.xml").write_text("<x/>")
    box.close()
    box.close()
    assert not box.root.exists()
    assert not box.private.exists()
