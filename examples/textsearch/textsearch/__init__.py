"""A tiny in-memory full-text search engine."""

from textsearch.highlight import highlight, snippet
from textsearch.index import InvertedIndex, Posting
from textsearch.search import Hit, bm25, search
from textsearch.tokenize import STOPWORDS, normalize, tokenize

__all__ = [
    "STOPWORDS",
    "Hit",
    "InvertedIndex",
    "Posting",
    "bm25",
    "highlight",
    "normalize",
    "search",
    "snippet",
    "tokenize",
]

__version__ = "0.2.0"
