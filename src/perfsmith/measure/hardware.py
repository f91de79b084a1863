"""The machine fingerprint stored beside every number.

Numbers measured under different fingerprints are never compared.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
from pathlib import Path


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def python_version(python: str) -> str:
    """The version string of the interpreter that runs the candidates."""
    try:
        out = subprocess.run(
            [
                python,
                "-c",
                "import platform; print(platform.python_implementation(), "
                "platform.python_version())",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() or "unknown"


def fingerprint(*, python: str, sandbox: str) -> dict[str, str | int]:
    """What identifies this machine and set-up for timing purposes."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    data: dict[str, str | int] = {
        "cpu": _cpu_model(),
        "cpus": int(cpus or 1),
        "machine": platform.machine(),
        "kernel": platform.release(),
        "os": platform.system(),
        "python": python_version(python),
        "sandbox": sandbox,
    }
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]
    data["id"] = digest
    return data
