"""The Docker sandbox's pure parts: the container payload and the leftover rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfsmith.sandbox import image as images
from perfsmith.sandbox.container import (
    LABEL,
    DockerSettings,
    container_spec,
    default_cpuset,
    is_leftover,
    owner_labels,
)

ROOT = Path("/tmp/perfsmith-x/cand-001")
PRIVATE = Path("/tmp/perfsmith-x/cand-001.private")


def spec(**kw: object) -> dict[str, object]:
    settings = DockerSettings(image="perfsmith-sandbox:abc", python_paths=("/opt/py",), **kw)  # type: ignore[arg-type]
    return container_spec(settings, name="n", root=ROOT, private=PRIVATE, labels=owner_labels())


def _mounts(s: dict[str, object]) -> list[dict[str, object]]:
    return [dict(m) for m in s["mounts"]]  # type: ignore[attr-defined]


def test_payload_is_hardened() -> None:
    s = spec()
    assert s["network_mode"] == "none"
    assert s["read_only"] is True
    assert s["cap_drop"] == ["ALL"]
    assert "cap_add" not in s
    assert s["privileged"] is False
    assert s["security_opt"] == ["no-new-privileges:true"]
    assert s["pids_limit"] == 512
    assert s["mem_limit"] == s["memswap_limit"] == 8 * 1024**3  # no swap on top
    assert s["cpuset_cpus"] == default_cpuset()
    assert s["init"] is True
    assert "size=" in s["tmpfs"]["/tmp"]  # type: ignore[index]
    assert s["labels"][LABEL] == "1"  # type: ignore[index]
    uid = str(images.KEEPALIVE_UID)
    assert s["user"] == f"{uid}:{uid}" and not str(s["user"]).startswith("0")


def test_payload_never_mounts_the_docker_socket_or_grants_sys_admin() -> None:
    text = repr(spec())
    assert "docker.sock" not in text
    assert "SYS_ADMIN" not in text
    assert "'privileged': True" not in text


def test_mounts_same_paths_workspace_writable_git_and_python_read_only() -> None:
    mounts = {m["Target"]: m for m in _mounts(spec())}
    assert all(m["Source"] == t and m["Type"] == "bind" for t, m in mounts.items())
    assert mounts[str(ROOT)]["ReadOnly"] is False
    assert mounts[str(PRIVATE)]["ReadOnly"] is False
    assert mounts[str(ROOT / ".git")]["ReadOnly"] is True
    assert mounts["/opt/py"]["ReadOnly"] is True
    assert len(mounts) == 4


def test_sys_admin_only_when_gpu_profiling_asks() -> None:
    assert spec(gpu_profiling=True)["cap_add"] == ["SYS_ADMIN"]
    assert spec(gpu_profiling=True)["privileged"] is False


@pytest.mark.parametrize(("cpuset", "nano"), [("0", 1), ("0-3", 4), ("1,3", 2), ("0-1,4", 3)])
def test_cpu_limit_matches_the_pinned_set(cpuset: str, nano: int) -> None:
    s = spec(cpuset=cpuset)
    assert s["cpuset_cpus"] == cpuset
    assert s["nano_cpus"] == nano * 1_000_000_000


def _labels(host: str = "h", pid: str = "42", start: str = "100") -> dict[str, str]:
    return {
        LABEL: "1",
        "perfsmith.owner.host": host,
        "perfsmith.owner.pid": pid,
        "perfsmith.owner.start": start,
    }


def test_leftover_when_the_owner_is_gone() -> None:
    assert is_leftover(_labels(), "h", lambda pid: "")


def test_leftover_when_the_pid_was_reused_by_another_process() -> None:
    assert is_leftover(_labels(), "h", lambda pid: "999")


def test_not_leftover_while_the_owner_runs() -> None:
    assert not is_leftover(_labels(), "h", lambda pid: "100")


@pytest.mark.parametrize(
    "labels",
    [
        {},  # not ours
        {"perfsmith.owner.pid": "42"},  # no sandbox label
        _labels(host="other"),  # made by a perfsmith on another host sharing the engine
        _labels(pid="not-a-pid"),
        {**_labels(), LABEL: "0"},
    ],
)
def test_never_leftover_unless_ours_from_this_host(labels: dict[str, str]) -> None:
    assert not is_leftover(labels, "h", lambda pid: "")


def test_owner_labels_name_this_process() -> None:
    import os

    labels = owner_labels()
    assert labels["perfsmith.owner.pid"] == str(os.getpid())
    assert labels["perfsmith.owner.start"].isdigit()
    assert not is_leftover(labels, labels["perfsmith.owner.host"], _start_of_real)


def _start_of_real(pid: int) -> str:
    from perfsmith.sandbox.container import start_ticks

    return start_ticks(pid)
