"""Quick-search a notebook: first pages of common queries, a tag check, one rare query."""

from __future__ import annotations

import datetime as dt
import os
import random

from notesearch import NoteStore

STORE = NoteStore([])

COMMON = ["meeting", "budget", "release", "customer", "design", "review", "café", "roadmap"]
FILLER = [
    *("the", "a", "we", "team", "plan", "notes", "follow", "up", "next", "week", "discussed"),
    *("agreed", "open", "question", "action", "item", "owner", "deadline", "scope", "risk"),
    *("status", "update", "demo", "feedback", "résumé", "naïve"),
]
TAGS = ["planning", "finance", "engineering", "hiring", "ops", "draft", "personal"]


def _body(rng: random.Random) -> str:
    sentences = []
    for _ in range(rng.randint(4, 9)):
        words = rng.choices(FILLER, k=rng.randint(6, 14))
        if rng.random() < 0.35:
            words.insert(rng.randrange(len(words)), rng.choice(COMMON))
        sentences.append(" ".join(words).capitalize() + rng.choice([".", ".", "!", "?"]))
    return " ".join(sentences)


def setup() -> None:
    global STORE
    seed = int(os.environ.get("PERFSMITH_SEED", "0"))
    rng = random.Random(seed)
    raws = []
    day = dt.date(2025, 6, 30)
    for i in range(420, 0, -1):
        day -= dt.timedelta(days=rng.randint(0, 2))
        tags = ", ".join(rng.sample(TAGS, rng.randint(0, 3)))
        raws.append(
            f"---\nid: {i:04d}\ntitle: Note {i}\ndate: {day.isoformat()}\ntags: {tags}\n---\n"
            f"{_body(rng)}\n"
        )
    STORE = NoteStore(raws)


QUERIES = ["meeting", "budget tag:finance", "cafe -draft", "release after:2024-01-01"]


def workload():
    pages = [[(h.note_id, h.date, h.snippet) for h in STORE.search(q, limit=10)] for q in QUERIES]
    checks = [STORE.exists(q) for q in ("tag:hiring roadmap", "design review", "unicorn")]
    return pages, checks
