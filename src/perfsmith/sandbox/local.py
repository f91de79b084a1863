"""The local sandbox: a private copy of the repository and plain subprocesses.

A workspace is a copy of the user's project (``snapshot_files``) with a fresh git
repository inside, so candidates can be applied as patches and diffed against the base.
Commands run directly (no shell) in their own process group with a minimal environment
and resource limits; on timeout, on Ctrl-C, and after the command ends, the whole group
is killed, so stray background processes do not outlive a command.

Isolation is weak by default, and that is a choice, not an accident: commands run as the
same user, with the same network and the same view of the file system. A command can read
or write anything that user can, including the JUnit report outside the workspace. Use the
Docker sandbox (hardened containers) for code you do not trust; this one guards against
mistakes, not against malice.

``isolation="bwrap"`` runs each command under bubblewrap instead: see
``perfsmith.sandbox.bwrap`` for that profile and its limits.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, ClassVar, Literal, Self, TypeVar

from perfsmith import interrupts
from perfsmith.core import ExecResult, Sandbox
from perfsmith.errors import SandboxError
from perfsmith.sandbox.bwrap import bwrap_argv, bwrap_available, runnable
from perfsmith.sandbox.proc import (
    KILL_GRACE_S,
    OUTPUT_CAP,
    READER_JOIN_S,
    TailReader,
    limiter,
    remove_tree,
    signal_group,
    wait_no_reap,
)
from perfsmith.sandbox.pyenv import PythonEnv
from perfsmith.sandbox.snapshot import SKIP_DIRS, copy_entry, snapshot_files

GiB = 1024**3
__all__ = ["SKIP_DIRS", "Limits", "LocalSandbox", "WorkspaceFileError", "snapshot_files"]
# Workspace git: no user or system config (no hooks, signing, filters, pagers), no CRLF games.
_GIT_FLAGS = (
    "-c", "core.autocrlf=false", "-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null",
    "-c", "commit.gpgsign=false", "-c", "gc.auto=0", "-c", "maintenance.auto=false",
    "-c", "user.name=perfsmith", "-c", "user.email=perfsmith@localhost",
    # A container's user may own the files (Docker sandbox); git would call that dubious.
    "-c", "safe.directory=*",
)  # fmt: skip
# Files that running code leaves behind; never part of a candidate's diff.
_WORKSPACE_EXCLUDES = "__pycache__/\n*.pyc\n.pytest_cache/\n.mypy_cache/\n"


_Box = TypeVar("_Box", bound="LocalSandbox")
Isolation = Literal["none", "bwrap"]


class WorkspaceFileError(SandboxError, OSError):
    """A workspace file is missing or not text; callers may catch it as OSError too."""


@dataclass(frozen=True)
class Limits:
    """Resource limits applied to every command (None: leave the limit as it is).

    ``processes`` is RLIMIT_NPROC, which counts every process of the user on the machine
    and is not enforced for root: it is a guard against fork bombs, not a quota.
    """

    memory_bytes: int | None = 4 * GiB
    processes: int | None = 512
    file_bytes: int | None = 1 * GiB
    core_bytes: int | None = 0


class LocalSandbox:
    """One candidate's workspace on the local machine (weak isolation, see module docs).

    Attributes:
        root: the workspace (a git repository whose first commit is the base).
        private: a folder outside the workspace for HOME, TMPDIR and reports.
        limits: resource limits applied to every command.
        isolation: ``"none"`` (plain subprocesses) or ``"bwrap"`` (bubblewrap, see
            ``perfsmith.sandbox.bwrap``).
        python_env: the interpreter whose folders bubblewrap must show again when they
            lie under /tmp (a virtualenv there is hidden otherwise); None: none.
    """

    _live: ClassVar[dict[int, subprocess.Popen[bytes]]] = {}
    _live_lock: ClassVar[threading.RLock] = threading.RLock()

    def __init__(
        self,
        root: Path,
        private: Path,
        limits: Limits | None = None,
        *,
        isolation: Isolation = "none",
        python_env: PythonEnv | None = None,
    ) -> None:
        """Wrap an existing workspace folder; ``create`` makes and fills one.

        Raises:
            SandboxError: ``isolation`` is unknown, or is "bwrap" and bubblewrap does not run.
        """
        if isolation not in ("none", "bwrap"):
            raise SandboxError(f"Unknown isolation {isolation!r}.", 'Use "none" or "bwrap".')
        if isolation == "bwrap" and not bwrap_available():
            raise SandboxError(
                "bubblewrap (bwrap) is missing or cannot create namespaces here.",
                "Install it (as root: apt-get install bubblewrap; `make test` does) "
                'or use isolation "none".',
            )
        self.root = root
        self.private = private
        self.limits = limits or Limits()
        self.isolation: Isolation = isolation
        self.python_env = python_env

    @property
    def kind(self) -> str:
        """``"local"``, or ``"local+bwrap"`` when commands run under bubblewrap."""
        return "local+bwrap" if self.isolation == "bwrap" else "local"

    @classmethod
    def create(
        cls,
        repo: Path,
        parent: Path,
        name: str = "base",
        *,
        limits: Limits | None = None,
        isolation: Isolation = "none",
        python_env: PythonEnv | None = None,
    ) -> LocalSandbox:
        """Copy the user's project into ``parent/name`` and commit it as the base.

        Raises:
            RepoError: the repository is missing or not a directory.
            SandboxError: the workspace exists already, git is missing or fails, or the
                isolation cannot be had.
        """

        def make(root: Path, private: Path) -> LocalSandbox:
            return cls(root, private, limits, isolation=isolation, python_env=python_env)

        return cls._new(parent, name, make).populate(repo)

    def populate(self, repo: Path) -> Self:
        """Copy the user's project into this empty workspace and commit it as the base;
        on failure the workspace is removed (see ``create``)."""
        box = self
        try:
            files = snapshot_files(repo)
            src_root = repo.resolve()
            for rel in files:
                copy_entry(src_root, box.root, rel)
            box._git_checked("init", "-q", "--template=", "-b", "main")
            (box.root / ".git" / "info").mkdir(parents=True, exist_ok=True)
            (box.root / ".git" / "info" / "exclude").write_text(_WORKSPACE_EXCLUDES)
            # -f: the snapshot already chose the files; a .gitignore must not drop tracked ones.
            box._git_checked("add", "-A", "-f")
            box._git_checked("commit", "-q", "--no-verify", "--allow-empty", "-m", "perfsmith base")
        except BaseException:
            box.close()
            raise
        return box

    def clone(self, name: str) -> Self:
        """Copy this workspace, history included, into a sibling folder ``name``."""
        box = self._new(self.root.parent, name, self._sibling)
        box.root.rmdir()
        try:
            shutil.copytree(self.root, box.root, symlinks=True)
        except BaseException:
            box.close()
            raise
        return box

    def _sibling(self, root: Path, private: Path) -> Self:
        """A new, empty sandbox of the same kind and settings (subclasses add theirs)."""
        return type(self)(
            root, private, self.limits, isolation=self.isolation, python_env=self.python_env
        )

    @staticmethod
    def _new(parent: Path, name: str, make: Callable[[Path, Path], _Box]) -> _Box:
        if not name or "/" in name or name in (".", ".."):
            raise SandboxError(f"Bad workspace name {name!r}.", "Use a plain folder name.")
        root = parent / name
        if root.exists() or root.is_symlink():
            raise SandboxError(
                f"Workspace {root} already exists.", "Pick another name or remove the folder."
            )
        root.mkdir(parents=True)
        private = parent / f"{name}.private"
        try:
            box = make(root, private)
        except BaseException:
            root.rmdir()  # a sandbox that cannot be made leaves no folder behind
            raise
        box._private_dirs()
        return box

    def _private_dirs(self) -> tuple[Path, Path]:
        home, tmp = self.private / "home", self.private / "tmp"
        home.mkdir(parents=True, exist_ok=True)
        tmp.mkdir(parents=True, exist_ok=True)
        return home, tmp

    # -- commands ---------------------------------------------------------------

    def _prepare(
        self, argv: Sequence[str], env: Mapping[str, str] | None, cwd: str | None, path: str
    ) -> tuple[tuple[str, ...], Path, dict[str, str]]:
        """A command's argv, working folder and environment: PATH, LANG, a private HOME and
        TMPDIR, no bytecode files, a fixed hash seed; ``env`` adds to or overrides these."""
        args = tuple(str(a) for a in argv)
        if not args:
            raise SandboxError("Empty command.", "Pass the program and its arguments.")
        home, tmp = self._private_dirs()
        full_env = {
            "PATH": path,
            "LANG": "C.UTF-8",
            "HOME": str(home),
            "TMPDIR": str(tmp),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "0",
            **(env or {}),
        }
        return args, self._inside(cwd) if cwd else self.root, full_env

    def exec(
        self,
        argv: Sequence[str],
        *,
        timeout_s: float,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> ExecResult:
        """Run ``argv`` (no shell) in the workspace and wait for it, at most ``timeout_s``.

        The process gets its own process group, a minimal environment (PATH, LANG, a
        private HOME and TMPDIR, PYTHONDONTWRITEBYTECODE=1, PYTHONHASHSEED=0; ``env``
        adds to or overrides these) and the sandbox's limits. When the command ends,
        times out, or a KeyboardInterrupt arrives, its whole group is killed. Under
        bubblewrap, killing bwrap (the group leader) ends the command's pid namespace.

        Raises:
            SandboxError: the command could not be started.
        """
        args, workdir, full_env = self._prepare(argv, env, cwd, os.environ.get("PATH", os.defpath))
        interrupts.check()
        if self.isolation == "bwrap" and not runnable(args[0], workdir, full_env["PATH"]):
            # bwrap itself starts fine and only then fails: report it as without bwrap.
            raise SandboxError(
                f"Could not start {args[0]}: not found or not executable.",
                "Check that the program exists and is executable.",
            )
        command = self._command(args, workdir=workdir)
        started = time.monotonic()
        try:
            proc = subprocess.Popen(
                command, cwd=workdir, env=full_env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                preexec_fn=limiter(_rlimits(self.limits)),  # rlimits must be set in the child
            )  # fmt: skip
        except OSError as exc:
            raise SandboxError(
                f"Could not start {args[0]}: {exc.strerror or exc}.",
                "Check that the program exists and is executable.",
            ) from exc
        assert proc.stdout is not None and proc.stderr is not None
        with self._live_lock:
            self._live[proc.pid] = proc
        # The readers own the pipes and close them at EOF: a process that escaped the group
        # may hold them open, and closing under a blocked reader could hit a reused fd.
        # Passed per call, not left to the default: this module's OUTPUT_CAP is the one that counts.
        readers = (TailReader(proc.stdout, OUTPUT_CAP), TailReader(proc.stderr, OUTPUT_CAP))
        timed_out = False
        try:
            timed_out = not wait_no_reap(proc.pid, timeout_s)
            if timed_out:
                signal_group(proc.pid, signal.SIGTERM)
                wait_no_reap(proc.pid, KILL_GRACE_S)
        finally:
            # However we got here (done, timed out, KeyboardInterrupt), kill what is left of
            # the group while the unreaped leader still holds its id, then reap.
            signal_group(proc.pid, signal.SIGKILL)
            with self._live_lock:
                self._live.pop(proc.pid, None)
            proc.wait()
            for r in readers:
                r.join(READER_JOIN_S)
        interrupts.check()  # an interrupt swallowed while this command ran
        return ExecResult(
            argv=args,
            returncode=proc.returncode,
            stdout=readers[0].text(),
            stderr=readers[1].text(),
            duration_s=time.monotonic() - started,
            timed_out=timed_out,
        )

    def _command(self, args: tuple[str, ...], *, workdir: Path | None = None) -> tuple[str, ...]:
        """The argv that runs ``args`` in ``workdir`` (default: the root) with this isolation."""
        if self.isolation != "bwrap":
            return args
        return bwrap_argv(
            args,
            root=self.root,
            private=self.private,
            workdir=workdir or self.root,
            python_env=self.python_env,
        )

    @classmethod
    def kill_all(cls) -> int:
        """Kill every process group still running for any local sandbox.

        Returns:
            How many groups were signalled.
        """
        with cls._live_lock:
            pids = list(cls._live)
        for pid in pids:
            signal_group(pid, signal.SIGKILL)
        return len(pids)

    # -- files --------------------------------------------------------------------

    def _inside(self, path: str, *, for_write: bool = False) -> Path:
        pure = PurePosixPath(path)
        if not path or "\0" in path or pure.is_absolute() or ".." in pure.parts:
            raise SandboxError(
                f"Path {path!r} is not inside the workspace.",
                "Use a path relative to the repository root, without '..'.",
            )
        if for_write and pure.parts and pure.parts[0] == ".git":
            raise SandboxError(f"Path {path!r} is git's own data.", "Edit project files only.")
        full = self.root / pure
        if not full.resolve().is_relative_to(self.root.resolve()):
            raise SandboxError(
                f"Path {path!r} leaves the workspace through a symlink.",
                "Edit the file the link points to, inside the repository.",
            )
        return full

    def read_file(self, path: str) -> str:
        """Return a workspace file's text (UTF-8).

        Raises:
            SandboxError: the path leaves the workspace.
            WorkspaceFileError: the file is missing or not UTF-8 text (also an OSError).
        """
        full = self._inside(path)
        try:
            return full.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise WorkspaceFileError(
                f"No file {path!r} in the workspace.", "Check the path."
            ) from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise WorkspaceFileError(f"Cannot read {path!r}: {exc}.", "Only text files.") from exc

    def write_file(self, path: str, content: str) -> None:
        """Write ``content`` (UTF-8, newlines kept as given) to a workspace file."""
        full = self._inside(path, for_write=True)
        full.parent.mkdir(parents=True, exist_ok=True)
        with open(full, "w", encoding="utf-8", newline="") as fh:
            fh.write(content)

    def apply_patch(self, patch: str) -> ExecResult:
        """Apply a unified diff (git format, ``a/`` ``b/`` prefixes) to the work tree.

        Returns:
            The failing ``git apply --check`` result if the patch does not apply
            (nothing changed), else the result of applying it. An empty patch is a
            successful no-op.
        """
        if not patch.strip():
            return ExecResult(("git", "apply"), 0, "", "empty patch: nothing to apply", 0.0)
        _, tmp = self._private_dirs()
        patch_file = tmp / f"perfsmith-{os.getpid()}-{threading.get_ident()}.patch"
        # surrogateescape mirrors diff_against_base, so non-UTF-8 bytes round-trip.
        patch_file.write_bytes(patch.encode("utf-8", "surrogateescape"))
        try:
            check = self._git("apply", "--check", "--whitespace=nowarn", str(patch_file))
            if not check.ok:
                return check
            return self._git("apply", "--whitespace=nowarn", str(patch_file))
        finally:
            patch_file.unlink(missing_ok=True)

    def diff_against_base(self) -> str:
        """Return every change since the base commit as a git diff (binary files included).

        Text is decoded with ``surrogateescape``, so bytes that are not UTF-8 survive a
        round trip through ``apply_patch``.
        """
        self._git_checked("add", "-A")
        res = self._git(
            "diff", "--cached", "--binary", "--no-color", "--no-ext-diff", "--no-textconv",
            "HEAD", encoding_errors="surrogateescape",
        )  # fmt: skip
        if not res.ok:
            raise SandboxError(f"git diff failed: {res.stderr.strip()}", "Report this as a bug.")
        return res.stdout

    def changed_paths(self) -> set[str]:
        """Files changed or created in the work tree since the base commit (git runs here,
        on the host, never inside the sandbox)."""
        res = self._git("status", "--porcelain", "-uall", "--no-renames")
        return {line[3:].strip().strip('"') for line in res.stdout.splitlines() if len(line) > 3}

    def close(self) -> None:
        """Delete the workspace and its private folder (safe to call twice)."""
        for path in (self.root, self.private):
            remove_tree(path)

    def __enter__(self) -> LocalSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- git ------------------------------------------------------------------------

    def _git(self, *args: str, encoding_errors: str = "replace") -> ExecResult:
        home, _ = self._private_dirs()
        env = {
            "PATH": os.environ.get("PATH", os.defpath),
            "HOME": str(home),
            "LANG": "C",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
        }
        argv = ("git", *_GIT_FLAGS, *args)
        started = time.monotonic()
        try:
            proc = subprocess.run(
                argv, cwd=self.root, env=env, capture_output=True, timeout=600, check=False
            )
        except FileNotFoundError as exc:
            raise SandboxError("git is not installed.", "Install git and try again.") from exc
        except subprocess.TimeoutExpired as exc:
            raise SandboxError(f"git {args[0]} hung.", "Check the workspace's disk.") from exc
        return ExecResult(
            argv=argv,
            returncode=proc.returncode,
            stdout=proc.stdout.decode("utf-8", encoding_errors),
            stderr=proc.stderr.decode("utf-8", "replace"),
            duration_s=time.monotonic() - started,
        )

    def _git_checked(self, *args: str) -> None:
        res = self._git(*args)
        if not res.ok:
            raise SandboxError(
                f"git {args[0]} failed in {self.root}: {res.stderr.strip()[-500:]}",
                "Check that git works and the disk is not full.",
            )


def _rlimits(limits: Limits) -> list[tuple[int, int | None]]:
    return [
        (resource.RLIMIT_AS, limits.memory_bytes),
        (resource.RLIMIT_DATA, limits.memory_bytes),
        (resource.RLIMIT_NPROC, limits.processes),
        (resource.RLIMIT_FSIZE, limits.file_bytes),
        (resource.RLIMIT_CORE, limits.core_bytes),
    ]


if TYPE_CHECKING:  # mypy proves that a LocalSandbox is a core.Sandbox

    def _is_a_sandbox(box: LocalSandbox) -> Sandbox:
        return box
