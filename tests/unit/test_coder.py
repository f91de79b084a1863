"""The Coder agent, driven by a scripted model: prompts, cumulative patches, format errors."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

import jinja2
import pytest
import yaml

from perfsmith.agents.coder import LLMCoder, select_files
from perfsmith.core import CoderContext, HotSpot, Interval, Profile, Task, Workload
from perfsmith.errors import ScriptExhaustedError
from perfsmith.models.scripted import ScriptedModel
from perfsmith.prompts import render

SLOW = (
    "def find(x, items):\n"
    "    for item in items:\n"
    "        if item == x:\n"
    "            return True\n"
    "    return False\n"
)
UTIL = "SCALE = 1\n"
TASK = Task(
    repo="/nonexistent/repo",
    workload=Workload(file="bench/workload.py"),
    tests=("tests/test_search.py",),
    protected=("tests/*",),
    name="search",
)
PROFILE = Profile(
    hotspots=(
        HotSpot("find", "src/pkg/search.py:1", 0.81, 0.93, 120_000, SLOW),
        HotSpot("<listcomp>", "bench/workload.py:7", 0.05, 0.05, 300),
    ),
    total_s=2.5,
)
EDIT = "<<<<<<< SEARCH\n{old}\n=======\n{new}\n>>>>>>> REPLACE\n"
FAST_ANSWER = (
    "The linear scan in find() dominates; `in` on the list does the loop in C.\n\n"
    "```python\n"
    "src/pkg/search.py\n"
    "<<<<<<< SEARCH\n"
    "    for item in items:\n"
    "        if item == x:\n"
    "            return True\n"
    "    return False\n"
    "=======\n"
    "    return x in items\n"
    ">>>>>>> REPLACE\n"
    "```\n"
)


def scripted(tmp_path: Path, *replies: str) -> ScriptedModel:
    script = tmp_path / "script.yaml"
    script.write_text(yaml.safe_dump({"coder": list(replies)}), encoding="utf-8")
    return ScriptedModel(script, "coder")


def context(
    files: Mapping[str, str] | None = None,
    base: Mapping[str, str] | None = None,
    **changes: object,
) -> CoderContext:
    current = (
        dict(files) if files is not None else {"src/pkg/search.py": SLOW, "src/pkg/util.py": UTIL}
    )
    fields: dict[str, object] = {
        "task": TASK,
        "files": current,
        "profile": PROFILE,
        "baseline_s": 0.00431,
        "best_speedup": None,
        "history": (),
        "feedback": "",
        "base_files": dict(base) if base is not None else dict(current),
    }
    fields.update(changes)
    return CoderContext(**fields)  # type: ignore[arg-type]


def git_apply(tmp_path: Path, files: Mapping[str, str], patch: str) -> dict[str, str]:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    for path, content in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(content, encoding="utf-8")
    done = subprocess.run(
        ["git", "apply", "-"], cwd=repo, input=patch, text=True, capture_output=True
    )
    assert done.returncode == 0, done.stderr
    return {
        p.relative_to(repo).as_posix(): p.read_text(encoding="utf-8")
        for p in repo.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(repo).parts
    }


def test_prompt_shows_task_numbers_profile_files_history_and_feedback(tmp_path: Path) -> None:
    model = scripted(tmp_path, FAST_ANSWER)
    ctx = context(
        best_speedup=Interval(1.42, 1.21, 1.66),
        history=("#1 test_failed: sorted the list first", "#2 not_significant 1.03x: local alias"),
        feedback="tests failed: tests/test_search.py::test_order, tests/test_search.py::test_dupes",
    )
    proposal = LLMCoder(model).propose(ctx)
    system, user = proposal.messages
    assert (system.role, user.role) == ("system", "user")
    assert model.received == [list(proposal.messages)]
    for marker in ("<<<<<<< SEARCH", "=======", ">>>>>>> REPLACE", "Never edit tests"):
        assert marker in system.content
    for expected in (
        "Target: latency",
        "bench/workload.py",
        "4.31 ms per workload call",
        "1.42x (95% interval 1.21x to 1.66x)",
        "81.0% own",
        "## find (src/pkg/search.py:1)",
        "        if item == x:",  # the hot spot's source and the file itself
        "## src/pkg/search.py",
        "## src/pkg/util.py",
        "#2 not_significant 1.03x: local alias",
        "tests/test_search.py::test_order",
        "tests/test_search.py::test_dupes",
        "Read-only paths (edits are rejected): tests/*",
        "do not edit tests or the workload",
    ):
        assert expected in user.content, expected
    # The hot file comes before the cold one.
    assert user.content.index("## src/pkg/search.py") < user.content.index("## src/pkg/util.py")


def test_first_attempt_prompt_says_so(tmp_path: Path) -> None:
    proposal = LLMCoder(scripted(tmp_path, FAST_ANSWER)).propose(context(profile=None))
    user = proposal.messages[1].content
    assert "This is the first attempt." in user
    assert "no candidate kept yet" in user
    assert "No profile is available." in user
    assert "Feedback on the last attempt" not in user


def test_proposal_patch_applies_to_the_base(tmp_path: Path) -> None:
    ctx = context()
    proposal = LLMCoder(scripted(tmp_path, FAST_ANSWER)).propose(ctx)
    assert proposal.error == ""
    assert proposal.rationale.startswith("The linear scan in find() dominates")
    assert proposal.reply.text == FAST_ANSWER
    after = git_apply(tmp_path, ctx.base_files, proposal.patch)
    assert after["src/pkg/search.py"] == "def find(x, items):\n    return x in items\n"
    assert after["src/pkg/util.py"] == UTIL


def test_patch_is_cumulative_over_earlier_kept_changes(tmp_path: Path) -> None:
    base = {"src/pkg/search.py": SLOW, "src/pkg/util.py": UTIL}
    kept = {
        "src/pkg/search.py": SLOW,
        "src/pkg/util.py": "SCALE = 2\n",  # changed by an earlier kept candidate
        "src/pkg/fast.py": "FAST = True\n",  # created by an earlier kept candidate
    }
    proposal = LLMCoder(scripted(tmp_path, FAST_ANSWER)).propose(context(kept, base))
    assert proposal.error == ""
    assert "+SCALE = 2" in proposal.patch
    assert "--- /dev/null\n+++ b/src/pkg/fast.py" in proposal.patch
    after = git_apply(tmp_path, base, proposal.patch)
    assert after == {
        "src/pkg/search.py": "def find(x, items):\n    return x in items\n",
        "src/pkg/util.py": "SCALE = 2\n",
        "src/pkg/fast.py": "FAST = True\n",
    }


def test_empty_base_files_means_the_current_files_are_the_base(tmp_path: Path) -> None:
    ctx = context(base_files={})
    proposal = LLMCoder(scripted(tmp_path, FAST_ANSWER)).propose(ctx)
    assert "src/pkg/util.py" not in proposal.patch
    assert "--- a/src/pkg/search.py" in proposal.patch


def test_answer_without_blocks_is_a_format_error_not_an_exception(tmp_path: Path) -> None:
    answer = "I would use a set:\n```python\nreturn x in set(items)\n```"
    proposal = LLMCoder(scripted(tmp_path, answer)).propose(context())
    assert proposal.patch == ""
    assert proposal.error.startswith("no SEARCH/REPLACE block found.")
    assert "<<<<<<< SEARCH" in proposal.error  # the format is explained
    assert proposal.reply.text == answer
    assert len(proposal.messages) == 2


def test_search_not_found_error_names_block_file_and_closest_lines(tmp_path: Path) -> None:
    answer = (
        "Idea.\nsrc/pkg/util.py\n<<<<<<< SEARCH\nSCALE = 1\n=======\nSCALE = 1\n>>>>>>> REPLACE\n"
        "src/pkg/search.py\n<<<<<<< SEARCH\n        if item = x:\n=======\n"
        "        if item is x:\n>>>>>>> REPLACE\n"
    )
    proposal = LLMCoder(scripted(tmp_path, answer)).propose(context())
    assert proposal.patch == ""
    assert "block 2 (src/pkg/search.py): the SEARCH text was not found" in proposal.error
    assert "    3|         if item == x:" in proposal.error


def test_unknown_file_error_lists_the_editable_files(tmp_path: Path) -> None:
    answer = "Idea.\nsrc/other.py\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n"
    proposal = LLMCoder(scripted(tmp_path, answer)).propose(context())
    assert "block 1 (src/other.py): no such file" in proposal.error
    assert "src/pkg/search.py, src/pkg/util.py" in proposal.error


def test_edits_that_change_nothing_are_an_error(tmp_path: Path) -> None:
    answer = (
        "Same.\nsrc/pkg/util.py\n<<<<<<< SEARCH\nSCALE = 1\n=======\nSCALE = 1\n>>>>>>> REPLACE\n"
    )
    proposal = LLMCoder(scripted(tmp_path, answer)).propose(context())
    assert proposal.patch == ""
    assert proposal.error.startswith("the edits change nothing")
    assert proposal.rationale == "Same."


def test_edits_that_revert_to_the_base_are_an_error(tmp_path: Path) -> None:
    base = {"src/pkg/util.py": UTIL}
    answer = (
        "Undo.\nsrc/pkg/util.py\n<<<<<<< SEARCH\nSCALE = 2\n=======\nSCALE = 1\n>>>>>>> REPLACE\n"
    )
    ctx = context({"src/pkg/util.py": "SCALE = 2\n"}, base)
    proposal = LLMCoder(scripted(tmp_path, answer)).propose(ctx)
    assert proposal.patch == ""
    assert "undo every earlier change" in proposal.error


def test_model_errors_are_raised_not_hidden(tmp_path: Path) -> None:
    with pytest.raises(ScriptExhaustedError):
        LLMCoder(scripted(tmp_path)).propose(context())


def test_files_beyond_the_budget_are_truncated_or_listed_by_name() -> None:
    files = {
        "src/a_cold.py": "A = 1\n" * 500,  # 3000 characters, not in the profile
        "src/pkg/search.py": SLOW + "# padding\n" * 400,  # hot, about 4100 characters
        "src/z_cold.py": "Z = 1\n",
    }
    view = select_files(files, PROFILE, TASK, max_chars=5_000)
    # Too little room is left to show a useful part of a_cold.py; the small file still fits.
    assert [f.path for f in view.shown] == ["src/pkg/search.py", "src/z_cold.py"]
    assert view.omitted == ("src/a_cold.py",)
    view = select_files(files, PROFILE, TASK, max_chars=7_000)
    assert [f.path for f in view.shown] == ["src/pkg/search.py", "src/a_cold.py"]
    assert view.shown[1].note.startswith("[src/a_cold.py is truncated here:")
    assert view.shown[1].content.endswith("A = 1")  # cut at a line boundary
    assert view.omitted == ("src/z_cold.py",)


def test_prompt_marks_truncated_and_omitted_files(tmp_path: Path) -> None:
    files = {"src/pkg/search.py": SLOW, "src/big.py": "B = 1\n" * 2000}
    model = scripted(tmp_path, FAST_ANSWER, FAST_ANSWER)
    user = LLMCoder(model, max_files_chars=2_500).propose(context(files)).messages[1].content
    assert "## src/pkg/search.py" in user
    assert "[src/big.py is truncated here: " in user
    user = LLMCoder(model, max_files_chars=1_000).propose(context(files)).messages[1].content
    assert "Not shown (too long for this message): src/big.py" in user


def test_hot_spots_match_absolute_locations_and_mark_protected_files() -> None:
    profile = Profile(
        hotspots=(HotSpot("find", "/tmp/sandbox-1/src/pkg/search.py:2", 0.9, 0.9, 1),),
        total_s=1.0,
    )
    files = {"a.py": "A\n", "src/pkg/search.py": SLOW, "tests/test_x.py": "T\n"}
    view = select_files(files, profile, TASK, max_chars=10_000)
    assert [f.path for f in view.shown] == ["src/pkg/search.py", "a.py", "tests/test_x.py"]
    assert [f.readonly for f in view.shown] == [False, False, True]


def test_file_fence_outgrows_backticks_in_the_file() -> None:
    files = {"README.md": "Example:\n```python\nx = 1\n```\n"}
    view = select_files(files, None, TASK, max_chars=1_000)
    assert view.shown[0].fence == "````"


def test_prompt_templates_are_strict_about_missing_variables() -> None:
    assert "<<<<<<< SEARCH" in render("coder/system.j2")
    with pytest.raises(jinja2.UndefinedError):
        render("coder/user.j2", target="latency")
    for name in ("coder/missing.j2", "../agents/coder.py", "coder"):
        with pytest.raises(jinja2.TemplateNotFound):
            render(name)
