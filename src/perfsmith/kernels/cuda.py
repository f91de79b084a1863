"""Compiling CUDA kernels with nvcc, on machines with or without a GPU.

A kernel task may carry CUDA sources (``kernel.cu``, ``expert.cu``; see docs/kernels.md).
Without a GPU they can still be compiled: NVIDIA's PyPI wheels (``nvidia-cuda-nvcc``,
``nvidia-cuda-runtime``, ``nvidia-cuda-cccl``, the ``perfsmith[cuda]`` extra) carry nvcc
and the headers, so no system CUDA toolkit is needed. ``compile_cuda`` builds an object
file (compile only) or a shared library that a GPU machine can load, and
``cuda_symbol_check`` confirms that the host entry point the harness calls is exported
under its C name.

For running on a GPU (``perfsmith.kernels.gpu``) a kernel is compiled position-independent
with its device image kept (``pic=True, keep=True``), so the state check can read both the
host object and the cubin, and then linked with ``link_cuda`` against the shared CUDA
runtime that ``find_cudart`` locates: the harness's ctypes binding and the kernel then
share one runtime, and a launch error inside the kernel is visible to the harness.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from perfsmith.errors import ConfigError

__all__ = [
    "CudaBuild",
    "GpuBuild",
    "build_gpu_kernel",
    "compile_cuda",
    "cuda_include_dirs",
    "cuda_mutable_state",
    "cuda_state_message",
    "cuda_symbol_check",
    "cudart_candidates",
    "device_images",
    "find_cudart",
    "find_nvcc",
    "link_cuda",
    "load_harness",
    "nvcc_own",
]

NVCC_FLAGS: tuple[str, ...] = ("-O3", "-std=c++17", "-lineinfo")
SYSTEM_CUDA_HOMES: tuple[Path, ...] = (Path("/usr/local/cuda"),)
WHEEL_LAYOUTS: tuple[str, ...] = ("cu13", "cu12")
# Where NVIDIA's runtime wheels put libcudart, relative to a folder of the nvidia package.
WHEEL_RUNTIME_DIRS: tuple[str, ...] = ("cu13/lib", "cu12/lib", "cuda_runtime/lib")
TOOLKIT_LIB_DIRS: tuple[str, ...] = ("lib64", "lib", "targets/x86_64-linux/lib")
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
        keep_dir: the folder of nvcc's intermediate files (``keep=True``), among them the
            device image ``<stem>.sm_XX.cubin``; None otherwise.
    """

    ok: bool
    argv: tuple[str, ...]
    log: str
    output: Path | None
    duration_s: float
    keep_dir: Path | None = None


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
    pic: bool = False,
    keep: bool = False,
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
        pic: compile the object file position-independent (``-Xcompiler -fPIC``), so that
            ``link_cuda`` can link it into a shared library.
        keep: keep nvcc's intermediate files in ``out_dir/<stem>.keep/`` (``-keep``); the
            device image is ``<stem>.<arch>.cubin`` there (see ``device_images``).

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
    if shared:
        mode = ["-shared", "-Xcompiler", "-fPIC"]
    else:
        mode = ["-Xcompiler", "-fPIC", "-c"] if pic else ["-c"]
    keep_dir: Path | None = None
    if keep:
        keep_dir = out_dir.resolve() / f"{source.stem}.keep"
        shutil.rmtree(keep_dir, ignore_errors=True)
        keep_dir.mkdir()
        mode += ["-keep", "-keep-dir", str(keep_dir)]
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
    return _build(argv, out_dir, output, timeout_s, keep_dir)


def _build(
    argv: list[str], cwd: Path, output: Path, timeout_s: float, keep_dir: Path | None
) -> CudaBuild:
    start = time.monotonic()
    returncode, log = _run(argv, cwd, timeout_s)
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
        keep_dir=keep_dir,
    )


def link_cuda(
    obj: Path,
    out_dir: Path,
    *,
    cudart: Path | None = None,
    nvcc: Path | None = None,
    timeout_s: float = 120,
) -> CudaBuild:
    """Link an object file from ``compile_cuda(..., pic=True)`` into ``<stem>.so``.

    Args:
        obj: the position-independent object file.
        out_dir: where the shared library goes (created if missing).
        cudart: a shared CUDA runtime (``libcudart.so.N``) to link against
            (``-cudart=none`` plus that file, which needs no unversioned ``libcudart.so``
            symlink, as NVIDIA's wheels have none); the library then needs a
            ``libcudart.so.N`` loaded before it or on the loader's path. None: nvcc's
            default, the static runtime inside the library.
        nvcc: the compiler; default: ``find_nvcc()``.
        timeout_s: seconds before the link is killed.

    Returns:
        The build (``output`` is the ``.so``).

    Raises:
        ConfigError: no nvcc was given and none can be found.
    """
    compiler = nvcc if nvcc is not None else find_nvcc()
    if compiler is None:
        raise _missing_nvcc()
    obj = Path(obj).resolve()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir.resolve() / f"{obj.stem}.so"
    output.unlink(missing_ok=True)
    runtime = ["-cudart=none", "-Xlinker", str(Path(cudart).resolve())] if cudart else []
    argv = [str(compiler), "-shared", *runtime, str(obj), "-o", str(output)]
    return _build(argv, out_dir, output, timeout_s, None)


def device_images(build: CudaBuild) -> list[Path]:
    """The cubin files (device ELF images) nvcc kept for a ``keep=True`` build.

    Returns:
        Sorted paths; empty when the build kept nothing.
    """
    if build.keep_dir is None or not build.keep_dir.is_dir():
        return []
    return sorted(build.keep_dir.glob("*.cubin"))


def _runtime_in(folder: Path) -> Path | None:
    """The shortest-named ``libcudart.so*`` file in ``folder`` (the static archive is not one)."""
    try:
        found = [p for p in folder.glob("libcudart.so*") if p.is_file()]
    except OSError:
        return None
    return min(found, key=lambda p: (len(p.name), p.name)) if found else None


def _ldconfig_runtimes() -> list[Path]:
    ldconfig = shutil.which("ldconfig") or "/sbin/ldconfig"
    try:
        res = subprocess.run(
            [ldconfig, "-p"], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return []
    found = []
    for line in res.stdout.splitlines():
        name, _, where = line.strip().partition(" => ")
        if name.startswith("libcudart.so") and where:
            found.append(Path(where.strip()))
    return found


def cudart_candidates(nvcc: Path | None = None) -> list[Path]:
    """Where a shared CUDA runtime may be, in the order ``find_cudart`` tries them.

    ``$CUDART`` (a file), the toolkit of ``nvcc`` (``<root>/lib64``, ``<root>/lib``,
    ``<root>/targets/x86_64-linux/lib``), ``$CUDA_HOME/lib64``, ``/usr/local/cuda/lib64``,
    the runtime wheels (``nvidia/cu13/lib``, ``nvidia/cu12/lib``,
    ``nvidia/cuda_runtime/lib``) and what ``ldconfig -p`` lists. The runtime beside the
    compiler comes first, so kernels link against the runtime of the toolkit that built them.

    Args:
        nvcc: the compiler in use (default: ``find_nvcc()``).
    """
    found: list[Path] = []
    if os.environ.get("CUDART"):
        found.append(Path(os.environ["CUDART"]))
    compiler = nvcc if nvcc is not None else find_nvcc()
    folders: list[Path] = []
    if compiler is not None:
        root = compiler.resolve().parent.parent
        folders += [root / d for d in TOOLKIT_LIB_DIRS]
    if os.environ.get("CUDA_HOME"):
        folders.append(Path(os.environ["CUDA_HOME"]) / "lib64")
    folders += [home / "lib64" for home in SYSTEM_CUDA_HOMES]
    for root in _wheel_roots():
        folders += [root / d for d in WHEEL_RUNTIME_DIRS]
    for folder in folders:
        lib = _runtime_in(folder)
        if lib is not None:
            found.append(lib)
    return list(dict.fromkeys(found + _ldconfig_runtimes()))


def find_cudart(nvcc: Path | None = None) -> Path | None:
    """The first shared CUDA runtime library of ``cudart_candidates`` that is a file.

    Returns:
        e.g. ``/usr/local/cuda/lib64/libcudart.so``; None when there is none.
    """
    for candidate in cudart_candidates(nvcc):
        if candidate.is_file():
            return candidate
    return None


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


# -- the state check on nvcc's outputs ----------------------------------------------------

HARNESS = Path(__file__).resolve().parent / "templates" / "kernel_harness.py"
HARNESS_MODULE = "perfsmith_kernel_harness"
_HARNESS_LOCK = threading.Lock()
# Writable host data that nvcc itself defines in every object: the fat binary's handle and
# wrapper, each kernel stub's static launch handle (with its guard variable) and the C++
# exception personality reference. None of it is the kernel author's.
NVCC_SYMBOL = re.compile(
    r"_ZL20__cudaFatCubinHandle|__cudaFatCubinHandle"
    r"|_ZL15__fatDeviceText|__fatDeviceText"
    r"|_Z(?:GV)?Z\d+__device_stub__\w+E(?:5__tmp|8__handle)"
    r"|DW\.ref\.__gxx_personality_v0"
)
# Writable sections nvcc's registration code fills without naming them (a constructor that
# registers the fat binary, and the fat binary wrapper's segment).
NVCC_SECTIONS = frozenset({".init_array", ".fini_array", ".nvFatBinSegment"})
# Names in a source that would impersonate nvcc's own symbols to pass the allow-list.
RESERVED_NAMES = re.compile(r"__device_stub__|__cudaFatCubinHandle|__fatDeviceText")
DEVICE_GLOBAL_SECTIONS = ".nv.global"  # .nv.global (zeroed) and .nv.global.init


def load_harness() -> ModuleType:
    """The CPU kernel harness (``templates/kernel_harness.py``), imported once.

    The CUDA path reuses its pure helpers rather than copies: the state check
    (``mutable_state``), the comparison with the reference (``check_output`` through
    ``Kernel.compare``), the poison patterns, the seeds and shapes of a spec, and the
    ctypes binding of the entry point (``Kernel``, whose function takes device pointers
    as it takes host ones).
    """
    with _HARNESS_LOCK:  # builds run in threads; none may see a half-imported module
        if HARNESS_MODULE in sys.modules:
            return sys.modules[HARNESS_MODULE]
        spec = importlib.util.spec_from_file_location(HARNESS_MODULE, HARNESS)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import {HARNESS}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[HARNESS_MODULE] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[HARNESS_MODULE]
            raise
        return module


def nvcc_own(symbol: str, section: str) -> bool:
    """Whether a writable symbol (or, with ``symbol == ""``, an unnamed writable section)
    of a host object file is nvcc's own data rather than the kernel's."""
    if symbol:
        return NVCC_SYMBOL.fullmatch(symbol) is not None
    return section in NVCC_SECTIONS


def _not_device_global(symbol: str, section: str) -> bool:
    # In a cubin only __device__ variables (and function-scope statics of device code)
    # persist between launches: .nv.shared is per block, .nv.constant read-only.
    return not section.startswith(DEVICE_GLOBAL_SECTIONS)


def cuda_mutable_state(
    obj: Path, cubins: Sequence[Path] = (), source_text: str | None = None
) -> list[str]:
    """State a CUDA kernel could keep between calls, on the host or on the device.

    - Host: the object file's writable data, as the C harness's ``mutable_state`` finds it
      (statics, globals, function-local statics, the host shadows nvcc makes for
      ``__device__``, ``__constant__`` and ``__managed__`` variables), less nvcc's own
      symbols (``nvcc_own``).
    - Device: the symbols of each cubin's ``.nv.global*`` sections, which hold
      ``__device__`` variables and also the function-scope ``static`` variables of device
      code, which have no host shadow.
    - Source: an identifier that would pass for one of nvcc's own names.

    Read-only tables pass: ``static const`` / ``constexpr`` on the host, ``__constant__
    const`` or ``constexpr`` arrays in device code.

    Args:
        obj: the host object file (``compile_cuda``; not the shared library, which also
            holds the C runtime's data).
        cubins: the device images (``device_images`` of a ``keep=True`` build).
        source_text: the ``.cu`` source, for the reserved-name check.

    Returns:
        One description per finding, e.g. ``["_ZL7scratch (b, .bss)", "calls (device
        global, b, .nv.global in kernel.sm_90.cubin)"]``; empty when there is no state.
    """
    harness = load_harness()
    found: list[str] = list(harness.mutable_state(obj, allow=nvcc_own))
    for cubin in cubins:
        for item in harness.mutable_state(cubin, allow=_not_device_global):
            found.append(f"device global {item} in {cubin.name}")
    if source_text is not None:
        names = sorted(set(RESERVED_NAMES.findall(source_text)))
        if names:
            found.append(f"the source uses nvcc's reserved name(s) {', '.join(names)}")
    return found


def cuda_state_message(found: Sequence[str], file: str = "the kernel") -> str:
    """The failure text for state found by ``cuda_mutable_state``."""
    return (
        f"{file} keeps state between calls: {', '.join(found)}. A kernel must be a pure "
        "function of its arguments: no static or global variables on the host, no "
        "__device__ or __managed__ variables (a read-only table may be static const or "
        "constexpr on the host, __constant__ const or constexpr in device code), and no "
        "buffers kept from one call to the next."
    )


@dataclass(frozen=True)
class GpuBuild:
    """A CUDA kernel built to run on a GPU.

    Attributes:
        source: the ``.cu`` file.
        ok: both the compile and the link succeeded.
        obj: the host object file (position-independent), for the state check.
        lib: the shared library linked against the shared CUDA runtime.
        cubins: the device images nvcc kept.
        arch: the architecture compiled for (``sm_90``).
        compile_s, link_s: wall-clock seconds of each step.
        log: nvcc's messages (compile, then link).
        cudart: the runtime the library is linked against (None: nvcc's static one).
    """

    source: Path
    ok: bool
    obj: Path | None
    lib: Path | None
    cubins: tuple[Path, ...]
    arch: str
    compile_s: float
    link_s: float
    log: str
    cudart: Path | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able summary (paths as text)."""
        return {
            "source": str(self.source),
            "ok": self.ok,
            "obj": None if self.obj is None else str(self.obj),
            "lib": None if self.lib is None else str(self.lib),
            "cubins": [str(c) for c in self.cubins],
            "arch": self.arch,
            "compile_s": self.compile_s,
            "link_s": self.link_s,
            "log": self.log[-4000:],
            "cudart": None if self.cudart is None else str(self.cudart),
        }


def build_gpu_kernel(
    source: Path,
    out_dir: Path,
    *,
    arch: str = "sm_90",
    nvcc: Path | None = None,
    cudart: Path | None = None,
    timeout_s: float = 300,
) -> GpuBuild:
    """Compile a ``.cu`` file (position-independent, device image kept) and link it into a
    shared library against the shared CUDA runtime.

    Args:
        source: the ``.cu`` file.
        out_dir: a folder for this build alone (the object, the library, nvcc's files).
        arch: the GPU architecture.
        nvcc: the compiler (default: ``find_nvcc()``).
        cudart: the shared runtime to link against (default: ``find_cudart(nvcc)``; when
            there is none, nvcc's static runtime, and the library then has a runtime of its
            own).
        timeout_s: the compile's time limit.

    Raises:
        ConfigError: no nvcc can be found.
    """
    compiler = nvcc if nvcc is not None else find_nvcc()
    if compiler is None:
        raise _missing_nvcc()
    runtime = cudart if cudart is not None else find_cudart(compiler)
    compiled = compile_cuda(
        source, out_dir, arch=arch, nvcc=compiler, timeout_s=timeout_s, pic=True, keep=True
    )
    log = compiled.log
    linked = None
    if compiled.ok and compiled.output is not None:
        linked = link_cuda(compiled.output, Path(out_dir) / "lib", cudart=runtime, nvcc=compiler)
        log += linked.log
    return GpuBuild(
        source=Path(source),
        ok=linked is not None and linked.ok,
        obj=compiled.output,
        lib=None if linked is None else linked.output,
        cubins=tuple(device_images(compiled)),
        arch=arch,
        compile_s=compiled.duration_s,
        link_s=0.0 if linked is None else linked.duration_s,
        log=log,
        cudart=runtime,
    )
