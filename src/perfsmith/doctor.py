"""``perfsmith doctor``: what works on this machine, what does not, and what that costs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass

from perfsmith.errors import PerfsmithError
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


def _docker() -> list[Check]:
    """The engine, then the sandbox image for this interpreter (cached or not yet built)."""
    try:
        from perfsmith.sandbox import docker as dock
        from perfsmith.sandbox import image as images
    except ImportError as exc:  # the SDK is a dependency; a broken install still gets a line
        return [Check("docker", False, f"docker SDK missing ({exc})", "reinstall perfsmith")]
    ok, detail = dock.engine_status()
    if not ok:
        weaker = "candidates run in the weaker local sandbox; start the engine or set DOCKER_HOST"
        return [Check("docker", False, detail, weaker)]
    lines = [Check("docker", True, detail, "")]
    client = dock.engine()
    cached = client.images.list(filters={"label": "perfsmith.image=1"})
    try:
        uid, gid = dock.container_user()
        plan = images.plan_image(sys.executable, uid=uid, gid=gid)
    except PerfsmithError as exc:
        lines.append(Check("docker image", False, exc.message, exc.hint))
        return lines
    here = [i for i in cached if i.labels.get("perfsmith.image.key") == plan.key]
    size = f", {here[0].attrs.get('Size', 0) / 2**20:.0f} MiB" if here else ""
    state = "cached" if here else "not built yet (built from local packages on first use)"
    lines.append(
        Check(
            "docker image",
            True,
            f"{plan.tag} from {plan.base}: {state}{size}; {len(cached)} perfsmith image(s) "
            "in the engine",
            "",
        )
    )
    return lines


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
        *_docker(),
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
