"""Rank documents for a free-text query with Okapi BM25."""

from __future__ import annotations

import math
from dataclasses import dataclass

from textsearch.index import InvertedIndex
from textsearch.tokenize import tokenize

K1 = 1.2  # term-frequency saturation
B = 0.75  # length normalization


@dataclass(frozen=True)
class Hit:
    """A matching document and its score."""

    doc_id: str
    score: float


def bm25(
    frequency: int, document_frequency: int, documents: int, length: int, average_length: float
) -> float:
    """BM25 weight of one term in one document (the non-negative idf variant)."""
    idf = math.log(1 + (documents - document_frequency + 0.5) / (document_frequency + 0.5))
    norm = frequency + K1 * (1 - B + B * length / average_length)
    return idf * frequency * (K1 + 1) / norm


def search(
    index: InvertedIndex, query: str, limit: int = 10, *, require_all: bool = False
) -> list[Hit]:
    """Rank the documents that match ``query``, best first.

    Each distinct query term counts once. Documents with equal scores come in the order
    they were added to the index.

    Args:
        index: the documents to search.
        query: free text; it is tokenized like the documents.
        limit: at most this many hits are returned.
        require_all: only return documents that contain every query term.

    Raises:
        ValueError: if ``limit`` is negative.
    """
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    terms = list(dict.fromkeys(tokenize(query)))
    if not terms or not len(index) or limit == 0:
        return []
    candidates: list[str] = []
    for term in terms:
        for posting in index.postings(term):
            if posting.doc_id not in candidates:
                candidates.append(posting.doc_id)
    candidates.sort(key=index.doc_rank)

    documents = len(index)
    average = index.average_length()
    hits: list[Hit] = []
    for doc_id in candidates:
        score = 0.0
        matched = 0
        for term in terms:
            postings = index.postings(term)
            for posting in postings:
                if posting.doc_id == doc_id:
                    score += bm25(
                        posting.frequency,
                        len(postings),
                        documents,
                        index.doc_length(doc_id),
                        average,
                    )
                    matched += 1
                    break
        if require_all and matched < len(terms):
            continue
        hits.append(Hit(doc_id, score))
    # sort() is stable, so equal scores keep the index order of the candidates.
    hits.sort(key=lambda hit: hit.score, reverse=True)
    return hits[:limit]
