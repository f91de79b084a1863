"""A target whose metric cannot be measured on this machine is refused before any work."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from perfsmith.errors import ConfigError
from perfsmith.measure import hardware
from perfsmith.measure.metrics import check_target

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
no_energy = pytest.mark.skipif(
    hardware.energy_available()[0], reason="this machine has energy counters"
)


@no_energy
def test_energy_without_counters_is_refused_in_one_paragraph() -> None:
    with pytest.raises(ConfigError) as info:
        check_target("energy", workload_is_command=False)
    err = info.value
    assert err.message.startswith(
        "--target energy needs RAPL (Intel/AMD package counters readable at "
        "/sys/class/powercap) or an NVIDIA GPU with NVML; this machine has neither ("
    )
    assert "RAPL: " in err.message and "NVML: " in err.message  # why, for each
    assert err.hint.startswith("Use --target latency or instructions")
    assert "\n" not in str(err)


@pytest.mark.parametrize("target", ["latency", "throughput", "memory"])
def test_targets_measured_everywhere_pass(target: str) -> None:
    check_target(target, workload_is_command=False)  # type: ignore[arg-type]


def test_a_per_call_target_needs_a_workload_file() -> None:
    with pytest.raises(ConfigError, match="needs a workload file"):
        check_target("memory", workload_is_command=True)


@no_energy
def test_optimize_refuses_energy_before_starting_a_run(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    res = subprocess.run(
        [str(BIN / "optimize"), str(ROOT / "examples" / "logstats"), "--target", "energy",
         "--model", "scripted:never-read.yaml", "--runs-dir", str(runs)],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "COLUMNS": "300"},
    )  # fmt: skip
    assert res.returncode == 2, res.stderr
    text = " ".join(res.stderr.split())
    assert "--target energy needs RAPL" in text and "this machine has neither" in text
    assert "Use --target latency or instructions" in text
    assert not runs.exists()  # refused before any run folder or baseline
