"""Workload: summarize and report a synthetic access log merged from two servers.

``setup()`` builds the log once (deterministic for a given PERFSMITH_SEED);
``workload()`` runs the public API on it and returns a value to compare across versions.
"""

from __future__ import annotations

import os
import random
from datetime import datetime, timedelta, timezone

from logstats import render_report, summarize

LINES: list[str] = []

_ENDPOINTS = [
    ("GET", "/api/users/{n}", 18),
    ("GET", "/api/users/{n}/orders", 9),
    ("POST", "/api/orders", 6),
    ("GET", "/api/orders/{n}/items?expand=product", 8),
    ("GET", "/api/products/{hex}", 12),
    ("GET", "/api/search?q={word}", 10),
    ("GET", "/static/app.{bundle}.js", 7),
    ("GET", "/static/style.css", 5),
    ("POST", "/login", 4),
    ("GET", "/health", 6),
    ("GET", "/", 5),
    ("DELETE", "/api/sessions/{n}", 2),
]
_AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64) Firefox/124.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/123.0",
    "curl/8.5.0",
    "kube-probe/1.29",
]
_WORDS = ["lamp", "chair", "desk", "Lamp", "sofa", "rug", "shelf", "mirror"]


def _line(rng: random.Random, when: datetime, ips: list[str]) -> str:
    method, template, _ = rng.choices(_ENDPOINTS, weights=[w for *_, w in _ENDPOINTS])[0]
    path = template.format(
        n=rng.randrange(1, 5000),
        hex=f"{rng.getrandbits(64):016x}",
        word=rng.choice(_WORDS),
        bundle=rng.choice(["3f9a1c", "b7e044"]),
    )
    status = rng.choices([200, 201, 204, 301, 304, 404, 500, 503], [70, 5, 3, 2, 8, 6, 4, 2])[0]
    size = "-" if status in (204, 304) else str(rng.randrange(80, 60_000))
    user = rng.choice(["-", "-", "-", "alice", "bob"])
    duration = int(rng.lognormvariate(3.5, 0.9))
    stamp = when.strftime("%d/%b/%Y:%H:%M:%S %z")
    return (
        f'{rng.choice(ips)} - {user} [{stamp}] "{method} {path} HTTP/1.1" {status} {size} '
        f'"-" "{rng.choice(_AGENTS)}" {duration}\n'
    )


def _server_log(rng: random.Random, n: int, tz: timezone, ips: list[str]) -> list[str]:
    when = datetime(2024, 3, 4, 9, 0, 0, tzinfo=timezone.utc).astimezone(tz)
    lines = []
    for _ in range(n):
        when += timedelta(seconds=rng.choice([0, 0, 1, 1, 2, 5]))
        lines.append(_line(rng, when, ips))
    return lines


def make_log(seed: int, per_server: int = 250) -> list[str]:
    """Two servers' logs, shipped in batches (interleaved, some batches sent twice)."""
    rng = random.Random(seed)
    ips = [
        f"10.{rng.randrange(4)}.{rng.randrange(256)}.{rng.randrange(1, 255)}" for _ in range(300)
    ]
    logs = [
        _server_log(rng, per_server, timezone.utc, ips),
        _server_log(rng, per_server, timezone(timedelta(hours=1)), ips),
    ]
    shipped: list[str] = []
    sent: list[list[str]] = []
    while any(logs):
        source = rng.choice([log for log in logs if log])
        size = rng.randrange(5, 30)
        batch, source[:size] = source[:size], []
        shipped.extend(batch)
        sent.append(batch)
        if len(sent) > 3 and rng.random() < 0.15:  # a timed-out batch is shipped again
            shipped.extend(sent[-rng.randrange(2, 4)])
        if rng.random() < 0.3:
            shipped.append(rng.choice(["", "\n", "GET /broken\n", batch[0][:40] + "\n"]))
    return shipped


def setup() -> None:
    """Build the log for this seed."""
    LINES[:] = make_log(int(os.environ.get("PERFSMITH_SEED", "0")))


def workload() -> tuple[str, dict[str, tuple[int, int, int | None, int | None, int, int]]]:
    """Summarize the log; return the report and the per-endpoint numbers."""
    summary = summarize(LINES)
    numbers = {
        name: (s.requests, s.errors, s.p50_ms, s.p95_ms, s.visitors, s.bytes_sent)
        for name, s in summary.endpoints.items()
    }
    return render_report(summary, top=None), numbers
