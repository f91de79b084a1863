"""``perfsmith doctor``: what works on this machine, what does not, and what that costs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass

from perfsmith.measure import hardware


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report."""

    name: str
    ok: bool
    detail: str  # what was found, or why not
    cost: str  # what the user loses when it is missing ("" when it works)


def _run(argv: list[str], timeout_s: float = 10) -> tuple[bool, str]:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    text = (out.stdout or out.stderr).strip().splitlines()
    return out.returncode == 0, text[0] if text else f"exit code {out.returncode}"


def _docker() -> Check:
    if shutil.which("docker") is None:
        return Check(
            "docker",
            False,
            "no docker client on PATH",
            "candidates run in the weaker local sandbox",
        )
    ok, detail = _run(["docker", "version", "--format", "engine {{.Server.Version}}"])
    if ok:
        return Check("docker", True, detail, "")
    return Check(
        "docker",
        False,
        f"the engine does not answer ({detail})",
        "candidates run in the weaker local sandbox; start the engine",
    )


def _tool(name: str, argv: list[str], cost: str) -> Check:
    if shutil.which(argv[0]) is None:
        return Check(name, False, f"{argv[0]} not found", cost)
    ok, detail = _run(argv)
    return Check(name, ok, detail, "" if ok else cost)


def checks() -> list[Check]:
    """Every check, in a stable order."""
    support = hardware.metric_support()
    out = [
        Check("python", True, f"{sys.executable} ({sys.version.split()[0]})", ""),
        _docker(),
        _tool(
            "bubblewrap",
            ["bwrap", "--version"],
            "the local sandbox has no network or filesystem isolation",
        ),
    ]
    costs = {
        "valgrind": "no instruction counts: --target instructions is unavailable",
        "perf": "no hardware counters (callgrind still counts instructions)",
        "rapl": "no CPU energy readings",
        "nvml": "no GPU energy readings",
        "energy": "--target energy is unavailable",
    }
    for key in ("valgrind", "perf", "rapl", "nvml", "energy"):
        ok, detail = support[key]
        out.append(Check(key, ok, detail, "" if ok else costs[key]))
    out.append(
        _tool("nsight-compute", ["ncu", "--version"], "no Nsight Compute metrics for GPU kernels")
    )
    return out
