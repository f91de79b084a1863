"""Building the sandbox image with a real engine: cached by its key, and from an image base."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.sandbox.docker_helpers import client_or_skip, image_tag, small_repo

pytestmark = pytest.mark.docker


def test_the_image_is_cached_by_its_key(tmp_path: Path) -> None:
    from perfsmith.sandbox import docker as dock
    from perfsmith.sandbox import image as images

    client = client_or_skip()
    uid, gid = dock.container_user()
    plan = images.plan_image(sys.executable, uid=uid, gid=gid)
    first = dock.ensure_image(client, plan, tmp_path)
    again = dock.ensure_image(client, plan, tmp_path)
    assert not again.built and again.tag == first.tag == plan.tag
    img = client.images.get(plan.tag)
    assert img.labels["perfsmith.image.key"] == plan.key
    assert img.attrs["Config"]["User"] == f"{images.KEEPALIVE_UID}:{images.KEEPALIVE_UID}"
    assert not list(tmp_path.glob("*.tar"))  # the root filesystem tar is not kept


def test_an_image_reference_base_builds_from_a_dockerfile_and_runs(tmp_path: Path) -> None:
    # With no registry here, the "official image" is our own host image: the Dockerfile
    # path (FROM the reference, then our users) is the same as for python:3.11-slim.
    from perfsmith.sandbox import docker as dock
    from perfsmith.sandbox import image as images
    from perfsmith.sandbox.pyenv import inspect_python

    client = client_or_skip()
    base = image_tag(client, tmp_path)
    uid, gid = dock.container_user()
    plan = images.plan_image(sys.executable, base=base, uid=uid, gid=gid)
    assert plan.base == base and plan.tag != base
    built = dock.ensure_image(client, plan, tmp_path)
    try:
        assert built.built
        env = inspect_python(sys.executable, exclude=(tmp_path,))
        settings = dock.DockerSettings(image=built.tag, python_paths=env.paths)
        box = dock.open_docker(small_repo(tmp_path), tmp_path / "w", "base", settings, client, env)
        try:
            res = box.exec([sys.executable, "-c", "import mod, os; print(mod.f(), os.getuid())"],
                           timeout_s=60)  # fmt: skip
            assert res.ok, res.stderr
            assert res.stdout.split() == ["1", str(uid)]
        finally:
            box.close()
    finally:
        client.images.remove(built.tag, force=True)
