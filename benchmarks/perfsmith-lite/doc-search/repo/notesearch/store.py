"""The note store and its search operations."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from notesearch.parsing import Note, normalize_text, parse_note
from notesearch.query import Query, parse_query

_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")


@dataclass(frozen=True)
class SearchHit:
    """One search result: the note's identity and a snippet around the first query word."""

    note_id: str
    title: str
    date: str
    snippet: str


def _snippet(note: Note, query: Query, width: int = 80) -> str:
    """The first sentence that contains a query word, else the start of the body."""
    sentences: list[str] = [s.strip() for s in _SENTENCE.findall(note.body) if s.strip()]
    for sentence in sentences:
        words = set(re.findall(r"\w+", normalize_text(sentence)))
        if any(word in words for word in query.words):
            return sentence[:width]
    return sentences[0][:width] if sentences else ""


class NoteStore:
    """Raw notes kept in the order given (callers keep the newest first).

    Notes are parsed when searched, so the store stays cheap to build and always reflects
    the raw text; malformed notes are skipped by searches and listed by :meth:`problems`.
    """

    def __init__(self, raw_notes: Iterable[str]) -> None:
        self._raw = list(raw_notes)

    def __len__(self) -> int:
        return len(self._raw)

    def _parsed(self) -> list[Note]:
        notes = []
        for raw in self._raw:
            try:
                notes.append(parse_note(raw))
            except ValueError:
                continue
        return notes

    def search(self, query: str | Query, limit: int | None = 10) -> list[SearchHit]:
        """Return the first ``limit`` matching notes in store order (all when ``None``)."""
        q = parse_query(query) if isinstance(query, str) else query
        if limit is not None and limit <= 0:
            return []
        hits = [
            SearchHit(n.note_id, n.title, n.date.isoformat(), _snippet(n, q))
            for n in self._parsed()
            if q.matches(n)
        ]
        return hits if limit is None else hits[:limit]

    def exists(self, query: str | Query) -> bool:
        """Whether any note matches."""
        return len(self.search(query, limit=None)) > 0

    def count(self, query: str | Query) -> int:
        """How many notes match."""
        return len(self.search(query, limit=None))

    def problems(self) -> list[str]:
        """One message per malformed note, in store order."""
        out = []
        for index, raw in enumerate(self._raw):
            try:
                parse_note(raw)
            except ValueError as exc:
                out.append(f"note #{index}: {exc}")
        return out
