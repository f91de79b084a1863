"""Fixtures for the model adapter tests: a local OpenAI-compatible server."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

_FIXTURE_FILE = Path(__file__).resolve().parents[1] / "fixtures" / "openai_server.py"
_MODULE_NAME = "perfsmith_tests_openai_server"


def _load_server_module() -> ModuleType:
    # tests/ is not a package, so load the shared fixture by path under a unique name;
    # registering it in sys.modules lets test files import it by that name.
    if _MODULE_NAME in sys.modules:
        return sys.modules[_MODULE_NAME]
    spec = importlib.util.spec_from_file_location(_MODULE_NAME, _FIXTURE_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[_MODULE_NAME] = module
    spec.loader.exec_module(module)
    return module


server_module = _load_server_module()


@pytest.fixture
def openai_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """A running OpenAIServer on 127.0.0.1; enqueue behaviours, read ``requests``."""
    # A proxy from the environment must never see requests meant for the local server.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with server_module.OpenAIServer() as server:
        yield server
