import pytest


def make_note(note_id, body, date="2024-01-01", tags="", title=None):
    return (
        f"---\nid: {note_id}\ntitle: {title or 'Note ' + note_id}\ndate: {date}\n"
        f"tags: {tags}\n---\n{body}\n"
    )


@pytest.fixture
def notes():
    return [
        make_note("5", "Budget review. We cut the café budget again!", "2024-05-01", "finance"),
        make_note(
            "4", "Draft of the release plan. Needs a budget.", "2024-04-01", "planning, Draft"
        ),
        "no front matter at all",
        make_note("3", "Release went out. Café party on Friday.", "2024-03-01", "release"),
        make_note("2", "Budget approved for the release.", "2024-02-01", "finance, planning"),
        make_note("1", "Nothing to see here.", "2024-01-01"),
    ]
