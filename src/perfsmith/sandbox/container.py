"""The Docker sandbox's container profile and ownership rules (pure: no engine needed).

``container_spec`` is the whole hardened profile as ``containers.create`` keyword
arguments, so tests can assert on it; ``is_leftover`` decides which labelled containers
a later run may remove.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfsmith.sandbox import image as images

GiB = 1024**3
LABEL = "perfsmith.sandbox"


@dataclass(frozen=True)
class DockerSettings:
    """How containers are made.

    Attributes:
        image: the image tag (see ``ensure_image``).
        python_paths: host folders mounted read-only at their own paths (the interpreter).
        memory_bytes: memory limit (swap included: no swap).
        pids: most processes and threads in the container at once.
        cpuset: CPUs the container is pinned to ("0-1", "1"); None: those perfsmith may use.
        tmpfs_bytes: size cap of /tmp.
        gpu_profiling: grant SYS_ADMIN for GPU profilers (never otherwise).
    """

    image: str
    python_paths: tuple[str, ...] = ()
    memory_bytes: int = 8 * GiB
    pids: int = 512
    cpuset: str | None = None
    tmpfs_bytes: int = 1 * GiB
    gpu_profiling: bool = False


def default_cpuset() -> str:
    """The CPUs this process may run on, as Docker's list syntax ("0,1")."""
    return ",".join(str(c) for c in sorted(os.sched_getaffinity(0)))


def container_user() -> tuple[int, int]:
    """The uid:gid commands run as: ours, unless we are root (then a fixed non-root one)."""
    uid, gid = os.getuid(), os.getgid()
    if uid == 0 or uid == images.KEEPALIVE_UID:
        return images.SANDBOX_UID, images.SANDBOX_GID
    return uid, gid


def owner_labels() -> dict[str, str]:
    """Labels naming this perfsmith process, so a later run can tell leftovers apart."""
    return {
        LABEL: "1",
        "perfsmith.owner.host": socket.gethostname(),
        "perfsmith.owner.pid": str(os.getpid()),
        "perfsmith.owner.start": start_ticks(os.getpid()),
    }


def container_spec(
    settings: DockerSettings,
    *,
    name: str,
    root: Path,
    private: Path,
    labels: Mapping[str, str],
) -> dict[str, Any]:
    """The keyword arguments for ``containers.create`` (pure: tests assert on it)."""
    binds = [(str(root), False), (str(root / ".git"), True), (str(private), False)]
    binds += [(p, True) for p in settings.python_paths]
    cpuset = settings.cpuset or default_cpuset()
    cpus = _count_cpus(cpuset)
    spec: dict[str, Any] = {
        "image": settings.image,
        "command": ["sleep", "infinity"],
        "name": name,
        "user": f"{images.KEEPALIVE_UID}:{images.KEEPALIVE_UID}",
        "labels": dict(labels),
        "detach": True,
        "init": True,
        "network_mode": "none",
        "read_only": True,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
        "pids_limit": settings.pids,
        "mem_limit": settings.memory_bytes,
        "memswap_limit": settings.memory_bytes,
        "cpuset_cpus": cpuset,
        "nano_cpus": cpus * 1_000_000_000,
        "tmpfs": {"/tmp": f"rw,nosuid,nodev,size={settings.tmpfs_bytes},mode=1777"},
        "mounts": [{"Target": p, "Source": p, "Type": "bind", "ReadOnly": ro} for p, ro in binds],
        "working_dir": str(root),
        "privileged": False,
    }
    if settings.gpu_profiling:
        spec["cap_add"] = ["SYS_ADMIN"]
    return spec


def _count_cpus(cpuset: str) -> int:
    count = 0
    for part in cpuset.split(","):
        lo, _, hi = part.strip().partition("-")
        count += int(hi) - int(lo) + 1 if hi else 1
    return max(count, 1)


def start_ticks(pid: int) -> str:
    """A process's start time in clock ticks since boot ("" when unknown): with the pid it
    names one process, even after the pid is reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]


def is_leftover(labels: Mapping[str, str], host: str, start_of: Callable[[int], str]) -> bool:
    """Whether a container is ours and its owner is gone (pure, given ``start_of``).

    Only containers with our label, made on this host, whose owning process no longer
    runs (no such pid, or a pid reused by a process that started at another time).
    """
    if labels.get(LABEL) != "1" or labels.get("perfsmith.owner.host") != host:
        return False
    try:
        pid = int(labels.get("perfsmith.owner.pid", ""))
    except ValueError:
        return False
    start = start_of(pid)
    return not start or start != labels.get("perfsmith.owner.start")


def chown_tree(top: Path, uid: int, gid: int, *, skip: Path) -> None:
    """Hand ``top`` and everything in it but ``skip`` (the referee's git) to uid:gid."""
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = [d for d in dirnames if os.path.join(dirpath, d) != str(skip)]
        for path in (dirpath, *(os.path.join(dirpath, n) for n in (*dirnames, *filenames))):
            with contextlib.suppress(FileNotFoundError):
                st = os.lstat(path)
                if st.st_uid != uid or st.st_gid != gid:
                    os.lchown(path, uid, gid)
