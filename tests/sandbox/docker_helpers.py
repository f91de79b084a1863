"""Shared set-up for tests that need a real Docker engine (marked ``docker``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from perfsmith.errors import SandboxError

GiB = 1024**3


def client_or_skip():  # type: ignore[no-untyped-def]
    """The engine's client; the test is skipped (with the reason) when none answers."""
    from perfsmith.sandbox import docker as dock

    try:
        return dock.engine()
    except SandboxError as exc:
        pytest.skip(f"no Docker engine: {exc.message}")


def image_tag(client, work: Path) -> str:  # type: ignore[no-untyped-def]
    """The sandbox image for this interpreter, built once and then cached by the engine."""
    from perfsmith.sandbox import docker as dock
    from perfsmith.sandbox import image as images

    uid, gid = dock.container_user()
    plan = images.plan_image(sys.executable, uid=uid, gid=gid)
    return dock.ensure_image(client, plan, work).tag


def small_repo(parent: Path) -> Path:
    repo = parent / "repo"
    repo.mkdir()
    (repo / "mod.py").write_text("def f():\n    return 1\n")
    return repo
