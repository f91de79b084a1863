"""Fixtures of the web app tests: a runs folder laid out as perfsmith writes it, and the app
served by a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from perfsmith.review.web import create_app

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "trajectories"
STARTUP_S = 20.0


def _make_runs(root: Path) -> Path:
    """runs/<id>/ for single runs and runs/bench/<suite>-<mode>/ for the batch."""
    for name in ("v1", "v2", "failed"):
        shutil.copytree(FIXTURES / name, root / name)
    shutil.copytree(FIXTURES / "batch", root / "bench" / "minisuite-run")
    return root


@pytest.fixture
def web_runs(tmp_path: Path) -> Path:
    """A fresh runs folder a test may add to (symlinks, damaged runs)."""
    return _make_runs(tmp_path / "runs")


@pytest.fixture(scope="module")
def served_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The runs folder behind ``web_server`` (shared by a module's tests; never changed)."""
    return _make_runs(tmp_path_factory.mktemp("served") / "runs")


@pytest.fixture(scope="module")
def web_server(served_runs: Path) -> Iterator[str]:
    """The app over ``served_runs`` on a real uvicorn server; yields its base URL."""
    # The socket is bound here so the port is known before the server starts, and no other
    # process can take it in between.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(served_runs), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("the uvicorn server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_S)
        sock.close()
