"""What the Docker sandbox image holds, made from local material, and its cache key.

Nothing can be pulled from a registry, so the image is a tar that ``docker import`` turns
into a one-layer image (``perfsmith.sandbox.rootfs`` writes it). The Python interpreter and
the target's environment are not in it: they are bind-mounted read-only from the host at
their own paths. The image holds what they need around them: the system libraries the
interpreter and every compiled extension link against, a POSIX sh, coreutils, and git and
valgrind where the host has them.

Bases: ``host`` copies the files of the needed Debian packages from this machine (the
dependency closure from dpkg's database; about a second and 140 MB with git and valgrind);
``debian`` installs the same packages with debootstrap from a Debian mirror (a minute);
an image reference (for a machine with a registry) gets a three-line Dockerfile. The cache
key covers the builder version, the base, the closure's package versions, the extra
packages and the uids: installing or upgrading a package changes it, nothing else does,
and no file is hashed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from perfsmith.errors import ConfigError, SandboxError

SANDBOX_UID = SANDBOX_GID = 10001
KEEPALIVE_UID = 10002
BUILDER_VERSION = 2  # 2: headers and static archives kept for a toolchain
# libc-bin: ldconfig (ctypes.util.find_library) and the C.UTF-8 locale.
BASE_PACKAGES: tuple[str, ...] = ("libc6", "libc-bin", "libgcc-s1", "dash", "coreutils")
OPTIONAL_PACKAGES: tuple[str, ...] = (
    "git", "valgrind", "procps", "findutils", "grep", "sed", "diffutils", "mawk", "tzdata",
)  # fmt: skip
HOST_BASES = ("host", "debian")
# Documentation nobody reads inside a sandbox; a fifth of a typical package's bytes.
SKIP_PREFIXES = tuple(
    f"/usr/share/{d}/"
    for d in ("doc", "doc-base", "man", "info", "locale", "lintian", "bug", "bash-completion",
              "zsh", "fish", "gtk-doc", "help", "menu")
)  # fmt: skip
# Heavy dependencies nothing in the sandbox uses: git's commands run without perl (only
# send-email, svn and the like need it) and its manual is documentation.
_PRUNED = re.compile(r"perl|perl-modules-[\d.]+|libperl[\d.]+|liberror-perl|git-man")
TOP_SYMLINKS = ("bin", "lib", "lib64", "sbin")  # merged /usr: these must stay links
_IMAGE_REF = re.compile(r"^[a-z0-9][a-z0-9._/:@-]*$", re.IGNORECASE)
_PROBE = (
    "import json, os, sys, sysconfig\n"
    "lib = os.path.join(sysconfig.get_config_var('LIBDIR') or '',"
    " sysconfig.get_config_var('INSTSONAME') or '')\n"
    "print(json.dumps({'exe': os.path.realpath(sys.executable), 'path': sys.path,"
    " 'libpython': lib if sysconfig.get_config_var('Py_ENABLE_SHARED') else ''}))\n"
)


@dataclass(frozen=True)
class Package:
    """One entry of dpkg's status database.

    ``depends`` joins Depends and Pre-Depends; each inner tuple lists alternatives.
    """

    name: str
    version: str
    arch: str
    depends: tuple[tuple[str, ...], ...]
    provides: tuple[str, ...]
    installed: bool
    essential: bool = False


@dataclass(frozen=True)
class ImagePlan:
    """What the sandbox image holds and the key it is cached under.

    ``versions`` lists (name, version, arch) of the closure as planned, so a writer can
    refuse a host whose packages changed since.
    """

    base: str
    packages: tuple[str, ...]
    key: str
    tag: str
    labels: dict[str, str] = field(hash=False)
    versions: tuple[tuple[str, str, str], ...] = ()
    uid: int = SANDBOX_UID
    gid: int = SANDBOX_GID
    keepalive_uid: int = KEEPALIVE_UID


# ------------------------------------------------------------------------------ dpkg
def _name(token: str) -> str:
    """A package name without version constraint or architecture qualifier."""
    return token.split("(")[0].strip().split(":")[0]


def _fields(stanza: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    key = ""
    for line in stanza.splitlines():
        if line[:1] in (" ", "\t"):
            if key:
                fields[key] += "\n" + line.strip()
        elif ":" in line:
            key, _, value = line.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
    return fields


def parse_dpkg_status(text: str) -> dict[str, Package]:
    """Parse dpkg's status database (``/var/lib/dpkg/status``).

    Names lose their architecture qualifier ("libc6:amd64" is "libc6"). When one name has
    several entries (multi-arch), an installed one beats one that is not, then one of the
    native architecture (dpkg's own) or "all", then the first.

    Args:
        text: the status file's content.

    Returns:
        Packages by name.
    """
    entries: list[Package] = []
    for stanza in re.split(r"\n\s*\n", text):
        f = _fields(stanza)
        if "package" not in f:
            continue
        depends = tuple(
            tuple(_name(alt) for alt in group.split("|") if _name(alt))
            for key in ("pre-depends", "depends")
            for group in f.get(key, "").replace("\n", " ").split(",")
            if group.strip()
        )
        entries.append(
            Package(
                name=_name(f["package"]),
                version=f.get("version", ""),
                arch=f.get("architecture", ""),
                depends=depends,
                provides=tuple(
                    _name(p) for p in f.get("provides", "").replace("\n", " ").split(",")
                    if _name(p)
                ),
                # "want ok installed": held packages and ones marked for removal are there.
                installed=f.get("status", "").split()[1:] == ["ok", "installed"],
                essential=f.get("essential", "").lower() == "yes",
            )
        )  # fmt: skip
    native = next((p.arch for p in entries if p.name == "dpkg" and p.installed), "")
    db: dict[str, Package] = {}
    for p in entries:
        old = db.get(p.name)
        if old is None or _rank(p, native) > _rank(old, native):
            db[p.name] = p
    return db


def _rank(p: Package, native: str) -> tuple[bool, bool]:
    return p.installed, p.arch in (native, "all")


def dependency_closure(db: Mapping[str, Package], wanted: Iterable[str]) -> list[str]:
    """The installed packages that ``wanted`` needs, themselves included.

    Of alternatives, the first that resolves to an installed package is taken; a virtual
    name resolves to the first installed package (by name) that provides it. Names that
    are unknown or not installed are skipped.

    Returns:
        Package names, sorted.
    """
    providers: dict[str, list[str]] = {}
    for p in db.values():
        if p.installed:
            for virtual in p.provides:
                providers.setdefault(virtual, []).append(p.name)

    def resolve(name: str) -> str | None:
        name = _name(name)
        p = db.get(name)
        if p is not None and p.installed:
            return name
        return min(providers.get(name, ()), default=None)

    seen: set[str] = set()
    todo = [r for r in map(resolve, wanted) if r]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for alternatives in db[name].depends:
            found = next((r for r in map(resolve, alternatives) if r), None)
            if found:
                todo.append(found)
    return sorted(seen)


def canonical_path(path: str) -> str:
    """A path's merged-/usr form: the real directory plus the unchanged last component.

    "/bin/dash" becomes "/usr/bin/dash" where /bin links to usr/bin, while "/bin" itself
    stays "/bin" (the link). Reads the file system; nothing else.
    """
    path = os.path.normpath(path)
    head, tail = os.path.split(path)
    if not tail:
        return path
    return os.path.join(os.path.realpath(head), tail)


def _file_index(info_dir: Path) -> dict[str, str]:
    """Canonical file path -> owning package, from dpkg's ``*.list`` files."""
    index: dict[str, str] = {}
    real: dict[str, str] = {}
    for listing in sorted(info_dir.glob("*.list")):
        package = listing.name[: -len(".list")].split(":")[0]
        for line in listing.read_text(errors="replace").splitlines():
            head, tail = os.path.split(line)
            if not tail:
                continue
            if head not in real:
                real[head] = os.path.realpath(head)
            index.setdefault(os.path.join(real[head], tail), package)
    return index


def library_packages(python: str, db_files: Mapping[str, str]) -> set[str]:
    """The packages owning the shared libraries an interpreter and its extensions load.

    Runs ``python`` once to learn its executable, libpython and ``sys.path``, then ``ldd``
    on those and on every shared object found under ``sys.path``.

    Args:
        python: the interpreter (a venv's python is fine).
        db_files: canonical file path -> package (libraries nobody owns are ignored).

    Raises:
        SandboxError: the interpreter or ldd cannot run.
    """
    try:
        out = subprocess.run(
            [python, "-I", "-c", _PROBE], capture_output=True, text=True, timeout=60, check=True
        ).stdout
        probe = json.loads(out)
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        raise SandboxError(
            f"Could not ask {python} for its libraries: {exc}.",
            "Check that the interpreter runs on this machine.",
        ) from exc
    objects = [probe["exe"], *([probe["libpython"]] if probe["libpython"] else [])]
    objects += sorted(set(_shared_objects(probe["path"])))
    libs: set[str] = set()
    # The container has no LD_* settings: resolve libraries as it will.
    env = {k: v for k, v in os.environ.items() if not k.startswith("LD_")}
    for start in range(0, len(objects), 256):
        try:
            result = subprocess.run(
                ["ldd", *objects[start : start + 256]],
                capture_output=True, text=True, errors="replace", timeout=300, env=env,
            )  # fmt: skip
        except (OSError, subprocess.SubprocessError) as exc:
            raise SandboxError(
                f"Could not run ldd: {exc}.", "Install libc-bin (it provides ldd)."
            ) from exc
        libs.update(re.findall(r"(?:=>\s+|^\s+)(/\S+)\s+\(0x", result.stdout, re.MULTILINE))
    owners = set()
    for lib in libs:
        for candidate in (canonical_path(lib), os.path.realpath(lib)):
            if candidate in db_files:
                owners.add(db_files[candidate])
                break
    return owners


def _shared_objects(paths: Iterable[str]) -> Iterator[str]:
    for top in paths:
        if not top or not os.path.isdir(top):
            continue
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            for name in filenames:
                if name.endswith(".so") or ".so." in name:
                    full = os.path.realpath(os.path.join(dirpath, name))
                    if os.path.isfile(full):
                        yield full


# ------------------------------------------------------------------------------ plan
def read_dpkg_db(status_path: Path) -> dict[str, Package]:
    """Read and parse dpkg's status database.

    Raises:
        SandboxError: the file cannot be read (not a Debian-family machine).
    """
    try:
        return parse_dpkg_status(status_path.read_text(errors="replace"))
    except OSError as exc:
        raise SandboxError(
            f"Cannot read dpkg's database {status_path}: {exc.strerror}.",
            "The 'host' and 'debian' image bases need a Debian-family machine; elsewhere"
            " set the image base to an image reference such as python:3.11-slim.",
        ) from exc


def plan_image(
    python: str,
    base: str = "host",
    extra_packages: Sequence[str] = (),
    *,
    status_path: Path = Path("/var/lib/dpkg/status"),
    uid: int = SANDBOX_UID,
    gid: int = SANDBOX_GID,
    keepalive_uid: int = KEEPALIVE_UID,
) -> ImagePlan:
    """Decide what the sandbox image holds and compute its cache key.

    Cheap: reads dpkg's database and runs ldd over the interpreter's extensions; no file
    content is hashed.

    Args:
        python: the interpreter that will run inside (bind-mounted, not copied).
        base: "host", "debian" or an image reference such as "python:3.11-slim".
        extra_packages: Debian packages to add (with their dependencies).
        status_path: dpkg's status file; its ``info`` directory lies beside it.
        uid: the uid commands run as; gid: their gid.
        keepalive_uid: the uid of the process that keeps the container alive.

    Raises:
        ConfigError: a bad base, uid, or an extra package that cannot be provided.
        SandboxError: dpkg's database or the interpreter cannot be read.
    """
    if uid in (0, keepalive_uid) or keepalive_uid == 0 or min(uid, gid, keepalive_uid) < 0:
        raise ConfigError(
            f"Sandbox uids {uid}:{gid} and {keepalive_uid} must be distinct and not root.",
            "Pick another uid for the sandbox user.",
        )
    extras = sorted({e.strip() for e in extra_packages if e.strip()})
    versions: tuple[tuple[str, str, str], ...] = ()
    packages: tuple[str, ...] = ()
    if base in HOST_BASES:
        db = read_dpkg_db(status_path)
        index = _file_index(status_path.parent / "info")
        # With no file lists nothing maps libraries to packages: skip ldd.
        libs = sorted(library_packages(python, index)) if index else []
        db = {n: p for n, p in db.items() if n in extras or not _PRUNED.fullmatch(n)}
        optional = [p for p in OPTIONAL_PACKAGES if p in db and db[p].installed]
        closure = dependency_closure(db, [*BASE_PACKAGES, *optional, *libs, *extras])
        missing = [e for e in extras if not dependency_closure(db, [e])]
        if missing and base == "host":
            raise ConfigError(
                f"Extra sandbox packages not installed on this machine: {', '.join(missing)}.",
                f"Install them (apt-get install {' '.join(missing)}) or use the 'debian' base.",
            )
        versions = tuple((n, db[n].version, db[n].arch) for n in closure)
        packages = tuple(sorted({*closure, *missing}))
    elif not _IMAGE_REF.match(base):
        raise ConfigError(
            f"Unknown image base {base!r}.",
            "Use 'host', 'debian' or an image reference such as python:3.11-slim.",
        )
    elif extras:
        raise ConfigError(
            f"Extra packages cannot be added to the image base {base}.",
            "Build an image with them and name it as the base, or use the 'host' base.",
        )
    material = {
        "builder": BUILDER_VERSION, "base": base, "packages": versions, "extra": extras,
        "uids": [uid, gid, keepalive_uid],
    }  # fmt: skip
    key = hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()
    return ImagePlan(
        base=base,
        packages=packages,
        key=key,
        tag=f"perfsmith-sandbox:{key[:16]}",
        labels={"perfsmith.image": "1", "perfsmith.image.key": key, "perfsmith.image.base": base},
        versions=versions,
        uid=uid,
        gid=gid,
        keepalive_uid=keepalive_uid,
    )


def dockerfile_for(plan: ImagePlan) -> str:
    """A Dockerfile for an image-reference base: the base plus our two users.

    Users are appended to /etc/passwd and /etc/group directly (slim images lack useradd),
    and /root is opened to 0755 because the interpreter is mounted below it.

    Raises:
        ValueError: the plan's base is "host" or "debian" (those are imported tars).
    """
    if plan.base in HOST_BASES:
        raise ValueError(f"the {plan.base!r} base is built as a tar, not from a Dockerfile")
    steps = ["set -e", "if [ -d /root ]; then chmod 0755 /root; fi"]
    for name, uid, gid, home in (
        ("perfsmith", plan.uid, plan.gid, "/tmp"),
        ("perfsmith-keepalive", plan.keepalive_uid, plan.keepalive_uid, "/nonexistent"),
    ):
        steps.append(
            f"grep -q '^[^:]*:[^:]*:{gid}:' /etc/group || echo '{name}:x:{gid}:' >> /etc/group"
        )
        steps.append(
            f"grep -q '^[^:]*:[^:]*:{uid}:' /etc/passwd"
            f" || echo '{name}:x:{uid}:{gid}::{home}:/bin/sh' >> /etc/passwd"
        )
    return f"FROM {plan.base}\nUSER root\nRUN " + "; \\\n    ".join(steps) + "\n"
