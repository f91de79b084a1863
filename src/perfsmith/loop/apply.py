"""``--apply``: put the best patch on a new branch without touching the user's checkout."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import git

from perfsmith.errors import RepoError


def commit_to_branch(repo_path: Path, patch: str, branch: str, message: str) -> str:
    """Commit ``patch`` on top of HEAD as the new branch ``branch``; return the commit sha.

    Works through a private index file, so HEAD, the real index and the working tree
    are never touched; only new objects and the new ref are written.

    Raises:
        RepoError: not a git repository, the branch exists, or the patch does not apply
            to HEAD (for example because the run saw uncommitted changes).
    """
    try:
        repo = git.Repo(repo_path)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
        raise RepoError(
            f"{repo_path} is not a git repository, so --apply cannot create a branch.",
            "Apply best.patch from the run folder by hand (patch -p1 < best.patch).",
        ) from exc
    if repo.head.is_valid() is False:
        raise RepoError(
            f"{repo_path} has no commit yet.", "Commit once, or apply best.patch by hand."
        )
    if branch in [h.name for h in repo.heads]:
        raise RepoError(f"The branch {branch} already exists.", "Delete it or pick another run.")
    with tempfile.TemporaryDirectory(prefix="perfsmith-apply-") as tmp:
        index = os.path.join(tmp, "index")
        patch_file = os.path.join(tmp, "best.patch")
        Path(patch_file).write_text(patch, encoding="utf-8")
        env = {"GIT_INDEX_FILE": index}
        g = repo.git
        g.read_tree("HEAD", env=env)
        try:
            g.apply("--cached", "--whitespace=nowarn", patch_file, env=env)
        except git.GitCommandError as exc:
            raise RepoError(
                "The best patch does not apply to HEAD of "
                f"{repo_path}: {str(exc.stderr).strip()[-300:]}",
                "The run copied uncommitted changes too; commit them first and run again, "
                "or apply best.patch to your working tree by hand.",
            ) from exc
        tree = g.write_tree(env=env)
        sha = g.commit_tree(
            tree,
            "-p",
            "HEAD",
            "-m",
            message,
            env={
                "GIT_AUTHOR_NAME": "perfsmith",
                "GIT_AUTHOR_EMAIL": "perfsmith@localhost",
                "GIT_COMMITTER_NAME": "perfsmith",
                "GIT_COMMITTER_EMAIL": "perfsmith@localhost",
            },
        )
        g.update_ref(f"refs/heads/{branch}", sha)
    return str(sha)
