"""What a Python interpreter needs from the host, so a sandbox can expose just that.

A sandbox that hides most of the file system (bubblewrap's tmpfs on /tmp, a container's own
root) must still show the interpreter, its standard library, libpython, its site-packages
and perfsmith's own package (whose helper scripts run by path). ``inspect_python`` asks the
interpreter once and turns its answer into the few top-level folders to mount read-only.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import perfsmith
from perfsmith.errors import ConfigError

PROBE_TIMEOUT_S = 30.0
_MARK = "perfsmith-pyenv:"
# Runs in the inspected interpreter (any Python 3): prints one marked JSON line.
_PROBE = f"""
import json, platform, sys
paths = [sys.base_prefix, sys.prefix, *sys.path]
# Editable installs by setuptools map packages through a finder, not through sys.path.
for finder in sys.meta_path:
    name = getattr(finder, "__module__", "") or ""
    mapping = getattr(sys.modules.get(name), "MAPPING", None)
    if name.startswith("__editable__") and isinstance(mapping, dict):
        paths += [str(p) for p in mapping.values()]
print({_MARK!r} + json.dumps({{
    "executable": sys.executable,
    "version": platform.python_version(),
    "paths": paths,
}}))
"""


@dataclass(frozen=True)
class PythonEnv:
    """A Python interpreter and the host folders it needs.

    Attributes:
        python: the interpreter as configured (a pyenv shim, a venv symlink, a bare name).
        executable: ``sys.executable`` as the interpreter reports it; a venv's
            ``bin/python`` stays a venv path, so the venv's packages stay importable.
        version: the interpreter's version, e.g. ``"3.11.7"``.
        paths: the top-level host folders to expose read-only: prefixes, the real
            executable's prefix, every existing ``sys.path`` entry and perfsmith's package;
            nested folders collapsed into their ancestors, sorted, never ``/`` and never
            inside an excluded folder.
    """

    python: str
    executable: str
    version: str
    paths: tuple[str, ...]


def collapse(paths: Iterable[str]) -> tuple[str, ...]:
    """Drop paths inside others and duplicates; return the rest sorted.

    Comparison is by path components (``/ab`` is not inside ``/a``) after lexical
    normalisation (trailing slashes, ``//`` and ``.``); empty strings are ignored.

    Args:
        paths: absolute POSIX paths.

    Returns:
        The outermost paths, sorted.
    """
    unique = {os.path.normpath(p) for p in paths if p}
    kept: list[PurePosixPath] = []
    for path in sorted((PurePosixPath(p) for p in unique), key=lambda p: len(p.parts)):
        if not any(path.is_relative_to(outer) for outer in kept):
            kept.append(path)
    return tuple(sorted(str(p) for p in kept))


def inspect_python(python: str, *, exclude: Sequence[Path] = ()) -> PythonEnv:
    """Ask ``python`` where it lives and which folders it reads (cached per arguments).

    The interpreter runs once, without ``PYTHONPATH`` and ``PYTHONHOME`` from this
    process's environment (sandboxed commands do not get them either).

    Args:
        python: the interpreter to inspect: a path or a name on PATH.
        exclude: folders whose contents must never be listed (the workspaces: they are
            mounted read-write on their own).

    Returns:
        The interpreter's description.

    Raises:
        ConfigError: the interpreter is missing, fails, hangs or prints nonsense.
    """
    return _inspect(python, tuple(Path(p) for p in exclude))


@functools.lru_cache(maxsize=32)
def _inspect(python: str, exclude: tuple[Path, ...]) -> PythonEnv:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    hint = "Set `python` in the configuration to a working interpreter (e.g. .venv/bin/python)."
    try:
        out = subprocess.run(
            [python, "-c", _PROBE], env=env, stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, check=False,
        )  # fmt: skip
    except FileNotFoundError as exc:
        raise ConfigError(f"Python interpreter {python!r} not found.", hint) from exc
    except OSError as exc:
        raise ConfigError(f"Cannot run {python!r}: {exc.strerror or exc}.", hint) from exc
    except subprocess.TimeoutExpired as exc:
        raise ConfigError(
            f"Python interpreter {python!r} did not answer within {PROBE_TIMEOUT_S:g} s.", hint
        ) from exc
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith(_MARK)]
    if out.returncode != 0 or not lines:
        tail = (out.stderr.strip() or out.stdout.strip())[-500:]
        raise ConfigError(
            f"Python interpreter {python!r} failed (exit {out.returncode}): {tail}", hint
        )
    try:
        found = json.loads(lines[-1][len(_MARK) :])
        executable, version = str(found["executable"]), str(found["version"])
        reported = [str(p) for p in found["paths"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"Python interpreter {python!r} gave an odd answer.", hint) from exc
    if not executable:
        raise ConfigError(f"Python interpreter {python!r} does not know its own path.", hint)
    return PythonEnv(
        python=python,
        executable=executable,
        version=version,
        paths=_needed(executable, reported, exclude),
    )


def _needed(executable: str, reported: list[str], exclude: tuple[Path, ...]) -> tuple[str, ...]:
    real_exe = Path(os.path.realpath(executable))
    # The real binary's prefix holds libpython and the stdlib even when a venv hides it.
    real_prefix = real_exe.parent.parent if real_exe.parent.name == "bin" else real_exe.parent
    candidates = [
        *reported,
        os.path.dirname(executable),
        str(real_prefix),
        str(Path(perfsmith.__file__).parent),
    ]
    outside = [Path(os.path.realpath(p)) for p in exclude] + [Path(p).absolute() for p in exclude]
    wanted: list[str] = []
    for raw in candidates:
        if not os.path.isabs(raw) or not os.path.exists(raw):
            continue  # "" (the current folder) and missing entries such as python311.zip
        # A symlinked entry is needed under both names: the one used and the one resolved.
        for path in {os.path.normpath(raw), os.path.realpath(raw)}:
            if path != "/" and not any(Path(path).is_relative_to(ex) for ex in outside):
                wanted.append(path)
    return collapse(wanted)
