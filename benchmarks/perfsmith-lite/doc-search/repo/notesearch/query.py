"""The query language: words, ``tag:``, ``-exclusions``, ``after:`` and ``before:``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from notesearch.parsing import Note, normalize_text, tokenize


class QuerySyntaxError(ValueError):
    """Raised for a malformed query (an unparseable date, an empty tag)."""


@dataclass(frozen=True)
class Query:
    """A parsed query; an empty query matches every note."""

    words: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    after: dt.date | None = None
    before: dt.date | None = None

    def matches(self, note: Note) -> bool:
        """Whether a note satisfies every part of the query."""
        if self.after is not None and note.date < self.after:
            return False
        if self.before is not None and note.date > self.before:
            return False
        if any(tag not in note.tags for tag in self.tags):
            return False
        if any(word in note.vocabulary for word in self.excluded):
            return False
        return all(word in note.vocabulary for word in self.words)


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise QuerySyntaxError(f"not a date (use YYYY-MM-DD): {value!r}") from None


def parse_query(text: str) -> Query:
    """Parse query text such as ``"budget tag:planning -draft after:2024-01-01"``.

    Raises:
        QuerySyntaxError: for an empty ``tag:`` or a bad date.
    """
    words: list[str] = []
    tags: list[str] = []
    excluded: list[str] = []
    after = before = None
    for part in text.split():
        lowered = part.lower()
        if lowered.startswith("tag:"):
            tag = normalize_text(part[4:])
            if not tag:
                raise QuerySyntaxError("empty tag in query")
            tags.append(tag)
        elif lowered.startswith("after:"):
            after = _date(part[6:])
        elif lowered.startswith("before:"):
            before = _date(part[7:])
        elif part.startswith("-") and len(part) > 1:
            excluded.extend(tokenize(part[1:]))
        else:
            words.extend(tokenize(part))
    return Query(tuple(words), tuple(tags), tuple(excluded), after, before)
