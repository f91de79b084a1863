"""Unified diffs as text: write them from file contents, read which paths they touch.

Pure functions, no I/O. Used by the Coder (to turn edits into patches) and by the
static gates (to see what a patch touches).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping

_LINE_RE = re.compile(r"[^\n]*\n|[^\n]+$")


def split_lines(text: str) -> list[str]:
    """Split into lines that keep their ``\\n`` (unlike str.splitlines, no other separators)."""
    return _LINE_RE.findall(text)


def _file_diff(path: str, old: str | None, new: str | None) -> str:
    header = [f"diff --git a/{path} b/{path}\n"]
    if old is None:
        header.append("new file mode 100644\n")
    elif new is None:
        header.append("deleted file mode 100644\n")
    a_lines = split_lines(old or "")
    b_lines = split_lines(new or "")
    if not a_lines and not b_lines:
        return "".join(header)  # an empty file created or deleted: git needs no hunk
    body = list(
        difflib.unified_diff(
            a_lines,
            b_lines,
            fromfile="/dev/null" if old is None else f"a/{path}",
            tofile="/dev/null" if new is None else f"b/{path}",
            lineterm="\n",
        )
    )
    out = header + body[:2]
    for line in body[2:]:
        out.append(line)
        if not line.endswith("\n"):
            out.append("\n\\ No newline at end of file\n")
    return "".join(out)


def unified_diff(old: Mapping[str, str], new: Mapping[str, str]) -> str:
    """A git-style unified diff from ``old`` to ``new`` that ``git apply`` accepts.

    A path only in ``new`` is a new file, a path only in ``old`` is deleted, and paths
    with equal contents are left out. Files come in sorted path order.

    Args:
        old: path -> content before.
        new: path -> content after.

    Returns:
        The diff text ("" when nothing differs).
    """
    parts: list[str] = []
    for path in sorted(set(old) | set(new)):
        before, after = old.get(path), new.get(path)
        if before == after:
            continue
        parts.append(_file_diff(path, before, after))
    return "".join(parts)


def _diff_path(field: str) -> str | None:
    name = field.split("\t", 1)[0].strip()
    if name.startswith('"') and name.endswith('"') and len(name) >= 2:
        # git C-quotes unusual names, writing UTF-8 bytes as octal escapes.
        raw = name[1:-1].encode("utf-8").decode("unicode_escape")
        name = raw.encode("latin-1", "replace").decode("utf-8", "replace")
    if name == "/dev/null" or not name:
        return None
    return name[2:] if name[:2] in ("a/", "b/") else name


def _git_header_path(rest: str) -> str | None:
    # "a/P b/P": both halves name the same path except for renames, split in the middle.
    n = len(rest)
    if n % 2 == 1:
        left, right = rest[: n // 2], rest[n // 2 + 1 :]
        if left[2:] == right[2:]:
            return _diff_path(right)
    cut = rest.rfind(" b/")
    return _diff_path(rest[cut + 1 :]) if cut > 0 else None


def touched_paths(patch: str) -> tuple[str, ...]:
    """Paths that a unified diff creates, changes, deletes or renames, in order.

    Hunk bodies are skipped by their line counts, so a removed line that happens to start
    with ``--`` is never mistaken for a file header.

    Args:
        patch: A unified diff, git-style or plain.

    Returns:
        Each path once, without ``a/``/``b/`` prefixes.
    """
    found: dict[str, None] = {}
    old_left = new_left = 0
    hunk = re.compile(r"^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")
    for line in split_lines(patch):
        line = line.rstrip("\r\n")
        if old_left > 0 or new_left > 0:
            tag = line[:1]
            if tag in (" ", ""):
                old_left, new_left = old_left - 1, new_left - 1
            elif tag == "-":
                old_left -= 1
            elif tag == "+":
                new_left -= 1
            if tag != "\\":
                continue
        names: list[str | None] = []
        if line.startswith("diff --git "):
            names.append(_git_header_path(line[len("diff --git ") :]))
        elif line.startswith(("--- ", "+++ ")):
            names.append(_diff_path(line[4:]))
        elif line.startswith(("rename from ", "rename to ", "copy from ", "copy to ")):
            names.append(line.split(" ", 2)[2])
        elif m := hunk.match(line):
            old_left = int(m.group(1)) if m.group(1) is not None else 1
            new_left = int(m.group(2)) if m.group(2) is not None else 1
        for name in names:
            if name:
                found[name] = None
    return tuple(found)
