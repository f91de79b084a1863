import pytest

from textsearch.index import InvertedIndex, Posting


@pytest.fixture
def index():
    idx = InvertedIndex()
    idx.add("a", "red apple, red cherry")
    idx.add("b", "green apple")
    idx.add("c", "the cherry tree")
    return idx


def test_postings_in_insertion_order_with_frequencies(index):
    assert list(index.postings("apple")) == [Posting("a", 1), Posting("b", 1)]
    assert list(index.postings("red")) == [Posting("a", 2)]
    assert list(index.postings("the")) == []  # a stop word is never indexed
    assert index.document_frequency("cherry") == 2


def test_lengths_and_average(index):
    assert [index.doc_length(d) for d in index.doc_ids] == [4, 2, 2]
    assert index.average_length() == pytest.approx(8 / 3)
    assert InvertedIndex().average_length() == 0.0


def test_duplicate_ids_are_refused(index):
    with pytest.raises(ValueError):
        index.add("a", "again")


def test_remove_forgets_the_document(index):
    index.remove("a")
    assert "a" not in index
    assert len(index) == 2
    assert list(index.postings("apple")) == [Posting("b", 1)]
    assert "red" not in index.vocabulary()
    assert index.average_length() == 2.0
    with pytest.raises(KeyError):
        index.remove("a")


def test_doc_rank_is_the_insertion_position(index):
    assert [index.doc_rank(d) for d in ("a", "b", "c")] == [0, 1, 2]
    with pytest.raises(KeyError):
        index.doc_rank("missing")


def test_doc_rank_follows_removals_and_additions(index):
    index.remove("a")
    index.add("d", "apple pie")
    index.add("a", "red apple again")
    assert index.doc_ids == ["b", "c", "d", "a"]
    assert [index.doc_rank(d) for d in index.doc_ids] == [0, 1, 2, 3]


def test_vocabulary_is_sorted(index):
    assert index.vocabulary() == ["apple", "cherry", "green", "red", "tree"]
