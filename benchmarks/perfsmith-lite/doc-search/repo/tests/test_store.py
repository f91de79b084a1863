from notesearch import NoteStore, parse_query


def ids(hits):
    return [h.note_id for h in hits]


def test_first_matches_in_store_order(notes):
    store = NoteStore(notes)
    assert ids(store.search("budget", limit=10)) == ["5", "4", "2"]
    assert ids(store.search("budget", limit=2)) == ["5", "4"]
    assert ids(store.search("budget", limit=None)) == ["5", "4", "2"]
    assert store.search("budget", limit=0) == []


def test_hits_carry_snippets(notes):
    hits = NoteStore(notes).search("cafe", limit=5)
    assert [(h.note_id, h.snippet) for h in hits] == [
        ("5", "We cut the café budget again!"),
        ("3", "Café party on Friday."),
    ]
    assert hits[0].date == "2024-05-01"
    # A tag-only query has no word to point at: the snippet is the first sentence.
    assert NoteStore(notes).search("tag:release")[0].snippet == "Release went out."


def test_filters_combine(notes):
    store = NoteStore(notes)
    assert ids(store.search("release -draft")) == ["3", "2"]
    assert ids(store.search("tag:planning")) == ["4", "2"]
    assert ids(store.search("after:2024-02-01 before:2024-04-01")) == ["4", "3", "2"]
    assert ids(store.search(parse_query(""), limit=3)) == ["5", "4", "3"]


def test_exists_and_count(notes):
    store = NoteStore(notes)
    assert store.exists("café") and store.exists("nothing")
    assert not store.exists("unicorn")
    assert store.count("budget") == 3 and store.count("unicorn") == 0
    assert NoteStore([]).search("x") == [] and not NoteStore([]).exists("")


def test_malformed_notes_are_skipped_and_reported(notes):
    store = NoteStore(notes)
    assert len(store) == 6 and store.count("") == 5
    assert store.problems() == ["note #2: note must start with a '---' front matter line"]


def test_duplicate_ids_are_kept_in_order():
    from conftest import make_note

    store = NoteStore([make_note("1", "alpha one."), make_note("1", "alpha two.")])
    assert [h.snippet for h in store.search("alpha")] == ["alpha one.", "alpha two."]
    assert [h.snippet for h in store.search("alpha", limit=1)] == ["alpha one."]
