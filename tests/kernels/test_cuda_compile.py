"""CUDA builds with nvcc: the suite's .cu kernels compile for sm_80 and sm_90 and export
their host entry point; broken sources, missing ``extern "C"``, shared libraries, the
search for nvcc and the timeout behave as documented. Needs nvcc (``perfsmith[cuda]``),
not a GPU."""

from __future__ import annotations

import os
import stat
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import pytest

from perfsmith.errors import ConfigError
from perfsmith.kernels import cuda
from perfsmith.kernels.cuda import (
    CudaBuild,
    compile_cuda,
    cuda_include_dirs,
    cuda_symbol_check,
    find_nvcc,
)
from perfsmith.kernels.spec import KernelTask, is_kernel_task, load_kernel_task

NVCC = find_nvcc()
if NVCC is None:
    pytest.skip(
        "no nvcc found ($NVCC, PATH, $CUDA_HOME, /usr/local/cuda or the nvidia-cuda-nvcc "
        "wheel); install it with pip install 'perfsmith[cuda]'",
        allow_module_level=True,
    )

SUITE = Path(__file__).resolve().parents[2] / "benchmarks" / "kernels-lite"
ARCHS = ("sm_80", "sm_90")
ET_REL, ET_DYN = 1, 3


class Case(NamedTuple):
    task: str
    file: str
    arch: str


def _cuda_tasks() -> dict[str, KernelTask]:
    tasks: dict[str, KernelTask] = {}
    for folder in sorted(SUITE.iterdir()):
        if folder.is_dir() and is_kernel_task(folder):
            task = load_kernel_task(folder)
            if task.cuda_kernel or task.cuda_expert:
                tasks[folder.name] = task
    return tasks


TASKS = _cuda_tasks()
CASES = [
    Case(name, file, arch)
    for name, task in TASKS.items()
    for file in (task.cuda_kernel, task.cuda_expert)
    if file
    for arch in ARCHS
]


def _elf_type(path: Path) -> int:
    head = path.read_bytes()[:18]
    assert head[:4] == b"\x7fELF", f"{path} is not an ELF file"
    return int.from_bytes(head[16:18], "little")


@pytest.fixture(scope="module")
def suite_builds(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[Case, CudaBuild]:
    """Every selected suite case, compiled once and in parallel (each nvcc run is a few
    seconds, mostly single-threaded)."""
    selected = {
        item.callspec.params["case"]
        for item in request.session.items
        if getattr(item, "module", None) is request.module
        and "case" in getattr(getattr(item, "callspec", None), "params", {})
    }
    out = tmp_path_factory.mktemp("suite")

    def build(case: Case) -> CudaBuild:
        return compile_cuda(
            SUITE / case.task / case.file, out / case.task / case.arch, arch=case.arch
        )

    with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        return dict(zip(selected, pool.map(build, selected), strict=True))


def test_suite_has_enough_cuda_tasks() -> None:
    assert len(TASKS) >= 4, f"tasks with CUDA sources: {sorted(TASKS)}"
    for task in TASKS.values():
        assert task.cuda_kernel and task.cuda_expert, f"{task.instance_id} lacks a .cu file"


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[f"{c.task}-{c.file}-{c.arch}" for c in CASES])
def test_suite_cuda_source_compiles(case: Case, suite_builds: dict[Case, CudaBuild]) -> None:
    build = suite_builds[case]
    assert build.ok, f"nvcc failed on {case.task}/{case.file} ({case.arch}):\n{build.log}"
    assert build.output is not None and build.output.is_file()
    assert build.output.suffix == ".o" and _elf_type(build.output) == ET_REL
    assert f"-arch={case.arch}" in build.argv and "-c" in build.argv
    function = TASKS[case.task].function
    assert cuda_symbol_check(build.output, function), (
        f'{case.task}/{case.file} defines no extern "C" host function {function!r}'
    )


def test_include_dirs_hold_the_runtime_and_cccl_headers() -> None:
    assert NVCC is not None
    dirs = cuda_include_dirs(NVCC)
    assert any((d / "cuda_runtime.h").is_file() for d in dirs), dirs
    assert any((d / "cub").is_dir() or (d / "cuda" / "std").is_dir() for d in dirs), dirs


def test_broken_source_fails_with_nvcc_message(tmp_path: Path) -> None:
    src = tmp_path / "broken.cu"
    src.write_text(
        '#include <cstdint>\nextern "C" void broken(float *x, int64_t n) {\n'
        "    x[0] = undeclared_identifier_xyz;\n}\n"
    )
    build = compile_cuda(src, tmp_path / "out", arch="sm_90")
    assert not build.ok
    assert build.output is None
    assert not (tmp_path / "out" / "broken.o").exists()
    assert "undeclared_identifier_xyz" in build.log and "error" in build.log


def test_failed_build_leaves_no_stale_output(tmp_path: Path) -> None:
    src = tmp_path / "k.cu"
    src.write_text('extern "C" void k(float *x) { x[0] = 1.0f; }\n')
    assert compile_cuda(src, tmp_path / "out").ok
    src.write_text('extern "C" void k(float *x) { x[0] = nope; }\n')
    build = compile_cuda(src, tmp_path / "out")
    assert not build.ok and build.output is None
    assert not (tmp_path / "out" / "k.o").exists()


def test_symbol_check_needs_extern_c_and_the_right_name(tmp_path: Path) -> None:
    src = tmp_path / "linkage.cu"
    src.write_text(
        "#include <cstdint>\n"
        "__global__ void twice(float *x, int64_t n) {\n"
        "    int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;\n"
        "    if (i < n) x[i] *= 2.0f;\n}\n"
        'extern "C" void scale_c(float *x, int64_t n) { twice<<<(n + 255) / 256, 256>>>(x, n); }\n'
        "void scale_cpp(float *x, int64_t n) { twice<<<(n + 255) / 256, 256>>>(x, n); }\n"
    )
    build = compile_cuda(src, tmp_path / "out")
    assert build.ok, build.log
    assert build.output is not None
    assert cuda_symbol_check(build.output, "scale_c")
    assert not cuda_symbol_check(build.output, "scale_cpp")
    assert not cuda_symbol_check(build.output, "scale")
    assert not cuda_symbol_check(build.output, "twice")


def test_shared_build_produces_a_loadable_library(tmp_path: Path) -> None:
    task = TASKS[sorted(TASKS)[0]]
    assert task.cuda_kernel is not None
    build = compile_cuda(task.folder / task.cuda_kernel, tmp_path / "lib", shared=True)
    assert build.ok, build.log
    assert build.output == (tmp_path / "lib" / "kernel.so").resolve()
    assert _elf_type(build.output) == ET_DYN
    assert "-shared" in build.argv and "-fPIC" in build.argv and "-c" not in build.argv
    assert cuda_symbol_check(build.output, task.function)


def test_missing_nvcc_raises_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cuda, "find_nvcc", lambda: None)
    monkeypatch.setenv("NVCC", str(tmp_path / "no-such-nvcc"))
    with pytest.raises(ConfigError) as err:
        compile_cuda(tmp_path / "k.cu", tmp_path / "out")
    assert "nvcc" in err.value.message and "no-such-nvcc" in err.value.message
    assert "pip install 'perfsmith[cuda]'" in err.value.hint
    assert "CUDA toolkit" in err.value.hint


def _fake_nvcc(folder: Path, body: str = "exit 0") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "nvcc"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def bare_search(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No nvcc from the environment, PATH or a system CUDA: only what a test adds."""
    monkeypatch.delenv("NVCC", raising=False)
    monkeypatch.delenv("CUDA_HOME", raising=False)
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr(cuda, "SYSTEM_CUDA_HOMES", (tmp_path / "no-cuda",))


def test_find_nvcc_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bare_search: None
) -> None:
    home = _fake_nvcc(tmp_path / "home" / "bin")
    monkeypatch.setenv("CUDA_HOME", str(tmp_path / "home"))
    assert find_nvcc() == home
    on_path = _fake_nvcc(tmp_path / "path")
    monkeypatch.setenv("PATH", str(tmp_path / "path"))
    assert find_nvcc() == on_path
    named = _fake_nvcc(tmp_path / "named")
    monkeypatch.setenv("NVCC", str(named))
    assert find_nvcc() == named


def test_find_nvcc_passes_over_non_executables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bare_search: None
) -> None:
    plain = tmp_path / "plain" / "nvcc"
    plain.parent.mkdir()
    plain.write_text("not a program\n")
    monkeypatch.setenv("NVCC", str(plain))
    monkeypatch.setenv("CUDA_HOME", str(tmp_path / "plain-home"))
    (tmp_path / "plain-home" / "bin" / "nvcc").mkdir(parents=True)
    found = find_nvcc()
    assert found not in (plain, tmp_path / "plain-home" / "bin" / "nvcc")
    assert found is None or (found.name == "nvcc" and os.access(found, os.X_OK))


def test_find_nvcc_falls_back_to_the_wheel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bare_search: None
) -> None:
    site = tmp_path / "site"
    wheel = _fake_nvcc(site / "nvidia" / "cu13" / "bin")
    (site / "nvidia" / "cu13" / "include" / "cccl").mkdir(parents=True)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "nvidia", raising=False)
    assert find_nvcc() == wheel
    assert cuda_include_dirs(wheel) == [
        site / "nvidia" / "cu13" / "include",
        site / "nvidia" / "cu13" / "include" / "cccl",
    ]


def test_timeout_kills_the_process_group(tmp_path: Path) -> None:
    child_pid = tmp_path / "child.pid"
    fake = _fake_nvcc(
        tmp_path / "hang",
        f'sleep 600 &\necho $! > "{child_pid}"\necho compiling\nwait',
    )
    src = tmp_path / "k.cu"
    src.write_text("")
    build = compile_cuda(src, tmp_path / "out", nvcc=fake, timeout_s=1)
    assert not build.ok and build.output is None
    assert "timed out" in build.log and "compiling" in build.log
    assert build.argv[0] == str(fake)
    pid = int(child_pid.read_text())
    assert _gone(pid), f"nvcc's child {pid} outlived the timeout"


def _gone(pid: int) -> bool:
    """Whether ``pid`` has exited (a zombie awaiting its new parent counts as exited)."""
    # SIGKILL reaches another process asynchronously: allow its exit a bounded moment.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.01)
    return False
