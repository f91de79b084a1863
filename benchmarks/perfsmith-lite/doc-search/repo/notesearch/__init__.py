"""Search plain-text notes with front matter: words, tags, exclusions and dates."""

from notesearch.parsing import Note, NoteFormatError, normalize_text, parse_note, tokenize
from notesearch.query import Query, QuerySyntaxError, parse_query
from notesearch.store import NoteStore, SearchHit

__all__ = [
    "Note",
    "NoteFormatError",
    "NoteStore",
    "Query",
    "QuerySyntaxError",
    "SearchHit",
    "normalize_text",
    "parse_note",
    "parse_query",
    "tokenize",
]
