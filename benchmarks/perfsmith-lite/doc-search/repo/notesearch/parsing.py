"""Parsing raw notes: front matter, body, and a normalised vocabulary."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

_WORD = re.compile(r"\w+")


class NoteFormatError(ValueError):
    """Raised for a note without a well-formed front matter block."""


@dataclass(frozen=True)
class Note:
    """A parsed note.

    Attributes:
        note_id: the ``id`` field.
        title: the ``title`` field (empty when absent).
        date: the ``date`` field.
        tags: normalised tags, in the order written.
        body: the text after the front matter.
        vocabulary: the normalised words of title and body.
    """

    note_id: str
    title: str
    date: dt.date
    tags: tuple[str, ...]
    body: str
    vocabulary: frozenset[str]


def normalize_text(text: str) -> str:
    """Case-fold and strip accents, so that ``Café`` and ``cafe`` compare equal."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def tokenize(text: str) -> list[str]:
    """Split text into normalised words."""
    return _WORD.findall(normalize_text(text))


def parse_note(raw: str) -> Note:
    """Parse one raw note.

    Raises:
        NoteFormatError: when the front matter is missing, unterminated, or lacks ``id``
            or a valid ``date``.
    """
    lines = raw.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != "---":
        raise NoteFormatError("note must start with a '---' front matter line")
    try:
        end = lines.index("---", 1)
    except ValueError:
        raise NoteFormatError("front matter is not terminated by '---'") from None
    fields: dict[str, str] = {}
    for line in lines[1:end]:
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip().lower()] = value.strip()
    if "id" not in fields:
        raise NoteFormatError("front matter has no 'id'")
    try:
        date = dt.date.fromisoformat(fields.get("date", ""))
    except ValueError:
        raise NoteFormatError(f"note {fields['id']}: bad or missing date") from None
    tags = tuple(normalize_text(t.strip()) for t in fields.get("tags", "").split(",") if t.strip())
    body = "\n".join(lines[end + 1 :]).strip()
    title = fields.get("title", "")
    return Note(
        note_id=fields["id"],
        title=title,
        date=date,
        tags=tags,
        body=body,
        vocabulary=frozenset(tokenize(title) + tokenize(body)),
    )
