"""LocalSandbox file access, patches and diffs against the base commit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from perfsmith.errors import SandboxError
from perfsmith.sandbox.local import LocalSandbox, WorkspaceFileError

MODULE = (
    "def slow(n):\n    total = 0\n    for i in range(n):\n        total += i\n    return total\n"
)
FAST = "def slow(n):\n    return n * (n - 1) // 2\n"


@pytest.fixture
def box(tmp_path: Path) -> Iterator[LocalSandbox]:
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "mod.py").write_text(MODULE)
    (repo / "notes.txt").write_text("keep\n")
    (tmp_path / "secret.txt").write_text("outside\n")
    (repo / "escape").symlink_to(tmp_path)
    sandbox = LocalSandbox.create(repo, tmp_path / "ws")
    yield sandbox
    sandbox.close()


def test_read_and_write_files(box: LocalSandbox) -> None:
    assert box.read_file("pkg/mod.py") == MODULE
    box.write_file("pkg/deep/new.py", "A = 1\r\n")
    assert (box.root / "pkg" / "deep" / "new.py").read_bytes() == b"A = 1\r\n"
    with pytest.raises(WorkspaceFileError):
        box.read_file("pkg/missing.py")
    with pytest.raises(SandboxError):
        box.read_file("pkg")
    (box.root / "latin1.txt").write_bytes(b"caf\xe9\n")
    with pytest.raises(OSError):  # also an OSError, for callers that catch those
        box.read_file("latin1.txt")


@pytest.mark.parametrize(
    "path", ["../secret.txt", "/etc/passwd", "pkg/../../secret.txt", "escape/secret.txt", ""]
)
def test_paths_outside_the_workspace_are_rejected(box: LocalSandbox, path: str) -> None:
    with pytest.raises(SandboxError) as err:
        box.read_file(path)
    assert err.value.hint
    with pytest.raises(SandboxError):
        box.write_file(path, "pwned\n")
    assert (box.root.parent.parent / "secret.txt").read_text() == "outside\n"


def test_git_internals_are_not_writable(box: LocalSandbox) -> None:
    with pytest.raises(SandboxError):
        box.write_file(".git/hooks/pre-commit", "#!/bin/sh\n")


def test_diff_then_apply_reproduces_the_change(box: LocalSandbox) -> None:
    fresh = box.clone("fresh")
    box.write_file("pkg/mod.py", FAST)
    box.write_file("pkg/added.py", "B = 2\n")
    (box.root / "notes.txt").unlink()
    (box.root / "blob.bin").write_bytes(bytes(range(256)) * 4)
    patch = box.diff_against_base()
    assert "GIT binary patch" in patch
    res = fresh.apply_patch(patch)
    assert res.ok, res.stderr
    assert fresh.read_file("pkg/mod.py") == FAST
    assert fresh.read_file("pkg/added.py") == "B = 2\n"
    assert not (fresh.root / "notes.txt").exists()
    assert (fresh.root / "blob.bin").read_bytes() == bytes(range(256)) * 4
    assert fresh.diff_against_base() == patch


def test_diff_ignores_bytecode_and_caches(box: LocalSandbox) -> None:
    (box.root / "pkg" / "__pycache__").mkdir()
    (box.root / "pkg" / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"\0")
    (box.root / ".pytest_cache").mkdir()
    (box.root / ".pytest_cache" / "x").write_text("x")
    assert box.diff_against_base() == ""


def test_apply_patch_that_does_not_fit_changes_nothing(box: LocalSandbox) -> None:
    bad = (
        "diff --git a/pkg/mod.py b/pkg/mod.py\n--- a/pkg/mod.py\n+++ b/pkg/mod.py\n"
        "@@ -1,2 +1,2 @@\n-def not_there(n):\n-    nope\n+def slow(n):\n+    return 0\n"
    )
    res = box.apply_patch(bad)
    assert not res.ok
    assert "patch" in res.stderr
    assert box.read_file("pkg/mod.py") == MODULE
    assert list(box.private.rglob("*.patch")) == []


def test_apply_patch_outside_the_tree_fails(box: LocalSandbox) -> None:
    evil = "--- /dev/null\n+++ b/../../evil.py\n@@ -0,0 +1 @@\n+x = 1\n"
    assert not box.apply_patch(evil).ok
    assert not (box.root.parent.parent / "evil.py").exists()


def test_empty_patch_is_a_successful_noop(box: LocalSandbox) -> None:
    assert box.apply_patch("").ok
    assert box.diff_against_base() == ""
