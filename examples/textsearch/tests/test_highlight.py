from textsearch.highlight import highlight, snippet


def test_highlight_marks_normalized_matches():
    assert highlight("Crème brûlée and CREME fraiche", "creme") == (
        "[Crème] brûlée and [CREME] fraiche"
    )
    assert highlight("no match here", "apple") == "no match here"
    assert highlight("apple pie", "pie", "<b>", "</b>") == "apple <b>pie</b>"


def test_snippet_cuts_around_the_first_match():
    text = " ".join(f"word{n}" for n in range(40)) + " target " + " ".join(["tail"] * 40)
    cut = snippet(text, "target", width=60)
    assert cut.startswith("…") and cut.endswith("…")
    assert "[target]" in cut
    assert len(cut) <= 62


def test_snippet_of_short_text_has_no_ellipsis():
    assert snippet("Apple pie recipe", "pie") == "Apple [pie] recipe"
    assert snippet("Apple pie recipe", "pear") == "Apple pie recipe"
