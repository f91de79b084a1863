"""Workload: export a few thousand audit events to a partitioned folder."""

from __future__ import annotations

import atexit
import os
import random
import shutil
import tempfile
from pathlib import Path

from eventlog import Event, export_events

EVENTS: list[Event] = []
OUT = Path(tempfile.gettempdir()) / f"eventlog-bench-{os.getpid()}"
KINDS = ["login", "logout", "payment", "password reset", "paiement/carte", "export"]


def setup() -> None:
    """Build the events from the seed and start from an empty export folder."""
    rng = random.Random(int(os.environ.get("PERFSMITH_SEED", "0")))
    EVENTS.clear()
    ts = 1_714_521_600  # 2024-05-01T00:00:00Z
    for k in range(5000):
        ts += rng.randint(0, 300)
        data: dict[str, object] = {"ip": f"10.0.{rng.randint(0, 255)}.{rng.randint(1, 254)}"}
        if rng.random() < 0.3:
            data["amount_cents"] = rng.randint(100, 99_999)
        EVENTS.append(Event(k, ts, rng.choice(KINDS), f"user{rng.randint(1, 500)}", data))
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    atexit.register(shutil.rmtree, OUT, True)


def workload() -> tuple[int, list[tuple[str, int, int, str]]]:
    """Export the events (replacing the previous export) and return what was written."""
    result = export_events(EVENTS, OUT)
    return result.events, list(result.files)
