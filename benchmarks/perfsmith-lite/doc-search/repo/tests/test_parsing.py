import datetime as dt

import pytest
from notesearch import NoteFormatError, QuerySyntaxError, parse_note, parse_query, tokenize

from conftest import make_note


def test_parse_fields_and_vocabulary():
    raw = make_note("7", "Crème brûlée, twice!", "2023-12-24", " Food , Ünïcode ", "Dessert")
    note = parse_note(raw)
    assert note.note_id == "7" and note.title == "Dessert"
    assert note.date == dt.date(2023, 12, 24)
    assert note.tags == ("food", "unicode")
    assert {"creme", "brulee", "twice", "dessert"} <= note.vocabulary


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "id: 1\n",
        "---\nid: 1\ndate: 2024-01-01\n",
        "---\ndate: 2024-01-01\n---\n",
        "---\nid: 1\n---\n",
    ],
)
def test_malformed_notes(raw):
    with pytest.raises(NoteFormatError):
        parse_note(raw)


def test_query_parsing():
    q = parse_query("Budget tag:Planning -DRAFT after:2024-01-02 before:2024-12-31")
    assert q.words == ("budget",) and q.tags == ("planning",) and q.excluded == ("draft",)
    assert q.after == dt.date(2024, 1, 2) and q.before == dt.date(2024, 12, 31)
    assert tokenize("Ça va, ÇA VA?") == ["ca", "va", "ca", "va"]
    with pytest.raises(QuerySyntaxError):
        parse_query("after:yesterday")
    with pytest.raises(QuerySyntaxError):
        parse_query("tag:")
