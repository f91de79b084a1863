from textsearch.tokenize import normalize, tokenize


def test_tokenize_lowercases_and_drops_stopwords():
    assert tokenize("The Quick brown fox is in the box") == ["quick", "brown", "fox", "box"]


def test_tokenize_can_keep_stopwords():
    assert tokenize("To be or not", keep_stopwords=True) == ["to", "be", "or", "not"]


def test_accents_and_case_are_folded():
    assert normalize("Café") == "cafe"
    assert normalize("STRASSE") == normalize("Straße")
    assert tokenize("Crème BRÛLÉE") == ["creme", "brulee"]


def test_apostrophes_stay_inside_words_and_underscores_split():
    assert tokenize("Don’t stop o'neill's snake_case 42nd") == [
        "don't",
        "stop",
        "o'neill's",
        "snake",
        "case",
        "42nd",
    ]
