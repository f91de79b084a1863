"""The sandbox image's root file system: dpkg parsing, closure, plan keys and tars."""

from __future__ import annotations

import collections
import os
import shutil
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from perfsmith.errors import ConfigError, SandboxError
from perfsmith.sandbox import image
from perfsmith.sandbox.image import (
    ImagePlan,
    Package,
    canonical_path,
    dependency_closure,
    dockerfile_for,
    library_packages,
    parse_dpkg_status,
    plan_image,
)
from perfsmith.sandbox.rootfs import write_debian_rootfs, write_host_rootfs

STATUS = """\
Package: dpkg
Status: install ok installed
Essential: yes
Architecture: amd64
Version: 1.21.22
Description: Debian package management system
 This package provides the low-level infrastructure.
 .
 More text.

Package: libc6
Status: install ok installed
Architecture: i386
Version: 2.36-9+deb12u9
Depends: libgcc-s1

Package: libc6
Status: install ok installed
Architecture: amd64
Multi-Arch: same
Version: 2.36-9+deb12u10
Depends: libgcc-s1
Conffiles:
 /etc/ld.so.conf.d/x86_64-linux-gnu.conf d4e7a7b88a71b5ffd9e2644e71a0cfab

Package: libgcc-s1:amd64
Status: install ok installed
Architecture: amd64
Version: 12.2.0-14
Depends: gcc-12-base (= 12.2.0-14), libc6 (>= 2.35)

Package: gcc-12-base
Status: install ok installed
Architecture: amd64
Version: 12.2.0-14

Package: mawk
Status: install ok installed
Architecture: amd64
Version: 1.3.4.20200120-3.1
Pre-Depends: libc6 (>= 2.34)
Provides: awk, awk-virtual (= 1)

Package: gawk
Status: deinstall ok config-files
Architecture: amd64
Version: 1:5.2.1-2
Provides: awk

Package: dash
Status: install ok installed
Essential: yes
Architecture: amd64
Version: 0.5.12-2
Pre-Depends: libc6:any (>= 2.34), debianutils (>= 5.6-0.1)
Depends: gawk | awk,
 coreutils:amd64

Package: coreutils
Status: install ok installed
Essential: yes
Architecture: amd64
Version: 9.1-1
Pre-Depends: libacl1 (>= 2.2.23), libc6 (>= 2.34)
"""


@pytest.fixture
def db() -> dict[str, Package]:
    return parse_dpkg_status(STATUS)


# ----------------------------------------------------------------- parse_dpkg_status
def test_parse_reads_fields_and_strips_versions_and_qualifiers(db: dict[str, Package]) -> None:
    dash = db["dash"]
    assert (dash.version, dash.arch, dash.installed, dash.essential) == (
        "0.5.12-2", "amd64", True, True,
    )  # fmt: skip
    # Pre-Depends first, then Depends; ":any"/":amd64" and "(>= ...)" gone; continuation line read.
    assert dash.depends == (("libc6",), ("debianutils",), ("gawk", "awk"), ("coreutils",))
    assert db["mawk"].provides == ("awk", "awk-virtual")
    assert db["mawk"].depends == (("libc6",),)


def test_parse_maps_multiarch_names_and_prefers_native_arch(db: dict[str, Package]) -> None:
    assert "libgcc-s1" in db and "libgcc-s1:amd64" not in db
    assert db["libgcc-s1"].depends == (("gcc-12-base",), ("libc6",))
    # i386 is listed first, but dpkg's own (native) architecture wins.
    assert (db["libc6"].arch, db["libc6"].version) == ("amd64", "2.36-9+deb12u10")


def test_parse_marks_only_ok_installed(db: dict[str, Package]) -> None:
    assert db["gawk"].installed is False
    held = parse_dpkg_status("Package: a\nStatus: hold ok installed\n\n"
                             "Package: b\nStatus: install reinstreq half-installed\n\n"
                             "Package: c\nStatus: install ok unpacked\n")  # fmt: skip
    assert [p.installed for p in held.values()] == [True, False, False]
    assert all(db[n].installed for n in ("dpkg", "libc6", "mawk", "dash", "coreutils"))
    assert not db["mawk"].essential


def test_parse_installed_entry_beats_removed_one() -> None:
    text = (
        "Package: foo\nStatus: install ok installed\nArchitecture: all\nVersion: 2\n\n"
        "Package: foo:i386\nStatus: deinstall ok config-files\nArchitecture: i386\nVersion: 1\n"
    )
    assert parse_dpkg_status(text)["foo"].version == "2"
    assert parse_dpkg_status("") == {}
    assert parse_dpkg_status("Status: install ok installed\n") == {}


# ---------------------------------------------------------------- dependency_closure
def test_closure_follows_depends_predepends_and_skips_unknown(db: dict[str, Package]) -> None:
    # debianutils and libacl1 are unknown: skipped, not an error.
    assert dependency_closure(db, ["dash"]) == [
        "coreutils", "dash", "gcc-12-base", "libc6", "libgcc-s1", "mawk",
    ]  # fmt: skip


def test_closure_alternative_takes_first_installed_and_virtual_via_provides(
    db: dict[str, Package],
) -> None:
    # "gawk | awk": gawk is not installed, awk is virtual and provided by mawk.
    assert "mawk" in dependency_closure(db, ["dash"])
    assert "gawk" not in dependency_closure(db, ["dash"])
    assert dependency_closure(db, ["awk"]) == ["gcc-12-base", "libc6", "libgcc-s1", "mawk"]


def test_closure_handles_cycles_unknown_and_uninstalled_wanted(db: dict[str, Package]) -> None:
    # libc6 -> libgcc-s1 -> libc6 is a cycle.
    assert dependency_closure(db, ["libc6"]) == ["gcc-12-base", "libc6", "libgcc-s1"]
    assert dependency_closure(db, ["nonesuch", "gawk"]) == []
    assert dependency_closure(db, ["gcc-12-base:amd64"]) == ["gcc-12-base"]
    assert dependency_closure({}, ["libc6"]) == []


def test_closure_prefers_first_alternative_even_when_later_is_installed() -> None:
    pkgs = {
        "a": Package("a", "1", "all", (("b", "c"),), (), True),
        "b": Package("b", "1", "all", (), (), True),
        "c": Package("c", "1", "all", (), (), True),
        "v1": Package("v1", "1", "all", (), ("virt",), True),
        "v0": Package("v0", "1", "all", (), ("virt",), True),
    }
    assert dependency_closure(pkgs, ["a"]) == ["a", "b"]
    assert dependency_closure(pkgs, ["virt"]) == ["v0"]


# -------------------------------------------------------------------- canonical_path
def test_canonical_path_resolves_merged_usr_directories(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "usr" / "bin" / "dash").write_text("")
    (root / "bin").symlink_to("usr/bin")
    (root / "usr" / "bin" / "sh").symlink_to("dash")
    assert canonical_path(f"{root}/bin/dash") == f"{root}/usr/bin/dash"
    assert canonical_path(f"{root}/usr/bin/dash") == f"{root}/usr/bin/dash"
    # The last component is kept: links themselves stay links.
    assert canonical_path(f"{root}/bin") == f"{root}/bin"
    assert canonical_path(f"{root}/bin/sh") == f"{root}/usr/bin/sh"
    assert canonical_path(f"{root}/bin/./missing") == f"{root}/usr/bin/missing"
    assert canonical_path(f"{root}/usr/lib/../bin/dash") == f"{root}/usr/bin/dash"
    assert canonical_path("/") == "/"
    assert canonical_path("/.") == "/"


# ------------------------------------------------------------------------ plan_image
def _status(tmp_path: Path, text: str = STATUS, name: str = "status") -> Path:
    path = tmp_path / "dpkg" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


def test_plan_is_stable_and_names_the_closure(tmp_path: Path) -> None:
    status = _status(tmp_path)
    first = plan_image(sys.executable, status_path=status)
    second = plan_image(sys.executable, status_path=status)
    assert first == second
    assert len(first.key) == 64 and int(first.key, 16) >= 0
    assert first.tag == f"perfsmith-sandbox:{first.key[:16]}"
    assert first.labels == {
        "perfsmith.image": "1", "perfsmith.image.key": first.key, "perfsmith.image.base": "host",
    }  # fmt: skip
    # BASE_PACKAGES and the installed optional ones (mawk), with their dependencies.
    assert first.packages == (
        "coreutils", "dash", "gcc-12-base", "libc6", "libgcc-s1", "mawk",
    )  # fmt: skip
    assert ("libc6", "2.36-9+deb12u10", "amd64") in first.versions
    assert hash(first) == hash(second)


def test_plan_key_changes_with_its_inputs_only(tmp_path: Path) -> None:
    key = plan_image(sys.executable, status_path=_status(tmp_path)).key

    def key_of(text: str = STATUS, **kw: object) -> str:
        return plan_image(sys.executable, status_path=_status(tmp_path, text, "s2"), **kw).key  # type: ignore[arg-type]

    assert key_of() == key
    assert key_of(STATUS.replace("Version: 9.1-1", "Version: 9.1-2")) != key
    assert key_of(extra_packages=["gcc-12-base"]) != key
    assert key_of(extra_packages=[" gcc-12-base", "gcc-12-base"]) == key_of(
        extra_packages=["gcc-12-base"]
    )
    assert key_of(uid=1000, gid=1000) != key
    assert key_of(base="debian") != key
    # A package the image does not need changes nothing; an optional one, once installed, does.
    unrelated = "\nPackage: cowsay\nStatus: install ok installed\nArchitecture: all\nVersion: 3\n"
    assert key_of(STATUS + unrelated) == key
    optional = unrelated.replace("cowsay", "procps")
    assert key_of(STATUS + optional) != key
    # An unrelated package's upgrade (not in the closure) changes nothing either.
    assert key_of(STATUS.replace("Version: 1:5.2.1-2", "Version: 1:5.2.1-3")) == key


def test_plan_extra_packages_must_be_installed_for_host(tmp_path: Path) -> None:
    status = _status(tmp_path)
    with pytest.raises(ConfigError, match="nonesuch"):
        plan_image(sys.executable, extra_packages=["nonesuch"], status_path=status)
    # debootstrap fetches what the host lacks.
    plan = plan_image(sys.executable, "debian", ["nonesuch"], status_path=status)
    assert "nonesuch" in plan.packages and "libc6" in plan.packages


def test_plan_rejects_bad_bases_uids_and_missing_dpkg(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        plan_image(sys.executable, "no such base!")
    with pytest.raises(ConfigError):
        plan_image(sys.executable, "python:3.11-slim", ["git"])
    for uid in (0, image.KEEPALIVE_UID):
        with pytest.raises(ConfigError):
            plan_image(sys.executable, "python:3.11-slim", uid=uid)
    with pytest.raises(SandboxError, match="dpkg") as err:
        plan_image(sys.executable, status_path=tmp_path / "missing")
    assert "python:3.11-slim" in err.value.hint


def test_plan_for_an_image_reference_needs_no_dpkg(tmp_path: Path) -> None:
    plan = plan_image(sys.executable, "python:3.11-slim", status_path=tmp_path / "missing")
    assert plan.packages == () and plan.versions == ()
    assert plan.labels["perfsmith.image.base"] == "python:3.11-slim"
    assert plan.key != plan_image(sys.executable, "python:3.12-slim").key


# ---------------------------------------------------------------------- dockerfile_for
def test_dockerfile_adds_users_once_and_opens_root(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        dockerfile_for(plan_image(sys.executable, status_path=_status(tmp_path)))
    text = dockerfile_for(plan_image(sys.executable, "python:3.11-slim", uid=1000, gid=1000))
    assert text.startswith("FROM python:3.11-slim\nUSER root\nRUN ")
    # Run the RUN step against a scratch /etc and /root, twice: the users appear once.
    script = text.split("RUN ", 1)[1].replace("\\\n", "")
    script = script.replace("/etc/", f"{tmp_path}/etc/").replace("/root", f"{tmp_path}/root")
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (tmp_path / "etc" / "group").write_text("root:x:0:\n")
    (tmp_path / "root").mkdir(mode=0o700)
    for _ in range(2):
        subprocess.run(["sh", "-c", script], check=True)
    passwd = (tmp_path / "etc" / "passwd").read_text().splitlines()
    assert passwd[1:] == [
        "perfsmith:x:1000:1000::/tmp:/bin/sh",
        f"perfsmith-keepalive:x:{image.KEEPALIVE_UID}:{image.KEEPALIVE_UID}::/nonexistent:/bin/sh",
    ]
    assert (tmp_path / "etc" / "group").read_text().count("perfsmith") == 2
    assert stat.S_IMODE((tmp_path / "root").stat().st_mode) == 0o755


# -------------------------------------------------------------------- library_packages
def test_library_packages_maps_ldd_output_through_canonical_paths() -> None:
    lists = sorted(Path("/var/lib/dpkg/info").glob("libc6*.list"))
    lists = [p for p in lists if p.name.split(":")[0] in ("libc6.list", "libc6")]
    if not lists:
        pytest.skip("not a dpkg system")
    owned = {canonical_path(line): "libc6" for line in lists[0].read_text().splitlines()}
    # Every interpreter links libc; the libraries nobody in db_files owns are ignored.
    assert library_packages(sys.executable, owned) == {"libc6"}


def test_library_packages_reports_an_interpreter_that_cannot_run(tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match="libraries"):
        library_packages(str(tmp_path / "python"), {})


# ------------------------------------------------------------------- write_host_rootfs
def _members(tar_path: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(tar_path) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert [n for n, c in collections.Counter(names).items() if c > 1] == []
    return {m.name: m for m in members}


def _read(tar_path: Path, name: str) -> str:
    with tarfile.open(tar_path) as tar:
        fh = tar.extractfile(name)
        assert fh is not None
        return fh.read().decode()


def test_host_rootfs_from_a_fake_package(tmp_path: Path) -> None:
    root = tmp_path.resolve() / "fs"
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "usr" / "share" / "doc" / "fake").mkdir(parents=True)
    (root / "bin").symlink_to("usr/bin")
    tool = root / "usr" / "bin" / "tool"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o4755)
    (root / "usr" / "bin" / "tool2").hardlink_to(tool)
    (root / "usr" / "share" / "doc" / "fake" / "README").write_text("docs")
    (root / "usr" / "lib.a").write_text("archive")
    listed = [
        "/.", "/root", f"{root}", f"{root}/bin", f"{root}/bin/tool", f"{root}/usr/bin/tool",
        f"{root}/bin/tool2", f"{root}/usr/share/doc/fake/README", f"{root}/usr/lib.a",
        f"{root}/gone",
    ]  # fmt: skip
    status = _status(tmp_path, "Package: fake\nStatus: install ok installed\nVersion: 1\n"
                     "Architecture: all\n")  # fmt: skip
    (status.parent / "info").mkdir()
    (status.parent / "info" / "fake.list").write_text("\n".join(listed) + "\n")
    plan = plan_image(sys.executable, extra_packages=["fake"], status_path=status)
    assert plan.packages == ("fake",)
    dest = tmp_path / "out" / "rootfs.tar"
    info = write_host_rootfs(plan, dest, dpkg_dir=status.parent)
    members = _members(dest)
    assert info.files == len(members) and info.bytes == dest.stat().st_size > 0
    assert os.listdir(dest.parent) == ["rootfs.tar"]  # no temp file left
    arc = str(root).lstrip("/")
    assert members[f"{arc}/bin"].issym() and members[f"{arc}/bin"].linkname == "usr/bin"
    tool_m = members[f"{arc}/usr/bin/tool"]
    assert tool_m.isreg() and stat.S_IMODE(tool_m.mode) == 0o755  # set-uid dropped
    assert members[f"{arc}/usr/bin/tool2"].linkname == f"{arc}/usr/bin/tool"
    assert f"{arc}/usr/share/doc/fake/README" in members  # only the system's docs are skipped
    assert f"{arc}/usr/lib.a" not in members and f"{arc}/gone" not in members
    assert all(m.uid == 0 and m.gid == 0 for m in members.values())
    # Parents are there, before what they hold.
    names = list(members)
    assert (
        names.index(f"{arc}/usr")
        < names.index(f"{arc}/usr/bin")
        < names.index(f"{arc}/usr/bin/tool")
    )
    assert members["root"].isdir() and stat.S_IMODE(members["root"].mode) == 0o755
    assert members["tmp"].mode == 0o1777
    assert {"proc", "sys", "dev", "etc/hosts", "etc/nsswitch.conf"} <= set(members)
    passwd = _read(dest, "etc/passwd")
    assert "perfsmith:x:10001:10001::/tmp:/bin/sh" in passwd.splitlines()
    assert f":{image.KEEPALIVE_UID}:" in passwd and passwd.startswith("root:x:0:0:")
    assert "127.0.0.1\tlocalhost" in _read(dest, "etc/hosts")
    assert "passwd: files" in _read(dest, "etc/nsswitch.conf")


def test_host_rootfs_refuses_a_changed_host_and_other_bases(tmp_path: Path) -> None:
    status = _status(tmp_path)
    plan = plan_image(sys.executable, status_path=status)
    status.write_text(STATUS.replace("Version: 0.5.12-2", "Version: 0.5.12-3"))
    with pytest.raises(SandboxError, match="dash changed"):
        write_host_rootfs(plan, tmp_path / "r.tar", dpkg_dir=status.parent)
    assert not (tmp_path / "r.tar").exists()
    debian = plan_image(sys.executable, "debian", status_path=status)
    with pytest.raises(ValueError):
        write_host_rootfs(debian, tmp_path / "r.tar")
    with pytest.raises(ValueError):
        write_debian_rootfs(plan, tmp_path / "r.tar")


@pytest.mark.slow
def test_host_rootfs_for_this_interpreter(tmp_path: Path) -> None:
    if not Path("/var/lib/dpkg/status").exists():
        pytest.skip("not a dpkg system")
    plan = plan_image(sys.executable)
    assert {"libc6", "dash", "coreutils"} <= set(plan.packages)
    dest = tmp_path / "rootfs.tar"
    write_host_rootfs(plan, dest)
    members = _members(dest)  # asserts no duplicate names
    if os.path.islink("/bin"):
        assert members["bin"].issym() and members["bin"].linkname == "usr/bin"
        sh = members["usr/bin/sh"]
        assert sh.issym() and members[f"usr/bin/{sh.linkname}"].isreg()
    libc = [n for n in members if n.startswith("usr/lib/") and n.endswith("/libc.so.6")]
    assert libc and members["etc/ld.so.cache"].isreg()
    assert "perfsmith:x:10001:10001:" in _read(dest, "etc/passwd")
    assert members["tmp"].mode == 0o1777 and members["root"].mode == 0o755
    assert not any(n.startswith(("usr/share/doc/", "usr/share/man/")) for n in members)
    assert not any(n.endswith(".a") or n.startswith("usr/include/") for n in members)


# ----------------------------------------------------------------- write_debian_rootfs
FAKE_DEBOOTSTRAP = """#!/bin/sh
for a; do target=$prev; prev=$a; done
echo "$@" > "$LOG"
[ -n "$FAIL" ] && { echo "E: Couldn't download packages: nonesuch" >&2; exit 1; }
mkdir -p "$target/etc" "$target/usr/bin" "$target/usr/share/doc/x" "$target/proc/1" \
  "$target/var/cache/apt/archives" "$target/root"
chmod 700 "$target/root"
printf 'root:x:0:0:root:/root:/bin/bash\\ndaemon:x:1:1::/:/bin/false\\n' > "$target/etc/passwd"
printf 'root:x:0:\\nshadow:x:42:\\n' > "$target/etc/group"
echo tool > "$target/usr/bin/tool"; echo doc > "$target/usr/share/doc/x/README"
echo 1 > "$target/proc/1/stat"; echo deb > "$target/var/cache/apt/archives/a.deb"
"""


@pytest.fixture
def fake_debootstrap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "debootstrap").write_text(FAKE_DEBOOTSTRAP)
    (bin_dir / "debootstrap").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("LOG", str(tmp_path / "args"))
    return tmp_path / "args"


def _debian_plan(tmp_path: Path) -> tuple[ImagePlan, Path]:
    status = _status(tmp_path)
    return plan_image(sys.executable, "debian", ["nonesuch"], status_path=status), status.parent


def test_debian_rootfs_from_debootstrap_tree(tmp_path: Path, fake_debootstrap: Path) -> None:
    plan, dpkg_dir = _debian_plan(tmp_path)
    dest = tmp_path / "out" / "debian.tar"
    write_debian_rootfs(plan, dest, suite="bookworm", mirror="http://m/d", dpkg_dir=dpkg_dir)
    args = fake_debootstrap.read_text().split()
    assert args[0] == "--variant=minbase" and args[2] == "bookworm" and args[-1] == "http://m/d"
    # Essential packages (dash, coreutils, dpkg) are debootstrap's own; the others are named.
    include = set(args[1].removeprefix("--include=").split(","))
    assert include == {"gcc-12-base", "libc6", "libgcc-s1", "mawk", "nonesuch"}
    members = _members(dest)
    assert "usr/bin/tool" in members and "usr/share/doc/x/README" not in members
    assert "proc" in members and "proc/1" not in members
    assert "var/cache/apt/archives/a.deb" not in members
    assert members["root"].mode == 0o755 and members["tmp"].mode == 0o1777
    passwd = _read(dest, "etc/passwd").splitlines()
    assert passwd[:2] == ["root:x:0:0:root:/root:/bin/bash", "daemon:x:1:1::/:/bin/false"]
    assert "perfsmith:x:10001:10001::/tmp:/bin/sh" in passwd
    assert "shadow:x:42:" in _read(dest, "etc/group")
    assert not [p for p in dest.parent.iterdir() if p.name != "debian.tar"]


def test_debian_rootfs_reports_a_failing_debootstrap(
    tmp_path: Path, fake_debootstrap: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan, dpkg_dir = _debian_plan(tmp_path)
    monkeypatch.setenv("FAIL", "1")
    dest = tmp_path / "out" / "debian.tar"
    with pytest.raises(SandboxError, match="Couldn't download") as err:
        write_debian_rootfs(plan, dest, suite="bookworm", dpkg_dir=dpkg_dir)
    assert "host" in err.value.hint
    assert list(dest.parent.iterdir()) == []  # the temporary tree is gone


def test_debian_rootfs_without_debootstrap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan, _ = _debian_plan(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(SandboxError, match="debootstrap") as err:
        write_debian_rootfs(plan, tmp_path / "d.tar")
    assert "apt-get install debootstrap" in err.value.hint


def test_host_rootfs_keeps_headers_and_archives_when_a_toolchain_is_asked_for(
    tmp_path: Path,
) -> None:
    if not os.path.exists("/usr/include/math.h") or not shutil.which("gcc"):
        pytest.skip("no C toolchain installed on this machine")
    plan = plan_image(sys.executable, extra_packages=["gcc", "libc6-dev"])
    assert {"gcc", "libc6-dev"} <= set(plan.packages)
    dest = tmp_path / "rootfs.tar"
    write_host_rootfs(plan, dest)
    members = _members(dest)
    assert "usr/include/math.h" in members  # what kernel.c includes
    assert any(n.endswith("/libgcc.a") for n in members)  # what linking a .so needs
