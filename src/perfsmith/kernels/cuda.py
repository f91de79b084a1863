"""Compiling CUDA kernels with nvcc, on machines with or without a GPU.

A kernel task may carry CUDA sources (``kernel.cu``, ``expert.cu``; see docs/kernels.md).
Without a GPU they can still be compiled: NVIDIA's PyPI wheels (``nvidia-cuda-nvcc``,
``nvidia-cuda-runtime``, ``nvidia-cuda-cccl``, the ``perfsmith[cuda]`` extra) carry nvcc
and the headers, so no system CUDA toolkit is needed. ``compile_cuda`` builds an object
file (compile only) or a shared library that a GPU machine can load, and
``cuda_symbol_check`` confirms that the host entry point the harness calls is exported
under its C name.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from perfsmith.errors import ConfigError

__all__ = ["CudaBuild", "compile_cuda", "cuda_include_dirs", "cuda_symbol_check", "find_nvcc"]

NVCC_FLAGS: tuple[str, ...] = ("-O3", "-std=c++17", "-lineinfo")
SYSTEM_CUDA_HOMES: tuple[Path, ...] = (Path("/usr/local/cuda"),)
WHEEL_LAYOUTS: tuple[str, ...] = ("cu13", "cu12")
INSTALL_HINT = (
    "Install nvcc with pip install 'perfsmith[cuda]' (NVIDIA's nvidia-cuda-nvcc, "
    "nvidia-cuda-runtime and nvidia-cuda-cccl wheels, CUDA 13; no GPU is needed to "
    "compile), or install the CUDA toolkit and put its bin folder on PATH, set CUDA_HOME "
    "to it, or point NVCC at the nvcc executable."
)


@dataclass(frozen=True)
class CudaBuild:
    """The outcome of one nvcc run.

    Attributes:
        ok: nvcc exited with status 0 within the timeout and wrote the output file.
        argv: the command that ran.
        log: nvcc's output (stdout and stderr together), plus a note when it timed out.
        output: the object file or shared library; None when the build failed.
        duration_s: wall-clock seconds the build took.
    """

    ok: bool
    argv: tuple[str, ...]
    log: str
    output: Path | None
    duration_s: float


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _wheel_roots() -> list[Path]:
    """The folders of the ``nvidia`` namespace package that NVIDIA's wheels install into."""
    try:
        spec = importlib.util.find_spec("nvidia")
    except (ImportError, ValueError):
        return []
    if spec is None or spec.submodule_search_locations is None:
        return []
    return [Path(p) for p in spec.submodule_search_locations]


def _candidates() -> list[Path]:
    found: list[Path] = []
    if os.environ.get("NVCC"):
        found.append(Path(os.environ["NVCC"]))
    on_path = shutil.which("nvcc")
    if on_path:
        found.append(Path(on_path))
    if os.environ.get("CUDA_HOME"):
        found.append(Path(os.environ["CUDA_HOME"]) / "bin" / "nvcc")
    found.extend(home / "bin" / "nvcc" for home in SYSTEM_CUDA_HOMES)
    for root in _wheel_roots():
        found.extend(root / layout / "bin" / "nvcc" for layout in WHEEL_LAYOUTS)
    return found


def find_nvcc() -> Path | None:
    """Locate an executable nvcc.

    Looks, in order, at ``$NVCC``, ``nvcc`` on ``PATH``, ``$CUDA_HOME/bin/nvcc``,
    ``/usr/local/cuda/bin/nvcc`` and the PyPI wheels' ``nvidia/cu13/bin/nvcc`` (and
    ``nvidia/cu12/bin/nvcc``) in every folder of the ``nvidia`` namespace package.
    Candidates that are not executable files are passed over.

    Returns:
        The first executable nvcc, or None when there is none.
    """
    for candidate in _candidates():
        if _executable(candidate):
            return candidate
    return None


def cuda_include_dirs(nvcc: Path) -> list[Path]:
    """The header folders that belong with an nvcc, so no system CUDA is needed.

    Args:
        nvcc: the nvcc executable (``<root>/bin/nvcc``; a symlink is followed).

    Returns:
        ``<root>/include`` and the CCCL header folders (``<root>/include/cccl``,
        ``<root>/cccl/include``) that exist, in that order; empty when there are none.
    """
    root = nvcc.resolve().parent.parent
    candidates = (root / "include", root / "include" / "cccl", root / "cccl" / "include")
    return [path for path in candidates if path.is_dir()]


def _output_path(source: Path, out_dir: Path, shared: bool) -> Path:
    return out_dir / f"{source.stem}{'.so' if shared else '.o'}"


def _include_flags(nvcc: Path) -> list[str]:
    flags: list[str] = []
    for path in cuda_include_dirs(nvcc):
        # CCCL goes in as a system folder, as nvcc's own profile adds it, so that its
        # headers keep their place after the toolkit's and their warnings stay quiet.
        flags += ["-isystem", str(path)] if "cccl" in path.parts else ["-I", str(path)]
    return flags


def _missing_nvcc() -> ConfigError:
    named = os.environ.get("NVCC")
    problem = "No CUDA compiler (nvcc) was found."
    if named:
        problem += f" NVCC is set to {named}, which is not an executable file."
    return ConfigError(problem, INSTALL_HINT)


def _run(argv: list[str], cwd: Path, timeout_s: float) -> tuple[int | None, str]:
    """Run ``argv`` in its own process group; on timeout kill the whole group.

    Output goes to a temporary file rather than a pipe, so a helper process that outlives
    nvcc cannot keep the read open after the group is killed.
    """
    with tempfile.TemporaryFile() as sink:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        returncode: int | None = None
        try:
            returncode = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            pass
        finally:
            # cudafe++, cicc, ptxas and the host compiler are nvcc's children: kill the
            # group, not just nvcc, whether it timed out or the wait was interrupted. Only
            # while nvcc is unreaped, so its group id cannot yet belong to anyone else.
            if returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        sink.seek(0)
        text = sink.read().decode("utf-8", errors="replace")
    return returncode, text


def compile_cuda(
    source: Path,
    out_dir: Path,
    *,
    arch: str = "sm_90",
    shared: bool = False,
    nvcc: Path | None = None,
    timeout_s: float = 300,
) -> CudaBuild:
    """Compile one ``.cu`` file with nvcc.

    The flags are ``-O3 -std=c++17 -arch=<arch> -lineinfo`` plus the include folders of
    ``cuda_include_dirs``. By default the build is compile-only (``-c``, an object file
    ``<stem>.o``); ``shared=True`` links ``<stem>.so`` (``-shared -Xcompiler -fPIC``) for a
    GPU machine to load. A previous output of the same name is removed first, so a failed
    build never leaves a stale file behind.

    Args:
        source: the ``.cu`` file.
        out_dir: where the output goes (created if missing).
        arch: the GPU architecture, e.g. ``sm_80`` or ``sm_90``.
        shared: build a shared library instead of an object file.
        nvcc: the compiler; default: ``find_nvcc()``.
        timeout_s: seconds before nvcc and everything it started are killed.

    Returns:
        The build; ``ok`` is False, with nvcc's messages in ``log``, when it fails or times
        out.

    Raises:
        ConfigError: no nvcc was given and none can be found.
    """
    compiler = nvcc if nvcc is not None else find_nvcc()
    if compiler is None:
        raise _missing_nvcc()
    source = Path(source).resolve()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    output = _output_path(source, out_dir.resolve(), shared)
    output.unlink(missing_ok=True)
    mode = ["-shared", "-Xcompiler", "-fPIC"] if shared else ["-c"]
    argv = [
        str(compiler),
        *NVCC_FLAGS,
        f"-arch={arch}",
        *_include_flags(compiler),
        *mode,
        str(source),
        "-o",
        str(output),
    ]
    start = time.monotonic()
    returncode, log = _run(argv, out_dir, timeout_s)
    duration = time.monotonic() - start
    if returncode is None:
        log += f"\nnvcc timed out after {timeout_s:g} s and was killed.\n"
    ok = returncode == 0 and output.is_file()
    if returncode == 0 and not ok:
        log += f"\nnvcc exited with status 0 but wrote no {output.name}.\n"
    return CudaBuild(
        ok=ok,
        argv=tuple(argv),
        log=log,
        output=output if ok else None,
        duration_s=duration,
    )


def _defined_text(obj: Path, *extra: str) -> set[str]:
    nm = shutil.which("nm")
    if nm is None:
        raise ConfigError(
            "The symbol check needs nm, which is not on PATH.",
            "Install binutils (e.g. apt-get install binutils).",
        )
    result = subprocess.run(
        [nm, *extra, "--defined-only", str(obj)],
        capture_output=True,
        text=True,
        errors="replace",
        check=False,
    )
    names: set[str] = set()
    for line in result.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[-2] == "T":
            names.add(fields[-1])
    return names


def cuda_symbol_check(obj: Path, function: str) -> bool:
    """Whether an nvcc output defines the host function ``function`` under its C name.

    The harness calls the kernel's ``extern "C"`` host entry point by name; a ``.cu`` that
    forgot ``extern "C"`` exports a C++-mangled name instead, and a misnamed function no
    such name at all.

    Args:
        obj: an object file or shared library from ``compile_cuda``.
        function: the C symbol (the task's ``function``).

    Returns:
        True when ``nm`` lists ``function`` as a defined global text symbol (``T``); for
        a shared library whose symbol table was stripped, its dynamic symbols are read.

    Raises:
        ConfigError: ``nm`` is not installed.
    """
    if function in _defined_text(obj):
        return True
    return obj.suffix == ".so" and function in _defined_text(obj, "-D")
