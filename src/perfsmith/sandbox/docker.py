"""The Docker sandbox: every command of a workspace runs in its own hardened container.

The workspace itself is a ``LocalSandbox`` on the host: copying the project, the git base,
applying patches and diffing happen there, with trusted git. Only commands (the
candidate's tests and workload, i.e. code we do not trust) run inside the container. The
workspace and its private folder are bind-mounted read-write *at their own paths*, the
workspace's ``.git`` read-only, and the Python environment read-only, so every path a
command names means the same inside as outside and verdicts match the local sandbox.

Profile (``container_spec``): no network, read-only root, a non-root user, every
capability dropped, ``no-new-privileges``, pids/memory/CPU limits with the CPU set pinned,
a size-capped tmpfs on /tmp, docker's init as PID 1 and a label on every container. Never
privileged, never the Docker socket, and SYS_ADMIN only when GPU profiling asks for it.

Lifecycle: one container per workspace (base and each candidate), started on its first
command. A command that outlives its timeout takes its container with it (the next
command gets a fresh one, the files are on the host); ``close`` and ``kill_all`` (Ctrl-C)
remove ours; ``remove_leftovers`` removes containers whose owning perfsmith process on
this host is gone (a kill -9) and nothing else.

Commands: one ``docker exec`` per container starts a small runner (``_runner.py``) as the
command user; each command is then a fresh process it starts, in its own session, and
after each it kills the command's group and every straggler of that uid (the keepalive
runs under another uid). A ``docker exec`` per command cost ~50 ms; through the runner a
command starts as fast as on the host (``scripts/bench_sandbox.py``). A command that kills
the runner fails, and the next one gets a fresh container.

This is the only module that imports ``docker``.
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, cast

import docker
import docker.errors
from docker.models.containers import Container

from perfsmith import interrupts
from perfsmith.core import ExecResult
from perfsmith.errors import SandboxError
from perfsmith.sandbox import image as images
from perfsmith.sandbox import rootfs
from perfsmith.sandbox.channel import Channel, decode_output, install_runner
from perfsmith.sandbox.container import (
    LABEL,
    DockerSettings,
    chown_tree,
    container_spec,
    container_user,
    is_leftover,
    owner_labels,
    start_ticks,
)
from perfsmith.sandbox.local import LocalSandbox
from perfsmith.sandbox.pyenv import PythonEnv

ENGINE_TIMEOUT_S = 10
__all__ = [
    "DockerSandbox",
    "DockerSettings",
    "ImageResult",
    "container_user",
    "engine",
    "engine_status",
    "ensure_image",
    "open_docker",
    "remove_leftovers",
]


# ----------------------------------------------------------------------------- engine
_clients: dict[str, docker.DockerClient] = {}


def engine() -> docker.DockerClient:
    """A client of the engine DOCKER_HOST names (or the default socket), known to answer.

    Raises:
        SandboxError: the engine does not answer, with what to do.
    """
    where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if where in _clients:
        return _clients[where]
    try:
        client = docker.from_env(timeout=ENGINE_TIMEOUT_S)
        client.ping()
    except docker.errors.DockerException as exc:
        raise SandboxError(
            f"The Docker engine at {where} does not answer ({_short(exc)}).",
            "Start it (for example `systemctl start docker`), point DOCKER_HOST at a running "
            "engine, or run with --sandbox local (weaker isolation; see `perfsmith doctor`).",
        ) from exc
    _clients[where] = client
    return client


def engine_status() -> tuple[bool, str]:
    """Whether the engine answers, and its version or why not (for auto and doctor)."""
    try:
        client = engine()
        return True, f"engine {client.version().get('Version', '?')}"
    except SandboxError as exc:
        return False, exc.message
    except docker.errors.DockerException as exc:
        return False, _short(exc)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


# ----------------------------------------------------------------------------- image
@dataclass(frozen=True)
class ImageResult:
    """The image a run uses and whether this call built it."""

    tag: str
    built: bool
    seconds: float


def ensure_image(
    client: docker.DockerClient,
    plan: images.ImagePlan,
    work: Path,
    *,
    notify: Callable[[str], None] = lambda line: None,
) -> ImageResult:
    """Return the image for ``plan``, building it from local material when it is missing.

    The cache key is the plan's content hash (its label), so an image is rebuilt only
    when its inputs change.

    Raises:
        SandboxError: the build fails.
    """
    started = time.monotonic()
    found = client.images.list(filters={"label": f"perfsmith.image.key={plan.key}"})
    if found:
        return ImageResult(found[0].tags[0] if found[0].tags else str(found[0].id), False, 0.0)
    notify(f"Building the sandbox image {plan.tag} from {plan.base} (once; it is cached).")
    changes = [f"LABEL {k}={v}" for k, v in sorted(plan.labels.items())]
    changes.append(f"USER {images.KEEPALIVE_UID}:{images.KEEPALIVE_UID}")
    repository, _, tag = plan.tag.partition(":")
    try:
        if plan.base in images.HOST_BASES:
            tar = work / f"rootfs-{plan.key[:16]}.tar"
            writer = rootfs.write_host_rootfs if plan.base == "host" else rootfs.write_debian_rootfs
            try:
                writer(plan, tar)
                client.api.import_image(
                    src=str(tar), repository=repository, tag=tag, changes=changes
                )
            finally:
                tar.unlink(missing_ok=True)
        else:
            dockerfile = images.dockerfile_for(plan).encode()
            client.images.build(
                fileobj=io.BytesIO(dockerfile), tag=plan.tag, labels=plan.labels, rm=True
            )
    except docker.errors.DockerException as exc:
        raise SandboxError(
            f"Building the sandbox image from {plan.base} failed: {_short(exc)}.",
            "Run `perfsmith doctor`; with no registry, use the 'host' or 'debian' image base.",
        ) from exc
    if not client.images.list(filters={"label": f"perfsmith.image.key={plan.key}"}):
        raise SandboxError(
            f"The sandbox image {plan.tag} was built but carries no perfsmith label.",
            "Report this as a bug.",
        )
    return ImageResult(plan.tag, True, time.monotonic() - started)


# ------------------------------------------------------------------------- leftovers
def remove_leftovers(client: docker.DockerClient) -> list[str]:
    """Remove containers left by perfsmith processes that died (see ``is_leftover``).

    Returns:
        The names of the removed containers.
    """
    host = socket.gethostname()
    removed = []
    for c in client.containers.list(all=True, filters={"label": f"{LABEL}=1"}):
        if is_leftover(c.labels, host, start_ticks):
            with contextlib.suppress(docker.errors.NotFound):
                c.remove(force=True)
                removed.append(str(c.name or c.id))
    return removed


# --------------------------------------------------------------------------- sandbox
class DockerSandbox(LocalSandbox):
    """A workspace whose commands run in a hardened container (see the module docs)."""

    python_env: PythonEnv
    _containers: ClassVar[dict[int, DockerSandbox]] = {}
    _containers_lock: ClassVar[threading.RLock] = threading.RLock()

    def __init__(
        self,
        root: Path,
        private: Path,
        settings: DockerSettings,
        client: docker.DockerClient,
        python_env: PythonEnv,
    ) -> None:
        super().__init__(root, private, python_env=python_env)
        self.settings = settings
        self.client = client
        self.python_env = python_env
        self.uid, self.gid = container_user()
        self._container: Container | None = None
        self._channel: Channel | None = None
        self._owned = False  # files handed to the container's user since the last change

    def _sibling(self, root: Path, private: Path) -> DockerSandbox:
        return DockerSandbox(root, private, self.settings, self.client, self.python_env)

    # -- files change on the host; the container's user must own them -------------------
    def apply_patch(self, patch: str) -> ExecResult:
        self._owned = False
        return super().apply_patch(patch)

    def write_file(self, path: str, content: str) -> None:
        self._owned = False
        super().write_file(path, content)

    def _hand_over(self) -> None:
        """Give the container's user what the harness wrote: the workspace after a change,
        the private folder (small: scratch files are removed after use) before every command."""
        if os.getuid() != 0:
            return  # the container runs as our own uid: nothing to hand over
        tops = [self.private] if self._owned else [self.root, self.private]
        for top in tops:
            chown_tree(top, self.uid, self.gid, skip=top / ".git")
        self._owned = True

    # -- container ---------------------------------------------------------------------
    def _ensure_container(self) -> Container:
        if self._container is not None:
            return self._container
        name = f"perfsmith-{os.getpid()}-{self.root.parent.name}-{self.root.name}"
        spec = container_spec(
            self.settings, name=name, root=self.root, private=self.private, labels=owner_labels()
        )
        try:
            container = self.client.containers.create(**spec)
        except docker.errors.DockerException as exc:
            raise SandboxError(
                f"Could not create a sandbox container: {_short(exc)}.",
                "Run `perfsmith doctor`, or use --sandbox local.",
            ) from exc
        with self._containers_lock:
            self._containers[id(self)] = self
        self._container = container
        try:
            container.start()
        except docker.errors.DockerException as exc:
            self._discard()
            raise SandboxError(
                f"Could not start a sandbox container: {_short(exc)}.",
                "Run `perfsmith doctor`, or use --sandbox local.",
            ) from exc
        return container

    def _discard(self) -> None:
        """Kill and remove this workspace's container (if any), and its runner."""
        channel, self._channel = self._channel, None
        if channel is not None:
            channel.close()
        container, self._container = self._container, None
        with self._containers_lock:
            self._containers.pop(id(self), None)
        if container is not None:
            with contextlib.suppress(docker.errors.DockerException):
                container.remove(force=True)

    @property
    def kind(self) -> str:
        return "docker"

    @property
    def container_id(self) -> str | None:
        """The running container's id (None before the first command or after a timeout)."""
        return self._container.id if self._container is not None else None

    def exec(
        self,
        argv: Sequence[str],
        *,
        timeout_s: float,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> ExecResult:
        """Run ``argv`` in this workspace's container (see ``LocalSandbox.exec``).

        On timeout the container is killed and removed, with everything in it; the next
        command starts a fresh one.

        Raises:
            SandboxError: the command could not be started, or the engine failed.
        """
        pybin = os.path.dirname(self.python_env.executable)
        args, workdir, full_env = self._prepare(
            argv, env, cwd, f"{pybin}:/usr/local/bin:/usr/bin:/bin"
        )
        if args[0] == self.python_env.python:  # a shim or alias: the real interpreter inside
            args = (self.python_env.executable, *args[1:])
        interrupts.check()
        self._hand_over()
        channel = self._ensure_runner()
        started = time.monotonic()
        request = {"argv": list(args), "env": full_env, "cwd": str(workdir)}
        try:
            reply = channel.request(request, timeout_s)
        except TimeoutError:
            self._discard()  # kills the command and everything else in the container
            return ExecResult(args, -9, "", "", time.monotonic() - started, timed_out=True)
        except BaseException:
            self._discard()
            raise
        if reply is None:  # the command killed the runner (kill -9 -1), or the engine did
            why = channel.stderr.strip()[-500:]
            self._discard()
            return ExecResult(
                args, -9, "", f"[perfsmith] the sandbox's command runner died. {why}".strip(),
                time.monotonic() - started,
            )  # fmt: skip
        if "error" in reply:
            why = "not found in the sandbox image" if reply["error"] == "not_found" else "failed"
            raise SandboxError(
                f"Could not start {args[0]}: {why} ({reply.get('detail', '')}).",
                "Use a program from the Python environment or the image (see `perfsmith "
                "doctor`), or add its Debian package to docker.packages in the config.",
            )
        interrupts.check()  # an interrupt swallowed while this command ran
        dropped = reply.get("dropped", [0, 0])
        return ExecResult(
            argv=args,
            returncode=int(reply["rc"]),
            stdout=decode_output(reply["out"], dropped[0]),
            stderr=decode_output(reply["err"], dropped[1]),
            duration_s=time.monotonic() - started,
        )

    def _ensure_runner(self) -> Channel:
        """The container's command runner, started with one ``docker exec`` if needed."""
        if self._channel is not None and self._container is not None:
            return self._channel
        container = self._ensure_container()
        script = install_runner(self.private)
        try:
            exec_id = self.client.api.exec_create(
                container.id, [self.python_env.executable, "-I", "-u", str(script)],
                stdin=True, user=f"{self.uid}:{self.gid}", workdir=str(self.private),
                environment={"LANG": "C.UTF-8", "PERFSMITH_RUNNER": "1"},
            )["Id"]  # fmt: skip
            sock = self.client.api.exec_start(exec_id, socket=True)
        except docker.errors.DockerException as exc:
            self._discard()
            raise SandboxError(
                f"The Docker engine could not start the sandbox's command runner: {_short(exc)}.",
                "Run `perfsmith doctor`, or use --sandbox local.",
            ) from exc
        # A unix-socket engine hands back a SocketIO; the channel needs the socket under it.
        self._channel = Channel(cast(socket.socket, getattr(sock, "_sock", sock)))
        return self._channel

    @classmethod
    def kill_all(cls) -> int:
        """Remove every container of this process's Docker sandboxes (Ctrl-C, errors)."""
        with cls._containers_lock:
            boxes = list(cls._containers.values())
        for box in boxes:
            box._discard()
        return len(boxes)

    def close(self) -> None:
        """Remove the container, then the workspace and its private folder."""
        self._discard()
        super().close()


def open_docker(
    repo: Path,
    parent: Path,
    name: str,
    settings: DockerSettings,
    client: docker.DockerClient,
    python_env: PythonEnv,
) -> DockerSandbox:
    """Copy the user's project into ``parent/name`` as a Docker workspace (see ``create``)."""
    return LocalSandbox._new(
        parent,
        name,
        lambda root, private: DockerSandbox(root, private, settings, client, python_env),
    ).populate(repo)
