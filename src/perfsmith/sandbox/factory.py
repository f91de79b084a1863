"""Choosing and opening the sandbox a run asks for (``--sandbox auto|docker|local``).

``auto`` means Docker when an engine answers, else the local sandbox with a one-line
warning about its weaker isolation. The local sandbox uses bubblewrap where it exists.
The Docker module (and the docker SDK) is imported only when Docker is asked for.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from perfsmith.config import DockerConfig, SandboxKind
from perfsmith.sandbox.bwrap import bwrap_available
from perfsmith.sandbox.local import LocalSandbox
from perfsmith.sandbox.pyenv import inspect_python

MiB = 1024**2
GiB = 1024**3


@dataclass(frozen=True)
class Choice:
    """The sandbox a run gets: ``kind`` is "docker", "local" or "local+bwrap"."""

    kind: str
    warning: str = ""


def choose(requested: SandboxKind, *, bwrap: bool = True) -> Choice:
    """Resolve ``auto`` and check that what was asked for works.

    Raises:
        SandboxError: ``docker`` was asked for and the engine does not answer.
    """
    local = "local+bwrap" if bwrap and bwrap_available() else "local"
    if requested == "local":
        return Choice(local)
    from perfsmith.sandbox import docker as dock

    if requested == "docker":
        dock.engine()  # raises the one-paragraph error when the engine is down
        return Choice("docker")
    ok, why = dock.engine_status()
    if ok:
        return Choice("docker")
    isolation = "bubblewrap isolation" if local == "local+bwrap" else "no isolation"
    return Choice(
        local,
        f"Docker is not available ({why}); candidates run in the local sandbox with "
        f"{isolation}, which is weaker. Start Docker, or pass --sandbox local to silence this.",
    )


def open_base(
    choice: Choice,
    repo: Path,
    parent: Path,
    *,
    python: str,
    docker: DockerConfig,
    notify: Callable[[str], None] = lambda line: None,
) -> LocalSandbox:
    """Copy ``repo`` into ``parent/base`` as the kind of workspace ``choice`` names.

    For Docker this also removes containers left by killed runs and builds the image if
    its inputs changed.
    """
    if choice.kind != "docker":
        if choice.kind == "local+bwrap":
            env = inspect_python(python, exclude=(parent,))
            return LocalSandbox.create(repo, parent, "base", isolation="bwrap", python_env=env)
        return LocalSandbox.create(repo, parent, "base")
    from perfsmith.sandbox import docker as dock
    from perfsmith.sandbox import image as images

    client = dock.engine()
    removed = dock.remove_leftovers(client)
    if removed:
        notify(f"Removed {len(removed)} container(s) left by an interrupted run.")
    uid, gid = dock.container_user()
    plan = images.plan_image(python, docker.image_base, docker.packages, uid=uid, gid=gid)
    img = dock.ensure_image(client, plan, parent, notify=notify)
    if img.built:
        notify(f"Built the sandbox image {img.tag} in {img.seconds:.1f} s.")
    env = inspect_python(python, exclude=(parent,))
    settings = dock.DockerSettings(
        image=img.tag,
        python_paths=env.paths,
        memory_bytes=int(docker.memory_gb * GiB),
        pids=docker.pids,
        cpuset=docker.cpus,
        tmpfs_bytes=docker.tmpfs_mb * MiB,
    )
    return dock.open_docker(repo, parent, "base", settings, client, env)


def kill_all() -> None:
    """Stop every command of every sandbox of this process (Ctrl-C, fatal errors)."""
    LocalSandbox.kill_all()
    dock = sys.modules.get("perfsmith.sandbox.docker")
    if dock is not None:
        dock.DockerSandbox.kill_all()
