"""CUDA kernels on a GPU: the runtime binding, the state check on nvcc's outputs, Nsight
Compute's CSV, the timing decisions and scripts/gpu_check.py.

Without a GPU (this machine): the binding loads the real libcudart and reports the missing
GPU clearly, every exploit kernel compiles and the state check catches the ones that keep
state, and the script exits 2 (normal mode) or builds everything (``--compile-only``).
With a GPU (``pytest tests/kernels/test_gpu.py`` on the device) the tests marked ``gpu``
run the checks and timing on the suite's kernels and assert that every exploit is caught
by the checks its manifest names."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from perfsmith.errors import ConfigError
from perfsmith.kernels import cuda
from perfsmith.kernels.cuda import (
    build_gpu_kernel,
    compile_cuda,
    cuda_mutable_state,
    cuda_symbol_check,
    find_cudart,
    find_nvcc,
    load_harness,
    nvcc_own,
)
from perfsmith.kernels.cudart import (
    CudaError,
    NoGpu,
    Runtime,
    gpu_spec,
    peak_bandwidth,
    spec_from_attributes,
    version_text,
)
from perfsmith.kernels.gpu import (
    OUTSIDE_ABS_S,
    GpuKernel,
    check_kernel,
    outside_stream,
    speedup,
)
from perfsmith.kernels.gpu_job import energy_calls, evaluate_in_subprocess
from perfsmith.kernels.gpu_profile import (
    NCU_METRICS,
    NOT_PERMITTED,
    THEORETICAL_OCCUPANCY,
    GpuMonitor,
    energy_summary,
    find_ncu,
    metric_value,
    ncu_status,
    ncu_text,
    parse_ncu_csv,
    profile_kernel,
    rejected_metrics,
    summarize_ncu,
)
from perfsmith.kernels.spec import load_kernel_task

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "benchmarks" / "kernels-lite"
FIXTURES = ROOT / "tests" / "fixtures" / "kernels"
EXPLOITS = FIXTURES / "exploits_cuda"
FIXTURE_TASK = FIXTURES / "vadd_cuda"
SCRIPT = ROOT / "scripts" / "gpu_check.py"
MANIFEST = yaml.safe_load((EXPLOITS / "exploits.yaml").read_text())["exploits"]
NVCC = find_nvcc()
CUDART = find_cudart()
needs_nvcc = pytest.mark.skipif(NVCC is None, reason="no nvcc (pip install 'perfsmith[cuda]')")


def _gpu_problem() -> str | None:
    """None when a GPU is usable here, else why not."""
    if CUDART is None:
        return "no CUDA runtime library"
    try:
        Runtime().device_count()
    except (NoGpu, ConfigError) as exc:
        return exc.message.split(". ")[0]
    return None


GPU_PROBLEM = _gpu_problem()
needs_gpu = pytest.mark.skipif(GPU_PROBLEM is not None, reason=f"no GPU: {GPU_PROBLEM}")
without_gpu = pytest.mark.skipif(
    GPU_PROBLEM is None or CUDART is None, reason="needs a CUDA runtime and no GPU"
)


def _env() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": str(ROOT / "src") + (os.pathsep + path if path else "")}


# -- the runtime binding ------------------------------------------------------------------


@without_gpu
def test_runtime_loads_and_says_there_is_no_gpu() -> None:
    runtime = Runtime()
    assert runtime.path == CUDART
    assert runtime.runtime_version() >= 12000
    assert runtime.error_string(100) == "no CUDA-capable device is detected"
    assert runtime.error_name(2) == "cudaErrorMemoryAllocation"
    with pytest.raises(NoGpu) as err:
        runtime.device_count()
    message = err.value.message
    assert message.startswith("No usable GPU: ")
    assert "cudaGetDeviceCount answered" in message and str(runtime.path) in message
    assert err.value.code in (35, 100)
    assert "NVIDIA GPU" in err.value.hint and "--compile-only" in err.value.hint
    with pytest.raises(NoGpu):
        gpu_spec(runtime)


@without_gpu
def test_a_failed_call_names_the_call_and_the_runtime_error() -> None:
    runtime = Runtime()
    with pytest.raises(CudaError) as err:
        runtime.malloc(1024)
    assert err.value.message.startswith("cudaMalloc(1024 bytes) failed: cudaError")
    assert runtime.error_string(err.value.code) in err.value.message
    error = runtime.error("cudaMemset", 1)
    assert error.message == "cudaMemset failed: cudaErrorInvalidValue (1): invalid argument."


def test_a_missing_runtime_library_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        Runtime(tmp_path / "libcudart.so.13")
    assert "Cannot load the CUDA runtime" in err.value.message


def test_cudart_search_prefers_the_named_file_then_the_compilers_toolkit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    toolkit = tmp_path / "cuda"
    (toolkit / "bin").mkdir(parents=True)
    (toolkit / "lib64").mkdir()
    nvcc = toolkit / "bin" / "nvcc"
    nvcc.write_text("#!/bin/sh\n")
    (toolkit / "lib64" / "libcudart.so.13.0.48").write_bytes(b"")
    (toolkit / "lib64" / "libcudart.so.13").write_bytes(b"")
    (toolkit / "lib64" / "libcudart_static.a").write_bytes(b"")
    monkeypatch.delenv("CUDART", raising=False)
    assert cuda.cudart_candidates(nvcc)[0] == toolkit / "lib64" / "libcudart.so.13"
    named = tmp_path / "mine.so"
    named.write_bytes(b"")
    monkeypatch.setenv("CUDART", str(named))
    assert cuda.find_cudart(nvcc) == named


@pytest.mark.parametrize(
    ("version", "text"), [(13050, "13.5"), (12040, "12.4"), (13000, "13.0"), (0, "none")]
)
def test_version_text(version: int, text: str) -> None:
    assert version_text(version) == text


def test_peak_bandwidth_is_two_transfers_per_memory_clock() -> None:
    assert peak_bandwidth(2_619_000, 5120) == pytest.approx(3.352e12, rel=1e-3)  # H100 SXM
    assert peak_bandwidth(1_593_000, 5120) == pytest.approx(2.039e12, rel=1e-3)  # A100 80GB
    assert peak_bandwidth(0, 5120) == 0.0


def test_spec_from_attributes_gives_the_judge_the_roofline_numbers() -> None:
    attributes = {
        "cc_major": 9,
        "cc_minor": 0,
        "sm_count": 132,
        "l2_bytes": 50 * 2**20,
        "memory_clock_khz": 2_619_000,
        "memory_bus_bits": 5120,
        "clock_khz": 1_980_000,
        "max_threads_per_sm": 2048,
        "shared_memory_per_sm": 228 * 1024,
    }
    spec = spec_from_attributes(
        attributes,
        name="NVIDIA H100 80GB HBM3",
        total_memory=80 * 2**30,
        driver_version=13000,
        runtime_version=13050,
        pci_bus_id="0000:18:00.0",
    )
    assert spec.arch == "sm_90"
    data = spec.to_dict()
    assert data["compute_capability"] == "9.0" and data["arch"] == "sm_90"
    assert data["driver_cuda"] == "13.0" and data["runtime_cuda"] == "13.5"
    assert data["peak_bandwidth"] == pytest.approx(3.352e12, rel=1e-3)
    json.dumps(data)
    text = spec.text()
    parts = ("NVIDIA H100 80GB HBM3", "132 SMs", "50 MiB L2", "3,352 GB/s", "5120-bit",
             "compute capability 9.0", "80 GiB", "Driver CUDA 13.0",
             "runtime CUDA 13.5")  # fmt: skip
    for part in parts:
        assert part in text, (part, text)
    unknown = spec_from_attributes({"cc_major": 8, "cc_minor": 6}, name="x")
    assert unknown.arch == "sm_86" and "peak DRAM bandwidth unknown" in unknown.text()


# -- timing decisions and statistics ------------------------------------------------------


def test_outside_stream_flags_work_the_events_do_not_see() -> None:
    # A side-stream kernel: events see ~10 us of host API calls, the host waits 140 us.
    assert outside_stream([10e-6] * 8, [150e-6] * 8, null_s=8e-6) is not None
    # An honest kernel: host = events + the empty call's overhead (+ a little noise).
    assert outside_stream([100e-6] * 8, [109e-6] * 8, null_s=8e-6) is None
    assert outside_stream([2e-3] * 8, [2.3e-3] * 8, null_s=8e-6) is None  # 0.29 ms < 30 %
    assert outside_stream([2e-3] * 8, [2.7e-3] * 8, null_s=8e-6) is not None
    # A tiny kernel with launch jitter stays under the absolute allowance.
    jitter = [5e-6 + OUTSIDE_ABS_S * 0.9 + 8e-6] * 8
    assert outside_stream([5e-6] * 8, jitter, null_s=8e-6) is None
    # The median decides: one preempted trial does not fail a kernel.
    hosts = [108e-6] * 7 + [5e-3]
    assert outside_stream([100e-6] * 8, hosts, null_s=8e-6) is None
    reason = outside_stream([10e-6] * 8, [150e-6] * 8, null_s=8e-6)
    assert reason is not None and "132 us" in reason and "non-blocking stream" in reason


def test_speedup_is_the_ratio_of_median_event_times_with_an_interval() -> None:
    base = [1.0e-3, 1.1e-3, 0.9e-3, 1.05e-3, 0.95e-3, 1.0e-3]
    cand = [0.5e-3, 0.52e-3, 0.48e-3, 0.5e-3, 0.51e-3, 0.49e-3]
    result = speedup(base, cand)
    assert result["estimate"] == pytest.approx(2.0)
    assert result["low"] <= 2.0 <= result["high"] and result["low"] > 1.7
    assert result["baseline_n"] == result["candidate_n"] == 6
    with pytest.raises(ValueError):
        speedup([1.0], cand)


def test_energy_summary_per_call_and_above_idle() -> None:
    summary = energy_summary(10_000, 310_000, calls=1000, seconds=1.0, idle_power_w=70.0)
    assert summary["energy_mj_per_call"] == pytest.approx(300.0)
    assert summary["average_power_w"] == pytest.approx(300.0)
    assert summary["energy_above_idle_mj_per_call"] == pytest.approx(230.0)
    assert energy_summary(0, 50_000, 10, 1.0, None)["energy_above_idle_mj_per_call"] is None
    with pytest.raises(ValueError):
        energy_summary(0, 1, 0, 1.0, None)


def test_energy_batches_last_about_the_target_time() -> None:
    assert energy_calls(1e-3, 1.0) == 1000
    assert energy_calls(2.0, 1.0) == 3  # at least three calls
    assert energy_calls(1e-9, 1.0) == 200_000  # launch-bound kernels are capped


def test_nvml_monitor_says_why_when_it_cannot_read() -> None:
    monitor, why = GpuMonitor.open()
    if monitor is not None:
        pytest.skip("NVML works here")
    assert why.startswith(("pynvml is not installed", "NVML is not usable here"))


# -- Nsight Compute -----------------------------------------------------------------------

HEADER = (
    '"ID","Process ID","Process Name","Host Name","Kernel Name","Context","Stream",'
    '"Block Size","Grid Size","Device","CC","Section Name","Metric Name","Metric Unit",'
    '"Metric Value"'
)


def _row(kernel_id: int, kernel: str, metric: str, unit: str, value: str) -> str:
    return (
        f'"{kernel_id}","4242","python3","127.0.0.1","{kernel}","1","7","(256, 1, 1)",'
        f'"(1024, 1, 1)","0","9.0","Command line profiler metrics","{metric}","{unit}",'
        f'"{value}"'
    )


STALL = "smsp__average_warps_issue_stalled_{}_per_issue_active.ratio"
SAMPLE = "\n".join(
    [
        "==PROF== Connected to process 4242 (/usr/bin/python3.12)",
        '==PROF== Profiling "partial_sums" - 0: 0%....50%....100% - 38 passes',
        '==PROF== Profiling "final_sum" - 1: 0%....50%....100% - 38 passes',
        "==PROF== Disconnected from process 4242",
        HEADER,
        _row(0, "partial_sums", "gpu__time_duration.sum", "nsecond", "30,000"),
        _row(0, "partial_sums", "sm__warps_active.avg.pct_of_peak_sustained_active", "%", "80"),
        _row(0, "partial_sums", "dram__bytes.sum", "byte", "96,000,000"),
        _row(0, "partial_sums", "dram__bytes.sum.per_second", "byte/second", "3.2e+12"),
        _row(0, "partial_sums", "dram__throughput.avg.pct_of_peak_sustained_elapsed", "%", "95"),
        _row(0, "partial_sums", "sm__throughput.avg.pct_of_peak_sustained_elapsed", "%", "20"),
        _row(0, "partial_sums", STALL.format("long_scoreboard"), "", "12.5"),
        _row(0, "partial_sums", STALL.format("barrier"), "", "0.5"),
        _row(0, "partial_sums", STALL.format("wait"), "", "1.5"),
        _row(1, "final_sum", "gpu__time_duration.sum", "nsecond", "10,000"),
        _row(1, "final_sum", "sm__warps_active.avg.pct_of_peak_sustained_active", "%", "12"),
        _row(1, "final_sum", "dram__bytes.sum", "byte", "8,000"),
        _row(1, "final_sum", "dram__bytes.sum.per_second", "byte/second", "8e+08"),
        _row(1, "final_sum", "dram__throughput.avg.pct_of_peak_sustained_elapsed", "%", "3"),
        _row(1, "final_sum", "sm__throughput.avg.pct_of_peak_sustained_elapsed", "%", "4"),
        _row(1, "final_sum", STALL.format("long_scoreboard"), "", "2.5"),
        _row(1, "final_sum", STALL.format("barrier"), "", "20.5"),
        _row(1, "final_sum", STALL.format("wait"), "", "n/a"),
        "output of the program itself",
    ]
)


def test_parse_ncu_csv_reads_the_table_and_skips_everything_else() -> None:
    rows = parse_ncu_csv(SAMPLE)
    assert len(rows) == 18
    assert rows[0]["Kernel Name"] == "partial_sums"
    assert rows[0]["Metric Name"] == "gpu__time_duration.sum"
    assert rows[0]["Metric Value"] == "30,000"
    assert parse_ncu_csv("==PROF== nothing was profiled\n") == []


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        ("30,000", "nsecond", 3.0e-5),
        ("120", "usecond", 1.2e-4),
        ("1.5", "msecond", 1.5e-3),
        ("2.5", "Gbyte/second", 2.5e9),
        ("3,200", "Mbyte", 3.2e9),
        ("96,000,000", "byte", 9.6e7),
        ("41.5", "%", 41.5),
        ("7", "inst", 7.0),
        ("12", "Kcycle", 1.2e4),
        ("5", "furlong/fortnight", 5.0),
        ("n/a", "%", None),
    ],
)
def test_metric_value_in_base_units(value: str, unit: str, expected: float | None) -> None:
    got = metric_value(value, unit)
    assert got == (None if expected is None else pytest.approx(expected))


def test_summarize_ncu_weights_by_duration_and_ranks_the_stalls() -> None:
    summary = summarize_ncu(parse_ncu_csv(SAMPLE))
    first, second = summary["kernels"]
    assert first["name"] == "partial_sums" and second["name"] == "final_sum"
    assert first["duration_s"] == pytest.approx(3e-5)
    assert first["top_stalls"][0] == ["long_scoreboard", 12.5]
    assert "wait" not in second["stalls"]  # "n/a" is no value
    total = summary["total"]
    assert total["launches"] == 2
    assert total["duration_s"] == pytest.approx(4e-5)
    assert total["occupancy_pct"] == pytest.approx((80 * 3 + 12 * 1) / 4)
    assert total["dram_bytes_per_s"] == pytest.approx((96e6 + 8e3) / 4e-5)
    assert total["dram_pct_of_peak"] == pytest.approx((95 * 3 + 3) / 4)
    # long_scoreboard (12.5*3 + 2.5)/4 = 10, barrier (0.5*3 + 20.5)/4 = 5.5, wait 1.5
    assert total["top_stalls"] == [
        ["long_scoreboard", pytest.approx(10.0)],
        ["barrier", pytest.approx(5.5)],
        ["wait", pytest.approx(1.5)],
    ]
    text = ncu_text({"status": "ok", **summary})
    assert "2 launch(es), 0.040 ms" in text and "occupancy 63%" in text
    assert "(72% of peak)" in text and "long_scoreboard 10.0" in text


def test_ncu_status_and_rejected_metrics() -> None:
    denied = (
        "==ERROR== ERR_NVGPUCTRPERM - The user does not have permission to access NVIDIA GPU "
        "Performance Counters on the target device 0."
    )
    assert ncu_status(denied, 1, []) == "not permitted"
    assert ncu_status("==WARNING== No kernels were profiled.", 0, []) == "no kernels"
    assert ncu_status("", None, []) == "timed out"
    assert ncu_status("", 0, [{"Metric Name": "x"}]) == "ok"
    assert ncu_status("boom", 1, []) == "failed"
    # Rows from a profiled call that then failed (a wrong output exits 3) are not metrics.
    assert ncu_status("", 3, [{"Metric Name": "x"}]) == "failed"
    text = f"==ERROR== Failed to find metric {THEORETICAL_OCCUPANCY}\n"
    assert rejected_metrics(text, NCU_METRICS) == [THEORETICAL_OCCUPANCY]
    assert rejected_metrics("==PROF== fine\n", NCU_METRICS) == []


def _fake_ncu(folder: Path, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "ncu"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_profile_kernel_reports_not_permitted_without_raising(tmp_path: Path) -> None:
    ncu = _fake_ncu(
        tmp_path,
        "echo '==ERROR== ERR_NVGPUCTRPERM - The user does not have permission to access "
        "NVIDIA GPU Performance Counters on the target device 0.'\nexit 1",
    )
    result = profile_kernel(FIXTURE_TASK, tmp_path / "k.so", ncu=ncu, timeout_s=30)
    assert result["status"] == "not permitted"
    assert result["detail"] == NOT_PERMITTED and "ERR_NVGPUCTRPERM" in result["text"]


def test_profile_kernel_drops_metrics_ncu_rejects_and_parses_the_rest(tmp_path: Path) -> None:
    sample = tmp_path / "sample.csv"
    sample.write_text(SAMPLE)
    calls = tmp_path / "calls"
    ncu = _fake_ncu(
        tmp_path / "bin",
        f'echo "$@" >> {calls}\n'
        f'case "$*" in *{THEORETICAL_OCCUPANCY}*) '
        f'echo "==ERROR== Failed to find metric {THEORETICAL_OCCUPANCY}"; exit 1;; esac\n'
        f"cat {sample}",
    )
    result = profile_kernel(FIXTURE_TASK, tmp_path / "k.so", ncu=ncu, timeout_s=30)
    assert result["status"] == "ok", result
    assert result["dropped"] == [THEORETICAL_OCCUPANCY]
    assert THEORETICAL_OCCUPANCY not in result["metrics"]
    assert result["total"]["launches"] == 2
    argv = calls.read_text().splitlines()
    assert len(argv) == 2
    for flag in ("--csv", "--print-units base", "--profile-from-start off"):
        assert flag in argv[1]
    assert "perfsmith.kernels.gpu_job call-once --task" in argv[1]


def test_profile_kernel_without_ncu_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("perfsmith.kernels.gpu_profile.find_ncu", lambda: None)
    assert profile_kernel(FIXTURE_TASK, Path("k.so"))["status"] == "unavailable"


# -- builds and the state check (nvcc, no GPU) --------------------------------------------


def test_nvcc_own_symbols_are_exactly_the_registration_data() -> None:
    own = [
        ("_ZL20__cudaFatCubinHandle", ".bss"),
        ("_ZL15__fatDeviceText", ".nvFatBinSegment"),
        ("_ZZ21__device_stub__Z1kPflPflE5__tmp", ".bss"),
        ("_ZZ21__device_stub__Z1kPflPflE8__handle", ".bss"),
        ("_ZGVZ21__device_stub__Z1kPflPflE5__tmp", ".bss"),
        ("DW.ref.__gxx_personality_v0", ".data.rel.local.DW.ref.__gxx_personality_v0"),
        ("", ".init_array"),
        ("", ".nvFatBinSegment"),
    ]
    for symbol, section in own:
        assert nvcc_own(symbol, section), symbol or section
    theirs = [
        ("_ZL11dev_counter", ".bss"),  # a __device__ variable's host shadow
        ("_ZZ1fE5calls", ".bss"),  # a function-local static
        ("host_global", ".data"),
        ("_ZZ21__device_stub__Z1kPflPflE5cache", ".bss"),  # not a stub's own static
        ("_ZL20__cudaFatCubinHandle2", ".bss"),
        ("", ".data"),
        ("", ".bss"),
    ]
    for symbol, section in theirs:
        assert not nvcc_own(symbol, section), symbol or section


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """scripts/gpu_check.py --compile-only, once: every suite kernel, the CUDA fixture and
    every exploit, built (kept) and state-checked."""
    if NVCC is None:
        pytest.skip("no nvcc")
    out = tmp_path_factory.mktemp("compile-only")
    res = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out), "--compile-only", "--keep-builds"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=600,
    )
    report = json.loads((out / "gpu_results.json").read_text())
    return {"returncode": res.returncode, "output": res.stdout + res.stderr, "report": report}


@needs_nvcc
@pytest.mark.slow
def test_compile_only_builds_every_kernel_and_passes(compiled: dict[str, Any]) -> None:
    assert compiled["returncode"] == 0, compiled["output"][-3000:]
    report = compiled["report"]
    assert report["ok"] and report["mode"] == "compile-only" and not report["problems"]
    builds = report["builds"]
    for name in MANIFEST:
        assert f"exploits/{name}" in builds
    suite = [p.name for p in SUITE.iterdir() if (p / "kernel.cu").is_file()]
    assert len(suite) >= 5
    for name in suite:
        for label in ("naive", "expert"):
            build = builds[f"{name}/{label}"]
            assert build["ok"] and build["arch"] == "sm_90", build["log"]
            assert build["state"] == [], (name, label, build["state"])
            assert Path(build["lib"]).suffix == ".so" and build["cubins"]
    assert (Path(report["builds"]["fixture/naive"]["obj"])).is_file()
    summary = (Path(builds["fixture/naive"]["obj"]).parents[2] / "gpu_summary.md").read_text()
    assert "| exploits/static_buffer | yes |" in summary and "Verdict: OK." in summary


@needs_nvcc
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_every_exploit_compiles_and_the_state_check_sees_what_it_should(
    compiled: dict[str, Any], name: str
) -> None:
    build = compiled["report"]["builds"][f"exploits/{name}"]
    assert build["ok"], build["log"]
    assert cuda_symbol_check(Path(build["obj"]), "vadd")
    if "state" in MANIFEST[name]["caught_by"]:
        assert build["state"], f"{name} keeps state but the check found none"
    else:
        assert build["state"] == [], build["state"]


@needs_nvcc
@pytest.mark.slow
def test_state_check_names_host_statics_and_device_globals(compiled: dict[str, Any]) -> None:
    builds = compiled["report"]["builds"]
    static = builds["exploits/static_buffer"]["state"]
    assert any("scratch" in item and ".bss" in item for item in static), static
    counter = builds["exploits/skip_repeated"]["state"]
    assert any(item.startswith("device global") and "calls" in item for item in counter)
    assert any("calls" in item and "(b, .bss)" in item for item in counter)  # host shadow


@needs_nvcc
@pytest.mark.slow
def test_the_harness_allow_hook_is_what_separates_nvcc_from_the_kernel(
    compiled: dict[str, Any],
) -> None:
    harness = load_harness()
    obj = Path(compiled["report"]["builds"]["exploits/writes_nothing"]["obj"])
    everything = harness.mutable_state(obj)
    assert any("__cudaFatCubinHandle" in item for item in everything)
    assert harness.mutable_state(obj, allow=nvcc_own) == []
    assert harness.mutable_state(obj, allow=lambda symbol, section: True) == []


@needs_nvcc
def test_state_check_reads_device_code_statics_and_passes_constant_tables(
    tmp_path: Path,
) -> None:
    stateful = tmp_path / "stateful.cu"
    stateful.write_text(
        "#include <cstdint>\n"
        "__device__ int bump() { static int n = 0; return ++n; }\n"
        "__global__ void k(float *o) { o[0] = (float)bump(); }\n"
        'extern "C" void f(float *o) { k<<<1, 1>>>(o); }\n'
    )
    clean = tmp_path / "clean.cu"
    clean.write_text(
        "#include <cstdint>\n"
        "__constant__ const float table[4] = {1, 2, 3, 4};\n"
        "static const float host_table[2] = {5, 6};\n"
        "__global__ void k(float *o, int i) {\n"
        "    constexpr float local[4] = {5, 6, 7, 8};\n"
        "    o[0] = table[i & 3] + local[i & 3];\n}\n"
        'extern "C" void f(float *o, int i) { k<<<1, 1>>>(o, i + (int)host_table[i & 1]); }\n'
    )
    found = {}
    for source in (stateful, clean):
        build = build_gpu_kernel(source, tmp_path / source.stem)
        assert build.ok and build.obj is not None, build.log
        assert [c.name for c in build.cubins] == [f"{source.stem}.sm_90.cubin"]
        found[source.stem] = cuda_mutable_state(build.obj, build.cubins, source.read_text())
    # The device function's static has no host shadow: only the cubin shows it.
    assert len(found["stateful"]) == 1 and "_ZZ4bumpvE1n" in found["stateful"][0]
    assert found["stateful"][0].startswith("device global")
    assert found["clean"] == []
    impostor = "static int __device_stub__cache;\n" + clean.read_text()
    build = build_gpu_kernel(clean, tmp_path / "again")
    assert build.obj is not None
    flagged = cuda_mutable_state(build.obj, build.cubins, impostor)
    assert flagged == ["the source uses nvcc's reserved name(s) __device_stub__"]


@needs_nvcc
def test_gpu_build_links_against_the_shared_runtime(tmp_path: Path) -> None:
    build = build_gpu_kernel(FIXTURE_TASK / "expert.cu", tmp_path)
    assert build.ok and build.lib is not None and build.obj is not None, build.log
    assert build.cudart == CUDART
    needed = subprocess.run(
        ["readelf", "-d", str(build.lib)], capture_output=True, text=True, check=True
    ).stdout
    assert "libcudart.so" in needed  # dynamic: one runtime shared with the binding
    assert cuda_symbol_check(build.lib, "vadd")
    compiled = compile_cuda(FIXTURE_TASK / "kernel.cu", tmp_path / "plain", pic=True)
    assert "-fPIC" in compiled.argv and "-keep" not in compiled.argv and compiled.keep_dir is None


@without_gpu
@needs_nvcc
def test_a_kernel_binds_without_a_gpu_and_the_checks_report_the_fault(tmp_path: Path) -> None:
    runtime = Runtime()
    task = load_kernel_task(FIXTURE_TASK, "fixtures")
    build = build_gpu_kernel(FIXTURE_TASK / "kernel.cu", tmp_path)
    assert build.lib is not None, build.log
    kernel = GpuKernel(runtime, build.lib, task, "naive")
    assert kernel.host.function.__name__ == "vadd"
    findings, calls = check_kernel(kernel)
    assert calls == 0
    assert [f.check for f in findings] == ["fault"]
    assert "cudaMalloc" in findings[0].message
    other = tmp_path / "other.cu"
    other.write_text('extern "C" void not_vadd(float *x) { (void)x; }\n')
    wrong = build_gpu_kernel(other, tmp_path / "other")
    assert wrong.lib is not None
    with pytest.raises(load_harness().BuildError, match="defines no function vadd"):
        GpuKernel(runtime, wrong.lib, task)


# -- the script ---------------------------------------------------------------------------


@without_gpu
def test_the_script_exits_2_with_one_paragraph_when_there_is_no_gpu(tmp_path: Path) -> None:
    res = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
    )
    assert res.returncode == 2, res.stdout + res.stderr
    text = res.stdout.strip()
    assert "\n" not in text and text.startswith("gpu_check: No usable GPU")
    assert "--compile-only" in text and res.stderr == ""
    assert not (tmp_path / "out").exists()


# -- on a GPU -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gpu_arch() -> str:
    return gpu_spec(Runtime()).arch


@needs_gpu
@pytest.mark.gpu
def test_gpu_spec_reads_the_device() -> None:
    spec = gpu_spec(Runtime())
    assert spec.name and spec.sm_count > 0 and spec.l2_bytes > 0
    assert spec.peak_bandwidth > 1e11 and spec.total_memory > 2**30
    assert spec.arch.startswith("sm_") and spec.driver_version > 0


SUITE_TASKS = sorted(p.name for p in SUITE.iterdir() if (p / "kernel.cu").is_file())


@needs_gpu
@pytest.mark.gpu
@pytest.mark.parametrize("name", SUITE_TASKS)
def test_suite_kernels_pass_the_checks_and_the_expert_is_faster(
    tmp_path: Path, gpu_arch: str, name: str
) -> None:
    task = load_kernel_task(SUITE / name)
    libs = {}
    for label, file in (("naive", task.cuda_kernel), ("expert", task.cuda_expert)):
        assert file is not None
        build = build_gpu_kernel(task.folder / file, tmp_path / label, arch=gpu_arch)
        assert build.ok and build.lib is not None, build.log
        libs[label] = {"lib": str(build.lib)}
    job = {"task": str(task.folder), "kernels": libs, "baseline": "naive", "max_trials": 8,
           "min_trials": 8, "timing_budget_s": 10}  # fmt: skip
    result = evaluate_in_subprocess(job, timeout_s=300, work_dir=tmp_path / "jobs")
    assert "error" not in result, result.get("error")
    for label in libs:
        assert result["kernels"][label]["findings"] == [], result["kernels"][label]
    assert result["speedups"]["expert"]["estimate"] > 1.0


@needs_gpu
@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_every_exploit_is_caught_on_the_gpu(tmp_path: Path, gpu_arch: str, name: str) -> None:
    naive = build_gpu_kernel(FIXTURE_TASK / "kernel.cu", tmp_path / "naive", arch=gpu_arch)
    source = EXPLOITS / f"{name}.cu"
    build = build_gpu_kernel(source, tmp_path / name, arch=gpu_arch)
    assert naive.lib is not None and build.lib is not None and build.obj is not None
    caught = {"state"} if cuda_mutable_state(build.obj, build.cubins, source.read_text()) else set()
    job = {"task": str(FIXTURE_TASK), "suite": "fixtures", "baseline": "naive",
           "kernels": {"naive": {"lib": str(naive.lib)}, name: {"lib": str(build.lib)}},
           "max_trials": 8, "min_trials": 8, "timing_budget_s": 10}  # fmt: skip
    result = evaluate_in_subprocess(job, timeout_s=300, work_dir=tmp_path / "jobs")
    assert "error" not in result, result.get("error")
    assert result["kernels"]["naive"]["findings"] == []
    caught |= {f["check"] for f in result["kernels"][name]["findings"]}
    expected = set(MANIFEST[name]["caught_by"])
    assert expected <= caught, (name, caught, result["kernels"][name]["findings"])


@needs_gpu
@pytest.mark.gpu
def test_energy_per_call_and_ncu_on_the_gpu(tmp_path: Path, gpu_arch: str) -> None:
    build = build_gpu_kernel(FIXTURE_TASK / "expert.cu", tmp_path, arch=gpu_arch)
    assert build.lib is not None, build.log
    if GpuMonitor.open()[0] is not None:
        job = {"task": str(FIXTURE_TASK), "kernels": {"expert": {"lib": str(build.lib)}},
               "baseline": "expert", "checks": False, "max_trials": 5, "min_trials": 5,
               "energy_s": 0.5}  # fmt: skip
        result = evaluate_in_subprocess(job, timeout_s=120, work_dir=tmp_path / "jobs")
        energy = result["kernels"]["expert"]["energy"]
        assert energy["energy_mj_per_call"] > 0 and energy["last_output_correct"]
    if find_ncu() is not None:
        profile = profile_kernel(FIXTURE_TASK, build.lib, suite="fixtures", timeout_s=120)
        assert profile["status"] in ("ok", "not permitted"), profile
        if profile["status"] == "ok":
            assert profile["total"]["duration_s"] > 0
            assert profile["total"]["dram_pct_of_peak"] > 10
