"""SEARCH/REPLACE blocks: parse a Coder's answer, apply it, turn it into a unified diff.

Everything here is pure (no I/O), so a malformed answer can never touch a repository.
The format is described in docs/formats.md. Errors are ``FormatError``s whose message is
written for the model: it is sent back verbatim so the next answer can fix the mistake.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from perfsmith.diffs import split_lines as _split_lines
from perfsmith.errors import FormatError

SEARCH_MARK = "<<<<<<< SEARCH"
DIVIDER_MARK = "======="
REPLACE_MARK = ">>>>>>> REPLACE"

# Models sometimes type five to nine marker characters; the meaning is still unambiguous.
# Markers must start at column 0 so that indented look-alikes in code stay content.
_SEARCH_RE = re.compile(r"^<{5,9} ?SEARCH\s*$")
_DIVIDER_RE = re.compile(r"^={5,9}\s*$")
_REPLACE_RE = re.compile(r"^>{5,9} ?REPLACE\s*$")
_FENCE_RE = re.compile(r"^\s*(```|~~~)[\w+.-]*\s*$")

FORMAT_HELP = (
    "Answer with one or more blocks, each made of the file path alone on a line, then "
    f"'{SEARCH_MARK}', the exact lines to find, '{DIVIDER_MARK}', the lines that replace "
    f"them, and '{REPLACE_MARK}'. An empty SEARCH section creates a new file."
)


@dataclass(frozen=True)
class EditBlock:
    """One SEARCH/REPLACE block: in ``path``, replace ``search`` by ``replace``.

    Both texts use ``\\n`` line endings and end with a newline unless empty. An empty
    ``search`` creates ``path``.
    """

    path: str
    search: str
    replace: str


@dataclass(frozen=True)
class ParsedAnswer:
    """A Coder's answer split into its explanation and its edit blocks."""

    rationale: str
    blocks: tuple[EditBlock, ...]


def _clean_path(line: str) -> str:
    # Models decorate the path line with Markdown (### `x.py`, **x.py**, File: x.py); strip it.
    path = line.strip().lstrip("#").strip()
    path = re.sub(r"^(?:file|path|filename)\s*:\s*", "", path, flags=re.IGNORECASE)
    return path.strip("`*").rstrip(":").strip().strip("`*")


def _text_lines(text: str) -> list[str]:
    return [line.rstrip("\n") for line in _split_lines(text)]


def _format_error(message: str, hint: str = "") -> FormatError:
    return FormatError(message, hint or FORMAT_HELP)


def parse_blocks(text: str) -> ParsedAnswer:
    """Parse a Coder's answer into its rationale and SEARCH/REPLACE blocks.

    Markdown fence lines outside blocks are ignored; inside a block they are content (the
    file being edited may be Markdown). The path is the nearest non-blank, non-fence line
    above ``<<<<<<< SEARCH``.

    Args:
        text: The model's full answer.

    Returns:
        The text before the first block (stripped) and the blocks in order.

    Raises:
        FormatError: No block at all, markers out of order or unclosed, or a block
            without a usable file path.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    blocks: list[EditBlock] = []
    rationale_end: int | None = None
    floor = 0  # first line index that may hold the next block's path
    i = 0
    while i < len(lines):
        line = lines[i]
        if _REPLACE_RE.match(line):
            raise _format_error(
                f"line {i + 1}: '{REPLACE_MARK}' without an open block (after block "
                f"{len(blocks)}); every block starts with '{SEARCH_MARK}'."
            )
        if not _SEARCH_RE.match(line):
            i += 1
            continue
        number = len(blocks) + 1
        path_index = _find_path_line(lines, floor, i)
        if path_index is None:
            raise _format_error(
                f"block {number} (line {i + 1}): no file path above '{SEARCH_MARK}'; put the "
                "path, relative to the repository root, alone on the line before it."
            )
        path = _clean_path(lines[path_index])
        if not path or re.search(r"\s", path):
            raise _format_error(
                f"block {number} (line {i + 1}): the line above '{SEARCH_MARK}' must be the "
                f"file path alone, got {lines[path_index].strip()!r}."
            )
        if rationale_end is None:
            rationale_end = path_index
        search, replace, i = _read_block(lines, i + 1, number, path)
        blocks.append(EditBlock(path=path, search=search, replace=replace))
        floor = i
    if not blocks:
        raise _format_error("no SEARCH/REPLACE block found.")
    head = lines[: rationale_end if rationale_end is not None else 0]
    while head and (not head[-1].strip() or _FENCE_RE.match(head[-1])):
        head.pop()
    return ParsedAnswer(rationale="\n".join(head).strip(), blocks=tuple(blocks))


def _find_path_line(lines: Sequence[str], floor: int, marker: int) -> int | None:
    for j in range(marker - 1, floor - 1, -1):
        stripped = lines[j].strip()
        if stripped and not _FENCE_RE.match(stripped):
            return j
    return None


def _read_block(lines: Sequence[str], start: int, number: int, path: str) -> tuple[str, str, int]:
    """Read one block's two sections; return them and the index after the REPLACE marker."""
    where = f"block {number} ({path})"
    search: list[str] = []
    i = start
    while True:
        if i >= len(lines):
            raise _format_error(f"{where}: the answer ends before '{DIVIDER_MARK}'.")
        line = lines[i]
        if _DIVIDER_RE.match(line):
            break
        if _SEARCH_RE.match(line):
            raise _format_error(
                f"{where}: a second '{SEARCH_MARK}' (line {i + 1}) before '{DIVIDER_MARK}'."
            )
        if _REPLACE_RE.match(line):
            raise _format_error(
                f"{where}: '{REPLACE_MARK}' (line {i + 1}) before '{DIVIDER_MARK}'."
            )
        search.append(line)
        i += 1
    replace: list[str] = []
    i += 1
    while True:
        if i >= len(lines):
            raise _format_error(f"{where}: the answer ends before '{REPLACE_MARK}'.")
        line = lines[i]
        if _REPLACE_RE.match(line):
            break
        if _SEARCH_RE.match(line):
            raise _format_error(
                f"{where}: '{SEARCH_MARK}' (line {i + 1}) before this block's "
                f"'{REPLACE_MARK}'; close every block before starting the next."
            )
        replace.append(line)
        i += 1
    return _join(search), _join(replace), i + 1


def _join(lines: Sequence[str]) -> str:
    # A section made only of blank lines is empty: it cannot identify anything in a file.
    if not any(line.strip() for line in lines):
        return ""
    return "".join(line + "\n" for line in lines)


def _check_path(path: str, number: int) -> str:
    where = f"block {number} ({path})"
    if not path or path.startswith(("/", "\\", "~")) or re.match(r"^[A-Za-z]:", path):
        raise _format_error(
            f"{where}: the path must be relative to the repository root.",
            "Write paths like src/pkg/module.py, exactly as shown in the file headers.",
        )
    if "\\" in path:
        raise _format_error(f"{where}: use '/' in paths, not '\\'.")
    parts = [p for p in PurePosixPath(path).parts if p != "."]
    if ".." in parts:
        raise _format_error(f"{where}: the path leaves the repository ('..').")
    if not parts or parts[0] == ".git":
        raise _format_error(f"{where}: this path cannot be edited.")
    return "/".join(parts)


def apply_blocks(files: Mapping[str, str], blocks: Iterable[EditBlock]) -> dict[str, str]:
    """Apply blocks in order to the given file contents.

    Args:
        files: path -> current content of every file the blocks may edit.
        blocks: The blocks, applied one after another (later blocks see earlier edits).

    Returns:
        path -> new content for every file a block touched (created files included).

    Raises:
        FormatError: A block names an unknown file, a bad path, SEARCH text that occurs
            zero or several times, or creates a file that exists. The message names the
            block number, the file and the reason, with the closest lines when not found.
    """
    state: dict[str, str] = {}
    for number, block in enumerate(blocks, start=1):
        path = _check_path(block.path, number)
        where = f"block {number} ({path})"
        exists = path in state or path in files
        current = state[path] if path in state else files.get(path, "")
        if not block.search:
            if exists:
                raise _format_error(
                    f"{where}: an empty SEARCH section creates a new file, but {path} exists.",
                    "Copy the lines to change into SEARCH, exactly as they are in the file.",
                )
            state[path] = block.replace
            continue
        if not exists:
            known = ", ".join(sorted(files)) or "none"
            raise _format_error(
                f"{where}: no such file among the files you were shown ({known}).",
                "Use one of those paths exactly, or leave SEARCH empty to create a new file.",
            )
        state[path] = _replace_once(current, block, where)
    return state


def _replace_once(content: str, block: EditBlock, where: str) -> str:
    lines = _split_lines(content)
    keys = [line.rstrip() for line in lines]
    wanted = [line.rstrip() for line in _text_lines(block.search)]
    n = len(wanted)
    starts = [i for i in range(len(keys) - n + 1) if keys[i : i + n] == wanted]
    if not starts:
        raise _format_error(
            f"{where}: the SEARCH text was not found.\n{_closest_hint(lines, wanted)}",
            "Copy the SEARCH lines exactly from the current file (indentation included), "
            "and keep SEARCH short: just enough lines to be unique.",
        )
    if len(starts) > 1:
        at = ", ".join(str(s + 1) for s in starts[:10])
        raise _format_error(
            f"{where}: the SEARCH text occurs {len(starts)} times (at lines {at}).",
            "Add surrounding lines to SEARCH so it matches exactly one place.",
        )
    start = starts[0]
    newline = "\r\n" if sum(line.endswith("\r\n") for line in lines) * 2 > len(lines) else "\n"
    new_lines = [line.rstrip("\r") + newline for line in _text_lines(block.replace)]
    end = start + n
    # Keep a missing final newline missing when the edit reaches the end of the file.
    if new_lines and end == len(lines) and not lines[-1].endswith("\n"):
        new_lines[-1] = new_lines[-1].rstrip("\r\n")
    return "".join(lines[:start] + new_lines + lines[end:])


def _closest_hint(lines: Sequence[str], wanted: Sequence[str]) -> str:
    keys = [line.rstrip() for line in lines]
    if not keys:
        return "The file is empty."
    n = len(wanted)
    stripped = [k.strip() for k in keys]
    target = [w.strip() for w in wanted]
    for i in range(len(keys) - n + 1):
        if stripped[i : i + n] == target:
            return f"Lines {i + 1}-{i + n} match if indentation is ignored; copy it exactly."
    size = min(max(n, 1), len(keys))
    # The SEARCH text is seq2: difflib indexes seq2 once and every window reuses that.
    matcher = difflib.SequenceMatcher(None, autojunk=False)
    matcher.set_seq2("\n".join(wanted))
    best_i, best_score = 0, -1.0
    for i in _candidate_windows(stripped, target, size):
        matcher.set_seq1("\n".join(keys[i : i + size]))
        # quick_ratio is an upper bound of ratio: skip windows that cannot win.
        if matcher.real_quick_ratio() <= best_score or matcher.quick_ratio() <= best_score:
            continue
        score = matcher.ratio()
        if score > best_score:
            best_i, best_score = i, score
    shown = [f"{best_i + k + 1:>5}| {keys[best_i + k]}" for k in range(min(size, 40))]
    hint = f"The closest lines in the file ({best_score:.0%} similar) are:\n" + "\n".join(shown)
    for k in range(min(size, n)):
        if keys[best_i + k] != wanted[k]:
            hint += (
                f"\nFirst difference at line {best_i + k + 1}: the file has "
                f"{keys[best_i + k]!r}, your SEARCH has {wanted[k]!r}."
            )
            break
    return hint


def _candidate_windows(stripped: Sequence[str], target: Sequence[str], size: int) -> list[int]:
    """Window starts worth a character-level comparison (all of them for small files)."""
    starts = range(len(stripped) - size + 1)
    if len(stripped) * size <= 50_000:
        return list(starts)
    # Large file: rank windows by how many SEARCH lines they contain verbatim (a sliding
    # count, linear time) and compare characters only for the best few.
    wanted = set(target) - {""}
    hits = [1 if line in wanted else 0 for line in stripped]
    counts, running = [], sum(hits[:size])
    for i in starts:
        counts.append(running)
        if i + size < len(hits):
            running += hits[i + size] - hits[i]
    if max(counts, default=0) == 0:
        first = target[0] if target else ""
        counts = [
            int(100 * difflib.SequenceMatcher(None, line, first).ratio()) for line in stripped
        ]
        counts = counts[: len(starts)]
    return sorted(starts, key=lambda i: -counts[i])[:25]
