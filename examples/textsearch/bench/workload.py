"""Workload: a batch of queries against a synthetic corpus.

``setup()`` builds the corpus and its index once (deterministic for a given PERFSMITH_SEED);
``workload()`` runs the queries through the public API and returns the ranked results.
"""

from __future__ import annotations

import itertools
import os
import random

from textsearch import InvertedIndex, search, snippet

INDEX = InvertedIndex()
QUERIES: list[tuple[str, bool]] = []

_SYLLABLES = ["ka", "lo", "mi", "ren", "sa", "tu", "vel", "do", "bri", "an", "el", "qua", "zor"]


def _vocabulary(rng: random.Random, size: int) -> list[str]:
    words: dict[str, None] = {}
    while len(words) < size:
        words["".join(rng.choices(_SYLLABLES, k=rng.randint(2, 4)))] = None
    return list(words)


def build(
    seed: int, documents: int = 600, vocabulary: int = 2500
) -> tuple[InvertedIndex, list[tuple[str, bool]]]:
    """A corpus with Zipf-distributed words, and queries mixing common and rarer terms."""
    rng = random.Random(seed)
    words = _vocabulary(rng, vocabulary)
    weights = list(itertools.accumulate(1 / rank for rank in range(1, vocabulary + 1)))
    index = InvertedIndex()
    for number in range(documents):
        body = rng.choices(words, cum_weights=weights, k=rng.randint(30, 120))
        body[0] = body[0].capitalize()
        if rng.random() < 0.2:
            body.insert(rng.randrange(len(body)), "the")
        index.add(f"doc-{number:05d}", " ".join(body) + ".")
    queries = []
    for number in range(5):
        terms = [words[rng.randrange(3, 60)] for _ in range(3)]
        queries.append((" ".join(terms).upper() if number == 3 else " ".join(terms), number == 4))
    return index, queries


def setup() -> None:
    """Build the corpus for this seed."""
    global INDEX
    INDEX, QUERIES[:] = build(int(os.environ.get("PERFSMITH_SEED", "0")))


def workload() -> list[tuple[str, list[tuple[str, float]], str]]:
    """Run every query; return each query's ranked hits and its best snippet."""
    results = []
    for query, require_all in QUERIES:
        hits = search(INDEX, query, limit=20, require_all=require_all)
        best = snippet(INDEX.text(hits[0].doc_id), query, width=60) if hits else ""
        results.append((query, [(hit.doc_id, round(hit.score, 9)) for hit in hits], best))
    return results
