"""Scrub eight small log files with a 540-entry erasure list."""

from __future__ import annotations

import os
import random

from logscrub import load_policy, redact_all

POLICY_TEXT = ""
LOGS: list[str] = []

FIRST = ["ann", "bo", "cara", "dev", "eli", "fay", "gus", "hana", "ivo", "jun", "kai", "lou"]
LAST = ["lee", "smith", "jones", "garcia", "müller", "ng", "okafor", "rossi", "tanaka"]
SERVICES = ["api.gw", "billing", "auth", "search", "mailer"]


def setup() -> None:
    global POLICY_TEXT
    seed = int(os.environ.get("PERFSMITH_SEED", "0"))
    rng = random.Random(seed)
    emails = sorted(
        {
            f"{rng.choice(FIRST)}.{rng.choice(LAST)}{rng.randrange(10000)}@"
            f"{rng.choice(['example.com', 'mail.test', 'corp.example'])}"
            for _ in range(360)
        }
    )
    accounts = sorted({f"ACC-{rng.randrange(10**6):06d}" for _ in range(180)})
    entries = [f"email: {e}" for e in emails] + [f"account: {a}" for a in accounts]
    rng.shuffle(entries)
    POLICY_TEXT = "# erasure list\n" + "\n".join(entries) + "\nkey: session_id\nkey: pin\n"
    LOGS.clear()
    for f in range(8):
        lines = []
        for i in range(20):
            ts = f"2024-06-{f + 1:02d}T{i // 60:02d}:{i % 60:02d}:{rng.randrange(60):02d}Z"
            who = rng.choice(emails) if rng.random() < 0.3 else f"guest{rng.randrange(999)}@x.io"
            msg = rng.choice(
                [
                    f"login user={who} ip=10.{rng.randrange(256)}.{rng.randrange(256)}.7",
                    f"charge account={rng.choice(accounts)} amount={rng.randrange(10**5)}",
                    f"request Authorization: Bearer {rng.getrandbits(64):016x} status=200",
                    f'payload {{"user": "{who}", "password": "p{rng.randrange(10**6)}"}}',
                    f"card 4111 1111 1111 {rng.randrange(10**4):04d} declined session_id={i}",
                    "cache warm-up finished in 12ms",
                ]
            )
            lines.append(
                f"{ts} {rng.choice(['INFO', 'WARN', 'ERROR'])} {rng.choice(SERVICES)} {msg}"
            )
        LOGS.append("\n".join(lines) + "\n")


def workload() -> list[tuple[str, tuple[tuple[str, int], ...]]]:
    policy = load_policy(POLICY_TEXT)
    return [(r.text, tuple(sorted(r.counts.items()))) for r in redact_all(LOGS, policy)]
