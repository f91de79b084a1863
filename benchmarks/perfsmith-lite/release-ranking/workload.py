"""Rank the full upload list of a mid-sized package index."""

from __future__ import annotations

import os
import random

from releaserank import Release, latest_releases, rank_releases

RELEASES: list[Release] = []


def _spell(rng: random.Random, words: list[str]) -> str:
    sep = rng.choice(["-", "_", ".", "-", "-"])
    name = sep.join(words)
    return name.title() if rng.random() < 0.2 else name


def _version(rng: random.Random) -> str:
    parts = [str(rng.randint(0, 3)), str(rng.randint(0, 12))]
    if rng.random() < 0.5:
        parts.append(str(rng.randint(0, 20)))
    text = ".".join(parts)
    roll = rng.random()
    if roll < 0.15:
        text += rng.choice(["a", "b", "rc"]) + str(rng.randint(1, 3))
    elif roll < 0.22:
        text += f".post{rng.randint(1, 2)}"
    elif roll < 0.27:
        text += f".dev{rng.randint(0, 4)}"
    return text


def setup() -> None:
    seed = int(os.environ.get("PERFSMITH_SEED", "0"))
    rng = random.Random(seed)
    vocab = ["data", "http", "async", "tools", "core", "utils", "json", "cli", "auth", "cache"]
    projects = [rng.sample(vocab, rng.randint(1, 3)) for _ in range(120)]
    RELEASES.clear()
    for i in range(2200):
        words = rng.choice(projects)
        version = _version(rng)
        name = _spell(rng, words)
        RELEASES.append(
            Release(
                name=name,
                version=version,
                uploaded=1_600_000_000 + rng.randint(0, 10**8),
                filename=f"{'_'.join(words)}-{version}-{i}.tar.gz",
                yanked=rng.random() < 0.03,
            )
        )


def workload() -> tuple[list[str], list[str]]:
    ranked = rank_releases(RELEASES, include_yanked=True)
    latest = latest_releases(RELEASES)
    return [r.filename for r in ranked], [r.filename for r in latest]
