"""An inverted index: for every term, the documents that contain it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from textsearch.tokenize import tokenize


@dataclass(frozen=True)
class Posting:
    """One document that contains a term, and how many times."""

    doc_id: str
    frequency: int


class InvertedIndex:
    """Documents by term, with the statistics BM25 needs.

    Posting lists are kept in the order documents were added.
    """

    def __init__(self) -> None:
        self._postings: dict[str, list[Posting]] = {}
        self._order: list[str] = []  # document ids, in the order they were added
        self._lengths: dict[str, int] = {}  # document id -> number of terms
        self._texts: dict[str, str] = {}
        self._total_length = 0

    def add(self, doc_id: str, text: str) -> None:
        """Index a document.

        Raises:
            ValueError: if a document with this id is already indexed.
        """
        if doc_id in self._lengths:
            raise ValueError(f"document {doc_id!r} is already indexed")
        terms = tokenize(text)
        for term, frequency in Counter(terms).items():
            self._postings.setdefault(term, []).append(Posting(doc_id, frequency))
        self._order.append(doc_id)
        self._lengths[doc_id] = len(terms)
        self._texts[doc_id] = text
        self._total_length += len(terms)

    def remove(self, doc_id: str) -> None:
        """Remove a document; the others keep their relative order.

        Raises:
            KeyError: if no document has this id.
        """
        length = self._lengths.pop(doc_id)
        text = self._texts.pop(doc_id)
        for term in set(tokenize(text)):
            remaining = [p for p in self._postings[term] if p.doc_id != doc_id]
            if remaining:
                self._postings[term] = remaining
            else:
                del self._postings[term]
        self._order.remove(doc_id)
        self._total_length -= length

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._lengths

    @property
    def doc_ids(self) -> list[str]:
        """Document ids in the order they were added."""
        return list(self._order)

    def text(self, doc_id: str) -> str:
        """The original text of a document."""
        return self._texts[doc_id]

    def postings(self, term: str) -> Sequence[Posting]:
        """The documents containing ``term`` (already normalized), in the order added."""
        return self._postings.get(term, ())

    def document_frequency(self, term: str) -> int:
        """How many documents contain ``term``."""
        return len(self._postings.get(term, ()))

    def doc_length(self, doc_id: str) -> int:
        """Number of indexed terms in a document."""
        return self._lengths[doc_id]

    def average_length(self) -> float:
        """Mean number of indexed terms per document (0.0 when empty)."""
        return self._total_length / len(self._order) if self._order else 0.0

    def doc_rank(self, doc_id: str) -> int:
        """Position of a document in the order documents were added (0 = first).

        Raises:
            KeyError: if no document has this id.
        """
        if doc_id not in self._lengths:
            raise KeyError(doc_id)
        return self._order.index(doc_id)

    def vocabulary(self) -> list[str]:
        """All indexed terms, sorted."""
        return sorted(self._postings)
