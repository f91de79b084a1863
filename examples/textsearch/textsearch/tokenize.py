"""Split text into normalized search terms."""

from __future__ import annotations

import re
import unicodedata

# Letters and digits, with inner apostrophes kept (don't, o'neill); underscores split words.
WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")

STOPWORDS = frozenset(
    "a an and are as at be by for from has have in is it its of on or that the this to was "
    "were will with".split()
)


def normalize(word: str) -> str:
    """Case-fold a word and strip its accents: ``Café`` becomes ``cafe``."""
    decomposed = unicodedata.normalize("NFKD", word.casefold().replace("’", "'"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def tokenize(text: str, *, keep_stopwords: bool = False) -> list[str]:
    """The normalized words of ``text``, in order, without stop words unless asked."""
    words = [normalize(word) for word in WORD.findall(text)]
    if keep_stopwords:
        return words
    return [word for word in words if word not in STOPWORDS]
