"""Mark the words of a query in a text."""

from __future__ import annotations

import re

from textsearch.tokenize import WORD, normalize, tokenize


def highlight(text: str, query: str, before: str = "[", after: str = "]") -> str:
    """Wrap every word of ``text`` that matches a query term, comparing normalized words."""
    terms = set(tokenize(query))

    def mark(match: re.Match[str]) -> str:
        word = match.group(0)
        return f"{before}{word}{after}" if normalize(word) in terms else word

    return WORD.sub(mark, text)


def snippet(text: str, query: str, width: int = 80) -> str:
    """A highlighted window of about ``width`` characters around the first match.

    Cuts happen at spaces; an ellipsis marks each cut. Without a match, the start of the
    text is returned.
    """
    terms = set(tokenize(query))
    start = 0
    for match in WORD.finditer(text):
        if normalize(match.group(0)) in terms:
            start = max(0, match.start() - width // 4)
            break
    end = min(len(text), start + width)
    if start > 0:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < end else start
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start else end
    window = highlight(text[start:end], query)
    return ("…" if start > 0 else "") + window + ("…" if end < len(text) else "")
