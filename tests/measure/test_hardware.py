"""Energy counters (RAPL arithmetic on synthetic readings, NVML where present) and the
probes that say which metrics work on this machine."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

from perfsmith.measure import hardware
from perfsmith.measure.hardware import (
    CombinedReader,
    energy_available,
    metric_support,
    nvml_reader,
    rapl_delta_uj,
    rapl_reader,
)


def test_rapl_delta_without_wrap() -> None:
    assert rapl_delta_uj(1_000, 4_500, 10_000) == 3_500
    assert rapl_delta_uj(7, 7, 10_000) == 0


def test_rapl_delta_across_a_wrap() -> None:
    # 9_000 -> 10_000 (the top) is 1_000, then 0 -> 500: 1_500 in all.
    assert rapl_delta_uj(9_000, 500, 10_000) == 1_500
    assert rapl_delta_uj(10_000, 0, 10_000) == 0
    assert rapl_delta_uj(1, 0, 10_000) == 9_999


def test_rapl_delta_rejects_readings_outside_the_range() -> None:
    with pytest.raises(ValueError, match="outside"):
        rapl_delta_uj(0, 10_001, 10_000)
    with pytest.raises(ValueError, match="outside"):
        rapl_delta_uj(-1, 5, 10_000)


def zone(root: Path, name: str, label: str, energy: int, max_range: int = 1_000_000) -> Path:
    d = root / name
    d.mkdir(parents=True)
    (d / "name").write_text(label + "\n")
    (d / "energy_uj").write_text(f"{energy}\n")
    (d / "max_energy_range_uj").write_text(f"{max_range}\n")
    return d / "energy_uj"


def test_rapl_reader_sums_packages_once(tmp_path: Path) -> None:
    root = tmp_path / "powercap"
    pkg0 = zone(root, "intel-rapl:0", "package-0", 999_000)
    pkg1 = zone(root, "intel-rapl:1", "package-1", 10)
    zone(root, "intel-rapl:0:0", "core", 5)  # part of package-0: counting it would double
    zone(root, "intel-rapl-mmio:0", "package-0", 5)  # the same package through MMIO
    zone(root, "intel-rapl:2", "psys", 5)  # the whole platform, packages included
    reader = rapl_reader(root)
    assert reader is not None
    assert reader.source == "RAPL (package-0, package-1)" and reader.width == 2
    before = reader.read()
    assert before == (999_000, 10)
    pkg0.write_text("2000\n")  # wrapped: 1_000 to the top, then 2_000
    pkg1.write_text("510\n")
    assert reader.joules(before, reader.read()) == pytest.approx((3_000 + 500) / 1e6)


def test_psys_alone_is_used_when_there_is_no_package(tmp_path: Path) -> None:
    zone(tmp_path, "intel-rapl:0", "psys", 5)
    reader = rapl_reader(tmp_path)
    assert reader is not None and reader.source == "RAPL (psys)"


def test_no_rapl_folder_or_zones_gives_none(tmp_path: Path) -> None:
    assert rapl_reader(tmp_path / "missing") is None
    (tmp_path / "empty").mkdir()
    assert rapl_reader(tmp_path / "empty") is None
    broken = tmp_path / "broken" / "intel-rapl:0"
    broken.mkdir(parents=True)
    (broken / "energy_uj").write_text("not a number\n")
    (broken / "max_energy_range_uj").write_text("100\n")
    assert rapl_reader(tmp_path / "broken") is None


def test_combined_reader_splits_its_readings(tmp_path: Path) -> None:
    a = zone(tmp_path / "a", "intel-rapl:0", "package-0", 100)
    b = zone(tmp_path / "b", "intel-rapl:0", "package-0", 900, max_range=1_000)
    ra, rb = rapl_reader(tmp_path / "a"), rapl_reader(tmp_path / "b")
    assert ra is not None and rb is not None
    both = CombinedReader((ra, rb))
    before = both.read()
    a.write_text("300\n")
    b.write_text("100\n")  # wrapped at 1_000: 200 in all
    assert both.width == 2
    assert both.joules(before, both.read()) == pytest.approx(400 / 1e6)
    assert both.source == "RAPL (package-0) + RAPL (package-0)"


def test_energy_availability_matches_the_readers() -> None:
    ok, why = energy_available()
    assert ok == (hardware.energy_reader() is not None)
    assert why
    if not ok:
        assert "RAPL" in why and "NVML" in why


@pytest.mark.skipif(importlib.util.find_spec("pynvml") is not None, reason="pynvml installed")
def test_nvml_without_pynvml_says_what_to_install() -> None:
    assert nvml_reader() is None
    ok, why = metric_support()["nvml"]
    assert not ok and "nvidia-ml-py" in why


@pytest.mark.gpu
def test_nvml_energy_counts_up() -> None:
    reader = nvml_reader()
    if reader is None:
        pytest.skip("no NVML energy counter here")
    before = reader.read()
    after = reader.read()
    assert reader.joules(before, after) >= 0
    assert reader.source.startswith("NVML (")


def test_metric_support_lists_every_tool() -> None:
    support = metric_support()
    assert set(support) == {"tracemalloc", "valgrind", "perf", "rapl", "nvml", "energy"}
    for ok, why in support.values():
        assert isinstance(ok, bool) and isinstance(why, str) and why
    assert support["tracemalloc"][0]
    assert support["valgrind"][0] == (shutil.which("valgrind") is not None)
    if shutil.which("perf") is None:
        assert not support["perf"][0]


def test_valgrind_missing_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert hardware.valgrind_status() == (
        False,
        "valgrind not installed: apt-get install valgrind",
    )
    assert not hardware.perf_status()[0]


# -- the CPU spec for kernel prompts -------------------------------------------------------


def cache_dir(root: Path, index: int, **files: str) -> None:
    d = root / f"index{index}"
    d.mkdir(parents=True)
    for name, text in files.items():
        (d / name).write_text(text + "\n")


def test_cpu_spec_reads_model_simd_flags_and_caches(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nmodel name\t: Example CPU 9000\n"
        "flags\t\t: fpu sse4_2 avx avx2 fma avx512f avx512bw mmx\n"
    )
    caches = tmp_path / "cache"
    common = {"coherency_line_size": "64"}
    cache_dir(caches, 0, level="1", type="Data", size="48K", ways_of_associativity="12",
              shared_cpu_list="0", **common)  # fmt: skip
    cache_dir(caches, 1, level="1", type="Instruction", size="32K", ways_of_associativity="8",
              shared_cpu_list="0", **common)  # fmt: skip
    cache_dir(caches, 2, level="2", type="Unified", size="1024K", ways_of_associativity="16",
              shared_cpu_list="0", **common)  # fmt: skip
    cache_dir(caches, 3, level="3", type="Unified", size="32M", ways_of_associativity="16",
              shared_cpu_list="0-7,16-23", **common)  # fmt: skip
    cache_dir(caches, 4, level="4", type="Unified")  # no size: skipped
    spec = hardware.cpu_spec(cpuinfo, caches)
    assert spec.model == "Example CPU 9000" and spec.cpus >= 1
    assert spec.simd == ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw")
    assert [c.name for c in spec.caches] == ["L1d", "L1i", "L2", "L3"]
    l3 = spec.last_level()
    assert l3 is not None and (l3.size_bytes, l3.ways, l3.shared_cpus) == (32 << 20, 16, 16)
    text = spec.describe()
    assert "CPU: Example CPU 9000" in text and "(widest vectors: 512-bit)" in text
    assert "L1d 48 KiB (12-way, 64 B lines)" in text
    assert "L3 32 MiB (16-way, 64 B lines, shared by 16 CPUs)" in text


def test_cpu_spec_without_sysfs_still_names_the_cpu(tmp_path: Path) -> None:
    spec = hardware.cpu_spec(tmp_path / "no-cpuinfo", tmp_path / "no-cache")
    assert spec.model and spec.simd == () and spec.caches == ()
    assert "Caches: unknown" in spec.describe() and "SIMD: none found" in spec.describe()


def test_this_machines_cpu_spec() -> None:
    spec = hardware.cpu_spec()
    assert spec.cpus >= 1 and spec.model
    if Path("/sys/devices/system/cpu/cpu0/cache/index0").exists():
        assert spec.cache("L1d") is not None


@pytest.mark.parametrize(
    ("n", "text"),
    [(512, "512 B"), (48 * 1024, "48 KiB"), (1536 * 1024, "1.5 MiB"), (32 << 20, "32 MiB")],
)
def test_format_bytes(n: int, text: str) -> None:
    assert hardware.format_bytes(n) == text
