"""pyenv: collapse (pure) and inspect_python on real interpreters."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import perfsmith
from perfsmith.errors import ConfigError
from perfsmith.sandbox import pyenv
from perfsmith.sandbox.pyenv import collapse, inspect_python

PY = sys.executable  # the project's venv python
PACKAGE = str(Path(perfsmith.__file__).parent)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ([], ()),
        (["/a"], ("/a",)),
        (["/a", "/a"], ("/a",)),
        (["/a/b", "/a"], ("/a",)),
        (["/a", "/a/b/c", "/a/b"], ("/a",)),
        (["/ab", "/a"], ("/a", "/ab")),  # a shared prefix of letters is not nesting
        (["/a-b", "/a/b"], ("/a-b", "/a/b")),
        (["/z", "/y/x", "/b"], ("/b", "/y/x", "/z")),
        (["/a/", "/a//b", "/a/./c"], ("/a",)),
        (["/a/b/", "/a/b"], ("/a/b",)),
        (["", "/a"], ("/a",)),
        (["/usr/lib/python3.11", "/usr", "/opt/venv/lib", "/opt/venv"], ("/opt/venv", "/usr")),
        (["/", "/a"], ("/",)),
    ],
)
def test_collapse(given: list[str], expected: tuple[str, ...]) -> None:
    assert collapse(given) == expected


def test_collapse_accepts_any_iterable_and_order() -> None:
    paths = ["/c/d", "/a", "/c", "/a/x"]
    assert collapse(iter(paths)) == collapse(reversed(paths)) == ("/a", "/c")


def test_inspect_the_project_venv() -> None:
    env = inspect_python(PY)
    assert env.python == PY
    assert env.executable == PY  # a venv's python stays a venv path
    assert env.version == ".".join(map(str, sys.version_info[:3]))
    assert "/" not in env.paths
    assert env.paths == collapse(env.paths)  # already minimal and sorted
    assert all(os.path.isabs(p) and os.path.exists(p) for p in env.paths)

    def covered(path: str) -> bool:
        return any(Path(path).is_relative_to(p) for p in env.paths)

    assert covered(sysconfig.get_paths()["stdlib"])
    assert covered(os.path.realpath(sysconfig.get_paths()["stdlib"]))
    assert covered(sys.base_prefix) and covered(sys.prefix)
    assert covered(os.path.realpath(PY))  # the binary behind the venv symlink
    assert covered(PACKAGE)
    assert covered(pytest.__file__)  # site-packages


def test_inspected_paths_are_enough_to_run(tmp_path: Path) -> None:
    """The interpreter starts and imports perfsmith with only the listed paths on it."""
    env = inspect_python(PY)
    code = "import sys, perfsmith, pytest; print(sys.prefix)"
    out = subprocess.run(
        [env.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert any(Path(out.stdout.strip()).is_relative_to(p) for p in env.paths)


def test_inspect_is_cached() -> None:
    assert inspect_python(PY) is inspect_python(PY)
    assert inspect_python(PY, exclude=[Path("/nowhere")]) is inspect_python(
        PY, exclude=(Path("/nowhere"),)
    )


def test_excluded_folders_are_never_listed() -> None:
    env = inspect_python(PY, exclude=[Path(PACKAGE), Path(sys.prefix)])
    for path in env.paths:
        assert not Path(path).is_relative_to(PACKAGE)
        assert not Path(path).is_relative_to(sys.prefix)
    assert any(Path(sys.base_prefix).is_relative_to(p) for p in env.paths)


def test_pythonpath_of_this_process_does_not_leak(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    env = inspect_python(PY, exclude=[tmp_path / "unrelated"])  # a fresh cache entry
    assert not any(Path(p).is_relative_to(tmp_path) for p in env.paths)
    assert env.paths == inspect_python(PY).paths


def test_missing_interpreter_is_a_clear_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        inspect_python(str(tmp_path / "no-such-python"))
    assert "not found" in err.value.message
    assert "python" in err.value.hint


def test_failing_interpreter_is_a_clear_config_error(tmp_path: Path) -> None:
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'broken install' >&2\nexit 7\n")
    fake.chmod(0o755)
    with pytest.raises(ConfigError) as err:
        inspect_python(str(fake))
    assert "exit 7" in err.value.message and "broken install" in err.value.message
    assert err.value.hint
    not_python = tmp_path / "echo"
    not_python.write_text("#!/bin/sh\necho hello\n")
    not_python.chmod(0o755)
    with pytest.raises(ConfigError):
        inspect_python(str(not_python))


def test_hung_interpreter_times_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pyenv, "PROBE_TIMEOUT_S", 0.5)
    slow = tmp_path / "python"
    slow.write_text("#!/bin/sh\nexec sleep 30\n")
    slow.chmod(0o755)
    with pytest.raises(ConfigError) as err:
        inspect_python(str(slow))
    assert "did not answer" in err.value.message
