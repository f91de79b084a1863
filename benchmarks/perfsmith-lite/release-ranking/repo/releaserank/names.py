"""Project name normalisation (PEP 503)."""

from __future__ import annotations

import re
import unicodedata

_SEPARATORS = re.compile(r"[-_.]+")


def normalize_name(name: str) -> str:
    """Return the canonical form of a project name.

    Runs of ``-``, ``_`` and ``.`` collapse to a single ``-`` and letters are case-folded,
    so ``Foo_Bar``, ``foo.bar`` and ``FOO--bar`` all name the same project. Names are
    NFKC-normalised first so that compatibility characters compare equal.
    """
    text = unicodedata.normalize("NFKC", name.strip())
    return _SEPARATORS.sub("-", text).casefold()


def same_project(a: str, b: str) -> bool:
    """Whether two spellings name the same project."""
    return normalize_name(a) == normalize_name(b)
