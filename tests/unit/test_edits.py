"""SEARCH/REPLACE parsing, applying, and unified diffs checked with a real ``git apply``."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from perfsmith.agents.edits import (
    EditBlock,
    ParsedAnswer,
    apply_blocks,
    parse_blocks,
)
from perfsmith.diffs import touched_paths, unified_diff
from perfsmith.errors import FormatError

MOD = (
    "def find(x, items):\n"
    "    for item in items:\n"
    "        if item == x:\n"
    "            return True\n"
    "    return False\n"
)


def block(path: str, search: str, replace: str) -> str:
    return f"{path}\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"


def git_apply(tmp_path: Path, files: Mapping[str, str], patch: str) -> dict[str, str]:
    """Apply ``patch`` with git to a fresh repository holding ``files``; return the tree."""
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    for path, content in files.items():
        target = repo / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode())
    for args in (["--check"], []):
        done = subprocess.run(
            ["git", "-c", "core.autocrlf=false", "apply", "--whitespace=nowarn", *args, "-"],
            cwd=repo,
            input=patch.encode(),
            capture_output=True,
        )
        assert done.returncode == 0, done.stderr.decode()
    return {
        p.relative_to(repo).as_posix(): p.read_bytes().decode()
        for p in repo.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(repo).parts
    }


# --- parse_blocks -------------------------------------------------------------------------


def test_parse_single_block_with_rationale() -> None:
    text = "Use a set for membership.\nIt is O(1).\n\n" + block("src/a.py", "x\n", "y\n")
    parsed = parse_blocks(text)
    assert parsed == ParsedAnswer(
        rationale="Use a set for membership.\nIt is O(1).",
        blocks=(EditBlock("src/a.py", "x\n", "y\n"),),
    )


def test_parse_many_blocks_keeps_order_and_ignores_trailing_text() -> None:
    text = (
        block("a.py", "1\n", "2\n")
        + "\nthen\n"
        + block("b.py", "3\n4\n", "5\n")
        + "\n"
        + block("a.py", "2\n", "")
        + "That is all.\n"
    )
    parsed = parse_blocks(text)
    assert parsed.rationale == ""
    assert parsed.blocks == (
        EditBlock("a.py", "1\n", "2\n"),
        EditBlock("b.py", "3\n4\n", "5\n"),
        EditBlock("a.py", "2\n", ""),
    )


@pytest.mark.parametrize(
    "text",
    [
        "Idea.\n```python\nsrc/a.py\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n```\n",
        "Idea.\nsrc/a.py\n```python\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n```\n",
        "Idea.\n\n`src/a.py`\n~~~\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n~~~",
        "Idea.\n**src/a.py**\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE",
        "Idea.\n### src/a.py\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE",
        "Idea.\nFile: src/a.py\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE",
        "Idea.\r\nsrc/a.py\r\n<<<<<<< SEARCH\r\nx\r\n=======\r\ny\r\n>>>>>>> REPLACE\r\n",
        "Idea.\nsrc/a.py\n<<<<<<<< SEARCH\nx\n========\ny\n>>>>>>>> REPLACE  \n",
    ],
    ids=["fence-around", "fence-after-path", "tilde", "bold", "heading", "label", "crlf", "8"],
)
def test_parse_tolerates_markdown_and_line_endings(text: str) -> None:
    assert parse_blocks(text) == ParsedAnswer("Idea.", (EditBlock("src/a.py", "x\n", "y\n"),))


def test_fences_and_indented_markers_inside_a_block_are_content() -> None:
    search = "Title\n```python\ncode\n```\n"
    replace = "Title\n  =======\n```\n"
    parsed = parse_blocks(block("README.md", search, replace))
    assert parsed.blocks == (EditBlock("README.md", search, replace),)


def test_empty_or_blank_search_means_create() -> None:
    parsed = parse_blocks(block("new.py", "", "X = 1\n") + block("b.py", "\n  \n", "Y\n"))
    assert [b.search for b in parsed.blocks] == ["", ""]
    assert parsed.blocks[0].replace == "X = 1\n"


def test_no_block_is_a_format_error_that_explains_the_format() -> None:
    with pytest.raises(FormatError) as err:
        parse_blocks("I would use a set here.\n```python\nx = set(items)\n```")
    assert "no SEARCH/REPLACE block found" in err.value.message
    assert "<<<<<<< SEARCH" in err.value.hint and ">>>>>>> REPLACE" in err.value.hint


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a.py\n<<<<<<< SEARCH\nx\n", "block 1 (a.py): the answer ends before '======='"),
        (
            "a.py\n<<<<<<< SEARCH\nx\n=======\ny\n",
            "block 1 (a.py): the answer ends before '>>>>>>> REPLACE'",
        ),
        (
            "a.py\n<<<<<<< SEARCH\nx\n>>>>>>> REPLACE\n",
            "block 1 (a.py): '>>>>>>> REPLACE' (line 4) before '======='",
        ),
        (
            "a.py\n<<<<<<< SEARCH\nx\n<<<<<<< SEARCH\n",
            "block 1 (a.py): a second '<<<<<<< SEARCH' (line 4)",
        ),
        (
            block("a.py", "x\n", "y\n") + "b.py\n<<<<<<< SEARCH\nx\n=======\ny\n"
            "b.py\n<<<<<<< SEARCH\n",
            "block 2 (b.py): '<<<<<<< SEARCH' (line 13) before this block's",
        ),
        ("x\n=======\ny\n>>>>>>> REPLACE\n", "line 4: '>>>>>>> REPLACE' without an open block"),
        ("<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n", "block 1 (line 1): no file path"),
        (
            block("a.py", "x\n", "y\n") + "<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n",
            "block 2 (line 7): no file path",
        ),
        (
            "Here is the change:\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n",
            "must be the file path alone, got 'Here is the change:'",
        ),
        ("**\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n", "got '**'"),
    ],
    ids=[
        "no-divider",
        "no-replace",
        "replace-first",
        "double-search",
        "unclosed",
        "stray-replace",
        "no-path",
        "no-path-2nd",
        "prose-path",
        "decoration-only",
    ],
)
def test_unbalanced_or_misordered_markers(text: str, expected: str) -> None:
    with pytest.raises(FormatError) as err:
        parse_blocks(text)
    assert expected in err.value.message


# --- apply_blocks -------------------------------------------------------------------------


def test_apply_replaces_exactly_once_and_returns_only_touched_files() -> None:
    files = {"src/a.py": MOD, "src/b.py": "B = 1\n"}
    blocks = [EditBlock("src/a.py", "    for item in items:\n", "    for item in set(items):\n")]
    out = apply_blocks(files, blocks)
    assert out == {"src/a.py": MOD.replace("in items:", "in set(items):")}
    assert files["src/a.py"] == MOD  # the input is not modified


def test_blocks_for_the_same_file_apply_in_order() -> None:
    files = {"a.py": "one\ntwo\nthree\n"}
    blocks = [EditBlock("a.py", "one\n", "ONE\n"), EditBlock("a.py", "ONE\ntwo\n", "1\n2\n")]
    assert apply_blocks(files, blocks) == {"a.py": "1\n2\nthree\n"}


def test_trailing_whitespace_is_forgiven_both_ways() -> None:
    files = {"a.py": "x = 1   \ny = 2\n"}
    assert apply_blocks(files, [EditBlock("a.py", "x = 1\ny = 2  \n", "x = 3\n")]) == {
        "a.py": "x = 3\n"
    }


def test_leading_whitespace_is_exact_and_the_hint_says_so() -> None:
    with pytest.raises(FormatError) as err:
        apply_blocks({"src/a.py": MOD}, [EditBlock("src/a.py", "return False\n", "pass\n")])
    message = err.value.message
    assert "block 1 (src/a.py): the SEARCH text was not found" in message
    assert "Lines 5-5 match if indentation is ignored" in message


def test_not_found_shows_the_closest_lines_with_numbers() -> None:
    wrong = "        if item = x:\n            return True\n"
    with pytest.raises(FormatError) as err:
        apply_blocks({"src/a.py": MOD}, [EditBlock("src/a.py", wrong, "")])
    message = err.value.message
    assert "block 1 (src/a.py): the SEARCH text was not found" in message
    assert "    3|         if item == x:" in message
    assert "    4|             return True" in message
    assert "Copy the SEARCH lines exactly" in err.value.hint


def test_not_found_names_the_failing_block_number() -> None:
    blocks = [EditBlock("a.py", "one\n", "1\n"), EditBlock("a.py", "one\n", "2\n")]
    with pytest.raises(FormatError, match=r"block 2 \(a.py\): the SEARCH text was not found"):
        apply_blocks({"a.py": "one\n"}, blocks)


def test_search_is_line_based_not_substring() -> None:
    with pytest.raises(FormatError, match="not found"):
        apply_blocks({"src/a.py": MOD}, [EditBlock("src/a.py", "return True\n", "x\n")])


def test_ambiguous_search_reports_every_place() -> None:
    files = {"a.py": "x = 0\nx += 1\ny = 0\nx += 1\n"}
    with pytest.raises(FormatError) as err:
        apply_blocks(files, [EditBlock("a.py", "x += 1\n", "x += 2\n")])
    assert "block 1 (a.py): the SEARCH text occurs 2 times (at lines 2, 4)" in err.value.message


def test_unknown_file_lists_the_known_ones() -> None:
    with pytest.raises(FormatError) as err:
        apply_blocks({"src/a.py": MOD}, [EditBlock("src/c.py", "x\n", "y\n")])
    assert "block 1 (src/c.py): no such file among the files you were shown (src/a.py)" in (
        err.value.message
    )


def test_create_then_edit_a_new_file() -> None:
    blocks = [
        EditBlock("pkg/fast.py", "", "A = 1\nB = 2\n"),
        EditBlock("pkg/fast.py", "B = 2\n", ""),
    ]
    assert apply_blocks({}, blocks) == {"pkg/fast.py": "A = 1\n"}


@pytest.mark.parametrize("first_creates", [False, True])
def test_creating_an_existing_file_is_refused(first_creates: bool) -> None:
    files = {} if first_creates else {"a.py": "x\n"}
    blocks = [EditBlock("a.py", "", "y\n")] * (2 if first_creates else 1)
    number = 2 if first_creates else 1
    with pytest.raises(FormatError) as err:
        apply_blocks(files, blocks)
    assert (
        f"block {number} (a.py): an empty SEARCH section creates a new file, but a.py exists"
        in (err.value.message)
    )


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/etc/passwd", "must be relative to the repository root"),
        ("C:/x.py", "must be relative to the repository root"),
        ("~/x.py", "must be relative to the repository root"),
        ("../outside.py", "leaves the repository"),
        ("src/../../outside.py", "leaves the repository"),
        ("src\\a.py", "use '/' in paths"),
        (".git/config", "cannot be edited"),
    ],
)
def test_paths_outside_the_repository_are_refused(path: str, reason: str) -> None:
    with pytest.raises(FormatError) as err:
        apply_blocks({"src/a.py": MOD}, [EditBlock(path, "", "x\n")])
    assert f"block 1 ({path})" in err.value.message and reason in err.value.message


def test_dot_segments_are_normalised() -> None:
    out = apply_blocks({"src/a.py": "x\n"}, [EditBlock("./src/./a.py", "x\n", "y\n")])
    assert out == {"src/a.py": "y\n"}


def test_crlf_files_keep_their_line_endings() -> None:
    files = {"a.py": "one\r\ntwo\r\nthree\r\n"}
    out = apply_blocks(files, [EditBlock("a.py", "two\n", "2\n2b\n")])
    assert out == {"a.py": "one\r\n2\r\n2b\r\nthree\r\n"}


def test_missing_final_newline_stays_missing() -> None:
    out = apply_blocks({"a.py": "x = 1\ny = 2"}, [EditBlock("a.py", "y = 2\n", "y = 3\nz = 4\n")])
    assert out == {"a.py": "x = 1\ny = 3\nz = 4"}


def test_edit_that_changes_nothing_is_still_returned() -> None:
    # Deciding that "nothing changed" is the caller's business; apply reports what it touched.
    assert apply_blocks({"a.py": "x\n"}, [EditBlock("a.py", "x\n", "x\n")]) == {"a.py": "x\n"}


# --- unified_diff and git apply ----------------------------------------------------------


def test_identical_contents_give_an_empty_diff() -> None:
    assert unified_diff({"a.py": "x\n"}, {"a.py": "x\n"}) == ""


def test_modified_file_diff_is_git_style_and_applies(tmp_path: Path) -> None:
    old = {"src/a.py": MOD, "src/b.py": "B = 1\n"}
    new = {"src/a.py": "def find(x, items):\n    return x in items\n", "src/b.py": "B = 1\n"}
    patch = unified_diff(old, new)
    assert patch.startswith("diff --git a/src/a.py b/src/a.py\n--- a/src/a.py\n+++ b/src/a.py\n@@")
    assert "src/b.py" not in patch
    assert git_apply(tmp_path, old, patch) == new


def test_new_and_deleted_files(tmp_path: Path) -> None:
    old = {"gone.py": "bye\n", "keep.py": "k\n"}
    new = {"keep.py": "k\n", "pkg/new.py": "hello\nworld\n"}
    patch = unified_diff(old, new)
    assert "diff --git a/pkg/new.py b/pkg/new.py\nnew file mode 100644\n--- /dev/null\n" in patch
    assert "+++ b/pkg/new.py\n@@ -0,0 +1,2 @@\n+hello\n+world\n" in patch
    assert "deleted file mode 100644\n--- a/gone.py\n+++ /dev/null\n" in patch
    assert git_apply(tmp_path, old, patch) == new


def test_empty_new_file(tmp_path: Path) -> None:
    patch = unified_diff({}, {"pkg/__init__.py": ""})
    assert patch == "diff --git a/pkg/__init__.py b/pkg/__init__.py\nnew file mode 100644\n"
    assert git_apply(tmp_path, {"x.py": "x\n"}, patch) == {"x.py": "x\n", "pkg/__init__.py": ""}


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("a\nb", "a\nc"),
        ("a\nb", "a\nb\n"),
        ("a\nb\n", "a\nb"),
        ("a\nb", "z\na\nb"),
        ("", "only line"),
    ],
    ids=["both", "add-newline", "drop-newline", "context", "from-empty"],
)
def test_no_newline_at_end_of_file(tmp_path: Path, before: str, after: str) -> None:
    patch = unified_diff({"f.txt": before}, {"f.txt": after})
    if not after.endswith("\n") or (before and not before.endswith("\n")):
        assert "\n\\ No newline at end of file\n" in patch
    assert git_apply(tmp_path, {"f.txt": before}, patch) == {"f.txt": after}


def test_new_file_without_final_newline(tmp_path: Path) -> None:
    patch = unified_diff({}, {"n.py": "x = 1"})
    assert patch.endswith("+x = 1\n\\ No newline at end of file\n")
    assert git_apply(tmp_path, {}, patch) == {"n.py": "x = 1"}


def test_crlf_and_distant_hunks_round_trip(tmp_path: Path) -> None:
    lines = [f"line {i}\r\n" for i in range(60)]
    old = "".join(lines)
    lines[3], lines[50] = "changed 3\r\n", "changed 50\r\n"
    new = "".join(lines)
    patch = unified_diff({"big.txt": old}, {"big.txt": new})
    assert patch.count("\n@@ ") == 2
    assert git_apply(tmp_path, {"big.txt": old}, patch) == {"big.txt": new}


def test_model_answer_to_applied_tree(tmp_path: Path) -> None:
    answer = (
        "Replace the linear scan with a set lookup and add a helper module.\n\n"
        "```python\n"
        + block(
            "src/a.py",
            MOD,
            "from src.util import as_set\n\n\ndef find(x, items):\n    return x in as_set(items)\n",
        )
        + "```\n\n```python\n"
        + block("src/util.py", "", "def as_set(items):\n    return set(items)\n")
        + "```\n"
    )
    files = {"src/a.py": MOD}
    parsed = parse_blocks(answer)
    assert parsed.rationale.startswith("Replace the linear scan")
    new = {**files, **apply_blocks(files, parsed.blocks)}
    patch = unified_diff(files, new)
    assert touched_paths(patch) == ("src/a.py", "src/util.py")
    assert git_apply(tmp_path, files, patch) == new


# --- touched_paths ------------------------------------------------------------------------


def test_touched_paths_of_new_modified_and_deleted_files() -> None:
    patch = unified_diff(
        {"a.py": "1\n", "gone.py": "x\n"}, {"a.py": "2\n", "new.py": "n\n", "empty.py": ""}
    )
    assert touched_paths(patch) == ("a.py", "empty.py", "gone.py", "new.py")


def test_touched_paths_ignores_hunk_lines_that_look_like_headers() -> None:
    old = {"q.sql": "-- old comment\nselect 1;\n"}
    new = {"q.sql": "++ new\nselect 1;\n"}
    patch = unified_diff(old, new)
    assert "\n--- old comment\n" in patch and "\n+++ new\n" in patch
    assert touched_paths(patch) == ("q.sql",)


def test_touched_paths_of_a_plain_diff_and_a_rename() -> None:
    plain = "--- pkg/a.py\t2024-01-01\n+++ pkg/a.py\t2024-01-02\n@@ -1 +1 @@\n-x\n+y\n"
    assert touched_paths(plain) == ("pkg/a.py",)
    rename = (
        "diff --git a/old name.py b/new name.py\nsimilarity index 100%\n"
        "rename from old name.py\nrename to new name.py\n"
    )
    assert set(touched_paths(rename)) == {"old name.py", "new name.py"}
    quoted = 'diff --git "a/caf\\303\\251.py" "b/caf\\303\\251.py"\n--- "a/caf\\303\\251.py"\n'
    assert "café.py" in touched_paths(quoted)
    assert touched_paths("") == ()


def test_near_miss_in_a_large_file_names_the_first_difference() -> None:
    source = "".join(f"def f{i}(x):\n    return x * {i} + helper(x, {i})\n\n" for i in range(3000))
    typo = "".join(f"def f{i}(x):\n    return x * {i} + helpr(x, {i})\n\n" for i in range(900, 920))
    with pytest.raises(FormatError) as err:
        apply_blocks({"big.py": source}, [EditBlock("big.py", typo, "")])
    message = err.value.message
    assert " 2701| def f900(x):" in message
    assert "First difference at line 2702: the file has '    return x * 900 + helper(x, 900)'" in (
        message
    )
