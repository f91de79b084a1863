import math

import pytest

from textsearch.index import InvertedIndex
from textsearch.search import Hit, bm25, search


def build(*texts):
    index = InvertedIndex()
    for number, text in enumerate(texts):
        index.add(f"d{number}", text)
    return index


def ids(hits):
    return [hit.doc_id for hit in hits]


def test_more_occurrences_rank_higher():
    index = build("apple banana", "apple apple banana", "banana cherry")
    assert ids(search(index, "apple")) == ["d1", "d0"]


def test_rare_terms_weigh_more_than_common_ones():
    index = build("common rare", "common filler", "common filler", "common other")
    hits = search(index, "common rare")
    assert ids(hits)[0] == "d0"
    assert hits[0].score > 2 * hits[1].score


def test_score_is_the_sum_of_bm25_weights():
    index = build("apple banana", "banana cherry")
    # Both documents have the average length, so the weight is idf * tf * 2.2 / (tf + 1.2).
    assert bm25(1, 1, 2, 2, 2.0) == pytest.approx(math.log(1 + 1.5 / 1.5))
    expected = bm25(1, 1, 2, 2, 2.0) + bm25(1, 2, 2, 2, 2.0)
    best, other = search(index, "apple banana")
    assert best == Hit("d0", pytest.approx(expected))
    assert other == Hit("d1", pytest.approx(bm25(1, 2, 2, 2, 2.0)))


def test_equal_scores_keep_the_order_documents_were_added():
    # d1 only has "beta", d2 only has "alpha": same length, same frequencies, equal scores.
    index = build("gamma delta", "beta zeta", "alpha zeta", "gamma delta")
    hits = search(index, "alpha beta")
    assert hits[0].score == hits[1].score
    assert ids(hits) == ["d1", "d2"]


def test_require_all():
    index = build("apple banana", "apple", "banana apple cherry", "cherry")
    assert ids(search(index, "apple banana", require_all=True)) == ["d0", "d2"]
    assert ids(search(index, "apple banana")) == ["d0", "d2", "d1"]


def test_limit():
    index = build(*["apple"] * 5)
    assert ids(search(index, "apple", limit=2)) == ["d0", "d1"]
    assert search(index, "apple", limit=0) == []
    with pytest.raises(ValueError):
        search(index, "apple", limit=-1)


def test_query_is_normalized_and_each_term_counts_once():
    index = build("Café au lait", "tea")
    once = search(index, "CAFE")
    assert ids(once) == ["d0"]
    assert search(index, "cafe Café café") == once


def test_no_match_and_empty_queries():
    index = build("apple")
    assert search(index, "pear") == []
    assert search(index, "the and of") == []
    assert search(InvertedIndex(), "apple") == []


def test_search_after_removal():
    index = build("apple pie", "apple tart", "apple crumble")
    index.remove("d0")
    index.add("d0", "pear tart")
    assert ids(search(index, "tart")) == ["d1", "d0"]
