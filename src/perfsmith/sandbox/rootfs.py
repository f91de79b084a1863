"""The Docker sandbox image's root file system, written as a tar from local material.

``write_host_rootfs`` copies the files of an ``ImagePlan``'s packages from this machine;
``write_debian_rootfs`` installs them with debootstrap from a Debian mirror. Both add the
sandbox's users and the same few /etc files, leave out documentation, and write the tar
atomically, for ``docker import`` to turn into a one-layer image.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import stat
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from perfsmith.errors import SandboxError
from perfsmith.sandbox.image import (
    SKIP_PREFIXES,
    TOP_SYMLINKS,
    ImagePlan,
    canonical_path,
    read_dpkg_db,
)

# Static archives and headers build programs: left out unless the image was asked for a C
# toolchain (kernel mode compiles inside the sandbox; libc6-dev marks that request).
_DEV_FILES = re.compile(r"\.a$|^/usr/include/")
TOOLCHAIN_MARK = "libc6-dev"
# valgrind's 32-bit tools: the sandbox runs the host's 64-bit interpreter only.
_SKIP_FILES = re.compile(
    r"^/usr/libexec/valgrind/.*-x86-linux" if os.uname().machine == "x86_64" else r"(?!)"
)
_DEPOT_DIRS = ("proc", "sys", "dev")  # empty mount points
# An entry is a host path to copy, a file's bytes, or a directory's mode (made up).
_Entry = str | bytes | int
_HOSTS = b"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
_NSSWITCH = b"".join(
    f"{db}: files\n".encode()
    for db in ("passwd", "group", "shadow", "hosts", "networks", "protocols", "services")
)


@dataclass(frozen=True)
class RootfsInfo:
    """A written root file system: tar members, tar size in bytes, seconds taken."""

    files: int
    bytes: int
    seconds: float


def _skipped(path: str, prefixes: Sequence[str] = SKIP_PREFIXES, *, dev: bool = False) -> bool:
    """Whether ``path`` stays out of the image (``dev``: keep headers and static archives)."""
    if (path + "/").startswith(tuple(prefixes)) or _SKIP_FILES.search(path):
        return True
    return not dev and bool(_DEV_FILES.search(path))


def _accounts(plan: ImagePlan, passwd: str = "", group: str = "") -> dict[str, _Entry]:
    """/etc/passwd and /etc/group: the given ones (or root's alone) plus our two users."""
    passwd = (
        passwd or "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/nonexistent:/bin/false\n"
    )
    group = group or "root:x:0:\nnogroup:x:65534:\n"
    users = [
        ("perfsmith", plan.uid, plan.gid, "/tmp", "/bin/sh"),
        ("perfsmith-keepalive", plan.keepalive_uid, plan.keepalive_uid, "/nonexistent",
         "/bin/false"),
    ]  # fmt: skip
    names = {u[0] for u in users}
    uids = {str(u[1]) for u in users}
    # A user of the base that has one of our names or uids makes way for ours.
    lines = [
        line for line in passwd.splitlines()
        if len(fields := line.split(":")) > 2 and fields[0] not in names and fields[2] not in uids
    ]  # fmt: skip
    lines += [f"{n}:x:{u}:{g}::{home}:{shell}" for n, u, g, home, shell in users]
    groups = [line for line in group.splitlines() if line.strip()]
    known = {line.split(":")[2] for line in groups if len(line.split(":")) > 2}
    for name, _, gid, _, _ in users:
        if str(gid) not in known:  # a gid the base already names keeps its name
            groups.append(f"{name}:x:{gid}:")
            known.add(str(gid))
    return {
        "etc/passwd": ("\n".join(lines) + "\n").encode(),
        "etc/group": ("\n".join(groups) + "\n").encode(),
        "etc/hosts": _HOSTS,
        "etc/nsswitch.conf": _NSSWITCH,
    }


def _fixed_dirs() -> dict[str, _Entry]:
    # /root is 0755, not 0700: the interpreter and its venv are often mounted below it.
    dirs: dict[str, _Entry] = {"etc": 0o755, "tmp": 0o1777, "root": 0o755}
    return dirs | {d: 0o755 for d in _DEPOT_DIRS}


def _alternatives(dpkg_dir: Path, files: set[str]) -> set[str]:
    """Links of update-alternatives (in no package's file list) that point into ``files``."""
    wanted: set[str] = set()
    for spec in sorted((dpkg_dir / "alternatives").glob("*")):
        lines = spec.read_text(errors="replace").splitlines()
        links = [(spec.name, lines[1])] if len(lines) > 1 else []
        for i in range(2, len(lines) - 1, 2):
            if not lines[i]:
                break
            links.append((lines[i], lines[i + 1]))
        for name, link in links:
            chosen = f"/etc/alternatives/{name}"
            with contextlib.suppress(OSError):
                if canonical_path(os.path.realpath(chosen)) in files:
                    wanted |= {chosen, canonical_path(link)}
    return wanted


def write_host_rootfs(
    plan: ImagePlan, dest: Path, *, dpkg_dir: Path = Path("/var/lib/dpkg")
) -> RootfsInfo:
    """Write the image's root file system as a tar of this host's package files.

    Each listed path is put in merged-/usr canonical form and added once, with its
    directories; documentation is left out; everything is owned by root and set-id bits
    are dropped. Generated: /etc/passwd, /etc/group, /etc/hosts, /etc/nsswitch.conf; from
    the host: /etc/ld.so.cache and /etc/ld.so.conf(.d). The tar is written atomically.

    Args:
        plan: a plan for the "host" base.
        dest: the tar to write (uncompressed).
        dpkg_dir: dpkg's database directory.

    Raises:
        ValueError: the plan is for another base.
        SandboxError: the host's packages changed since the plan, or a list is missing.
    """
    if plan.base != "host":
        raise ValueError(f"write_host_rootfs needs a 'host' plan, not {plan.base!r}")
    started = time.monotonic()
    db = read_dpkg_db(dpkg_dir / "status")
    for name, version, arch in plan.versions:
        p = db.get(name)
        if p is None or not p.installed or (p.version, p.arch) != (version, arch):
            raise SandboxError(
                f"Package {name} changed on this machine since the sandbox image was planned.",
                "Start the run again; the image is planned anew.",
            )
    files: set[str] = set()
    for name, _, arch in plan.versions:
        listing = dpkg_dir / "info" / f"{name}:{arch}.list"
        if not listing.exists():
            listing = dpkg_dir / "info" / f"{name}.list"
        try:
            lines = listing.read_text(errors="replace").splitlines()
        except OSError as exc:
            raise SandboxError(
                f"dpkg lists no files for the installed package {name}: {exc.strerror}.",
                f"Reinstall it (apt-get install --reinstall {name}).",
            ) from exc
        files.update(canonical_path(line) for line in lines if line.strip("/."))
    dev = TOOLCHAIN_MARK in plan.packages
    files = {f for f in files if not _skipped(f, dev=dev)}
    files |= _alternatives(dpkg_dir, files)
    for path in list(files):
        parent = os.path.dirname(path)
        while parent != "/" and parent not in files:
            files.add(parent)
            parent = os.path.dirname(parent)
    entries: dict[str, _Entry] = {f.lstrip("/"): f for f in files}
    entries |= {n: f"/{n}" for n in TOP_SYMLINKS if os.path.islink(f"/{n}")}
    entries |= {"etc/ld.so.cache": "/etc/ld.so.cache", "etc/ld.so.conf": "/etc/ld.so.conf"}
    conf_d = Path("/etc/ld.so.conf.d")
    if conf_d.is_dir():
        entries["etc/ld.so.conf.d"] = 0o755
        entries |= {f"etc/ld.so.conf.d/{c.name}": str(c) for c in conf_d.glob("*.conf")}
    entries |= _fixed_dirs() | _accounts(plan)
    return _write_tar(dest, entries, root_owned=True, started=started)


def _write_tar(
    dest: Path, entries: Mapping[str, _Entry], *, root_owned: bool, started: float
) -> RootfsInfo:
    """Write ``entries`` sorted (directories before what they hold), atomically."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
    count = 0
    try:
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w") as tar:
            for arc in sorted(entries, key=lambda a: a.split("/")):
                count += _add(tar, arc, entries[arc], root_owned)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return RootfsInfo(count, dest.stat().st_size, time.monotonic() - started)


def _add(tar: tarfile.TarFile, arc: str, entry: _Entry, root_owned: bool) -> int:
    """Add one member; 0 when its host path is gone or is not a file, link or directory."""
    if isinstance(entry, str):
        try:
            info = tar.gettarinfo(entry, arc)
        except OSError:
            return 0
        if not (info.isreg() or info.isdir() or info.issym() or info.islnk()):
            return 0
    else:
        info = tarfile.TarInfo(arc)
        info.mtime = int(time.time())
        if isinstance(entry, int):
            info.type, info.mode = tarfile.DIRTYPE, entry
        else:
            info.size, info.mode = len(entry), 0o644
    if root_owned:
        info.uid = info.gid = 0
    info.uname = info.gname = ""
    if info.isreg():
        info.mode &= ~(stat.S_ISUID | stat.S_ISGID)  # nothing in the sandbox gains rights
    if isinstance(entry, bytes):
        tar.addfile(info, io.BytesIO(entry))
    elif isinstance(entry, str) and info.isreg():
        with open(entry, "rb") as fh:
            tar.addfile(info, fh)
    else:
        tar.addfile(info)
    return 1


# ---------------------------------------------------------------------------- debian
def _codename() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            key, _, value = line.partition("=")
            if key == "VERSION_CODENAME" and value.strip('"'):
                return value.strip('"')
    raise SandboxError(
        "Cannot tell which Debian release to install: /etc/os-release names none.",
        "Pass the suite (for example bookworm) or use the 'host' image base.",
    )


def write_debian_rootfs(
    plan: ImagePlan,
    dest: Path,
    *,
    mirror: str = "http://deb.debian.org/debian",
    suite: str | None = None,
    dpkg_dir: Path = Path("/var/lib/dpkg"),
) -> RootfsInfo:
    """Write the image's root file system as a tar of a fresh debootstrap install.

    Installs the minimal base plus the plan's non-essential packages (the mirror's
    versions) into a temporary directory beside ``dest``, adds our users and the same
    /etc files as the host base, leaves out documentation and apt's caches, and writes
    the tar atomically. Needs root and a reachable mirror; takes minutes.

    Args:
        plan: a plan for the "debian" base.
        dest: the tar to write (uncompressed).
        mirror: the Debian mirror.
        suite: the release; by default this machine's (VERSION_CODENAME).
        dpkg_dir: this host's dpkg database (to tell essential packages).

    Raises:
        ValueError: the plan is for another base.
        SandboxError: debootstrap is missing or fails.
    """
    if plan.base != "debian":
        raise ValueError(f"write_debian_rootfs needs a 'debian' plan, not {plan.base!r}")
    tool = shutil.which("debootstrap")
    if tool is None:
        raise SandboxError(
            "The 'debian' sandbox image needs debootstrap, which is not installed.",
            "Install it (apt-get install debootstrap) or use the 'host' image base.",
        )
    started = time.monotonic()
    suite = suite or _codename()
    db = read_dpkg_db(dpkg_dir / "status") if (dpkg_dir / "status").exists() else {}
    include = [n for n in plan.packages if not (n in db and db[n].essential)]
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".perfsmith-debootstrap-", dir=dest.parent))
    root = work / "root"
    try:
        cmd = [tool, "--variant=minbase", f"--include={','.join(include)}", suite, str(root)]
        try:
            done = subprocess.run(
                [*cmd, mirror], capture_output=True, text=True, errors="replace", timeout=3600
            )
        except subprocess.TimeoutExpired as exc:
            raise SandboxError("debootstrap took over an hour.", "Check the mirror.") from exc
        if done.returncode != 0:
            tail = " ".join((done.stdout + done.stderr).strip().splitlines()[-3:])
            raise SandboxError(
                f"debootstrap {suite} from {mirror} failed (exit {done.returncode}): {tail}",
                "Check that the mirror is reachable and has every package named, that this"
                " runs as root, or use the 'host' image base.",
            )
        passwd, group = (_read(root / "etc" / n) for n in ("passwd", "group"))
        entries = _tree_entries(root) | _fixed_dirs() | _accounts(plan, passwd, group)
        return _write_tar(dest, entries, root_owned=False, started=started)
    finally:
        _remove_tree(work)


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


_TREE_SKIPS = (*SKIP_PREFIXES, "/var/cache/apt/", "/var/lib/apt/lists/", "/var/log/")


def _tree_entries(root: Path) -> dict[str, _Entry]:
    entries: dict[str, _Entry] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        if rel.split("/")[0] in _DEPOT_DIRS:
            dirnames[:] = []
            continue
        for name in dirnames + filenames:
            arc = os.path.normpath(os.path.join(rel, name))
            if not _skipped(f"/{arc}", _TREE_SKIPS):
                entries[arc] = os.path.join(dirpath, name)
        dirnames[:] = [d for d in dirnames if os.path.normpath(os.path.join(rel, d)) in entries]
    return entries


def _remove_tree(work: Path) -> None:
    """Delete debootstrap's tree, unless something is still mounted inside it."""
    prefix = str(work.resolve()) + "/"
    try:
        mounts = [ln.split()[4] for ln in Path("/proc/self/mountinfo").read_text().splitlines()]
    except OSError:
        mounts = []
    if not any(m.startswith(prefix) for m in mounts):
        shutil.rmtree(work, ignore_errors=True)
