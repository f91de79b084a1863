"""The review loader: format upgrades, id validation, safe sidecars, discovery."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from perfsmith.errors import ConfigError
from perfsmith.measure.tests import failure_messages
from perfsmith.review.runs import (
    Batch,
    Run,
    RunNotFound,
    discover,
    interval_text,
    load_folder,
    normalize_step,
    open_entry,
    resolve_id,
)
from perfsmith.trajectory import CURRENT, FORMAT, format_version, load_trajectory, upgrade

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "trajectories"


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    """A runs folder laid out as perfsmith writes it: runs/<id>/ and runs/bench/<batch>/."""
    root = tmp_path / "runs"
    for name in ("v1", "v2", "failed"):
        shutil.copytree(FIXTURES / name, root / name)
    shutil.copytree(FIXTURES / "batch", root / "bench" / "minisuite-run")
    return root


def trajectory(name: str) -> dict[str, object]:
    return dict(json.loads((FIXTURES / name / "trajectory.json").read_text()))


# --- format versions -------------------------------------------------------------------


def test_every_format_version_has_a_fixture() -> None:
    versions = {format_version(trajectory(name)) for name in ("v1", "v2", "failed")}
    assert versions == set(range(1, CURRENT + 1))
    assert trajectory("v1")["format"] == "perfsmith.trajectory/1"
    assert trajectory("v2")["format"] == FORMAT


@pytest.mark.parametrize(
    ("fmt", "version"),
    [("perfsmith.trajectory/1", 1), ("perfsmith.trajectory/2", 2), ("perfsmith.trajectory/17", 17)],
)
def test_format_version_reads_the_number(fmt: str, version: int) -> None:
    assert format_version({"format": fmt}) == version


@pytest.mark.parametrize(
    "fmt", [None, "", "perfsmith.trajectory/", "perfsmith.trajectory/0", "perfsmith.run/1",
            "perfsmith.trajectory/x", "perfsmith.trajectory/-1", 2]
)  # fmt: skip
def test_format_version_refuses_what_is_not_a_trajectory(fmt: object) -> None:
    with pytest.raises(ValueError, match="unknown trajectory format"):
        format_version({"format": fmt})


def test_upgrading_format_1_adds_an_unknown_usage_split_and_keeps_everything_else() -> None:
    old = trajectory("v1")
    new = upgrade(old)
    assert new["format"] == FORMAT
    assert new["task"] == old["task"] and new["info"] == old["info"]
    old_steps, new_steps = old["steps"], new["steps"]
    assert isinstance(old_steps, list) and len(new_steps) == len(old_steps) == 3
    for before, after in zip(old_steps, new_steps, strict=True):
        assert after["usage"] == {"coder": None, "judge": None}
        assert after["started"] is None
        assert {k: v for k, v in after.items() if k not in ("usage", "started")} == before
    assert "usage" not in old_steps[0]  # the input is not changed in place


def test_the_current_format_is_left_as_is() -> None:
    doc = trajectory("v2")
    assert upgrade(doc) == doc


def test_a_newer_format_asks_for_a_newer_perfsmith() -> None:
    with pytest.raises(ValueError, match="newer than this perfsmith reads"):
        upgrade({"format": f"perfsmith.trajectory/{CURRENT + 1}", "steps": []})


def test_load_trajectory_names_the_file_when_it_is_not_json(tmp_path: Path) -> None:
    (tmp_path / "trajectory.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"trajectory\.json is not valid JSON"):
        load_trajectory(tmp_path)
    (tmp_path / "trajectory.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="not a JSON object"):
        load_trajectory(tmp_path)


def test_new_runs_record_each_agents_usage_and_the_step_start() -> None:
    steps = trajectory("v2")["steps"]
    assert isinstance(steps, list)
    judged = steps[1]
    assert judged["usage"]["coder"]["prompt_tokens"] > 0
    assert judged["usage"]["judge"]["completion_tokens"] > 0
    coder, judge = judged["usage"]["coder"], judged["usage"]["judge"]
    total = sum(u["prompt_tokens"] + u["completion_tokens"] for u in (coder, judge))
    assert total == judged["tokens"]
    assert judged["cost_usd"] == pytest.approx(coder["cost_usd"] + judge["cost_usd"])
    assert str(judged["started"]).endswith("Z")
    failed = trajectory("failed")["steps"]
    assert isinstance(failed, list)
    assert failed[0]["usage"]["judge"] is None and failed[0]["usage"]["coder"]["model"]


# --- steps and text ----------------------------------------------------------------------


def test_normalize_step_fills_every_key_a_viewer_reads() -> None:
    step = normalize_step({"status": "format_error", "reason": "bad"}, 4)
    assert step["index"] == 4 and step["kept"] is False and step["speedup"] is None
    assert step["verdict"] == dict.fromkeys(
        ("decision", "bottleneck", "next_step", "suspicion", "overruled"), ""
    )
    assert step["usage"] == {"coder": None, "judge": None}
    assert step["artifacts"] == {} and step["metrics"] == [] and step["flags"] == []


def test_normalize_step_keeps_what_the_run_recorded() -> None:
    raw = {"index": 9, "verdict": {"decision": "keep", "extra": "x"}, "usage": {"coder": {"a": 1}}}
    step = normalize_step(raw, 1)
    assert step["index"] == 9 and step["verdict"]["decision"] == "keep"
    assert "extra" not in step["verdict"]
    assert step["usage"] == {"coder": {"a": 1}, "judge": None}


@pytest.mark.parametrize(
    ("sp", "n", "text"),
    [
        (
            {"estimate": 3.6276, "low": 2.0313, "high": 4.2836, "n": 6},
            None,
            "3.63x [2.03, 4.28] n=6",
        ),
        ({"estimate": 1.5, "low": 1.2, "high": 1.9}, 4, "1.50x [1.20, 1.90] n=4"),
        ({"estimate": 1.5}, None, "1.50x"),
        ({"estimate": 0.5, "low": 0.4, "high": 0.6, "n": True}, None, "0.50x [0.40, 0.60]"),
        (None, 3, "-"),
        ({}, None, "-"),
        ({"estimate": "fast"}, None, "-"),
    ],
)
def test_interval_text(sp: dict[str, object] | None, n: object, text: str) -> None:
    assert interval_text(sp, n) == text


def test_failure_messages_reads_the_long_report_of_each_failed_test() -> None:
    texts = failure_messages(FIXTURES / "v1" / "steps" / "001" / "tests.xml")
    assert set(texts) == {
        "tests/test_aggregate.py::test_dedupe_drops_repeats",
        "tests/test_aggregate.py::test_dedupe_keeps_first_seen_order_of_out_of_order_logs",
        "tests/test_summary.py::test_summarize_reads_its_input_once",
    }
    assert "AssertionError" in texts["tests/test_summary.py::test_summarize_reads_its_input_once"]
    short = failure_messages(FIXTURES / "v1" / "steps" / "001" / "tests.xml", chars=40)
    assert all(len(t) <= 40 for t in short.values())


def test_failure_messages_falls_back_to_the_message_attribute(tmp_path: Path) -> None:
    xml = tmp_path / "t.xml"
    xml.write_text(
        '<testsuites><testsuite><testcase classname="t" name="a"><error message="boom"/>'
        '</testcase><testcase classname="t" name="b"/></testsuite></testsuites>'
    )
    assert failure_messages(xml) == {"t::a": "boom"}


# --- runs ----------------------------------------------------------------------------------


def test_an_older_run_opens_upgraded_with_its_failures_patch_and_profile(runs: Path) -> None:
    run = open_entry(runs, "v1")
    assert isinstance(run, Run) and run.upgraded and run.source_format.endswith("/1")
    assert run.exit_status == "completed" and not run.failed
    assert run.best is not None and run.best["step"] == 3
    assert [s["status"] for s in run.steps] == ["test_failed", "faster", "faster"]
    failures = run.failures(run.step(1))
    assert len(failures) == 3 and all("AssertionError" in t for t in failures.values())
    assert run.patch(run.step(2)).startswith("diff --git a/logstats/aggregate.py")
    assert any("parse_line" in line for line in run.profile_lines(run.step(2)))
    assert len(run.profile_lines(None, limit=3)) == 3  # the baseline's


def test_the_current_format_is_not_marked_upgraded(runs: Path) -> None:
    run = open_entry(runs, "v2")
    assert isinstance(run, Run) and not run.upgraded
    assert run.title == "logstats" and run.model.startswith("scripted:")


def test_a_failed_run_says_so(runs: Path) -> None:
    run = open_entry(runs, "failed")
    assert isinstance(run, Run) and run.failed and run.exit_status == "format_errors"
    assert run.best is None
    assert all("SEARCH text was not found" in s["reason"] for s in run.steps)
    assert run.patch(run.steps[0]) == ""  # no patch was made


def test_a_missing_step_is_not_found_with_the_range(runs: Path) -> None:
    run = open_entry(runs, "v2")
    assert isinstance(run, Run)
    with pytest.raises(RunNotFound, match="no step 9") as info:
        run.step(9)
    assert "1 to 3" in info.value.hint


def test_sidecars_outside_the_run_folder_are_never_read(runs: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not show")
    run = open_entry(runs, "v2")
    assert isinstance(run, Run)
    step = dict(run.step(2))
    for rel in ("../../secret.txt", str(secret), "steps/../../../secret.txt"):
        step["artifacts"] = {"patch.diff": rel}
        assert run.patch(step) == ""
    (run.path / "steps" / "002" / "escape.diff").symlink_to(secret)
    step["artifacts"] = {"patch.diff": "steps/002/escape.diff"}
    assert run.patch(step) == ""


def test_missing_sidecars_give_empty_views(runs: Path) -> None:
    shutil.rmtree(runs / "v2" / "steps")
    run = open_entry(runs, "v2")
    assert isinstance(run, Run)
    step = run.step(1)
    assert run.patch(step) == "" and run.profile_lines(step) == []
    assert set(run.failures(step).values()) == {"no message recorded"}


# --- batches -------------------------------------------------------------------------------


def test_a_batch_opens_with_its_summary_and_links_to_agent_runs(runs: Path) -> None:
    batch = open_entry(runs, "bench/minisuite-run")
    assert isinstance(batch, Batch) and batch.title == "minisuite (run)"
    assert [t["instance_id"] for t in batch.results] == ["minisuite__alpha", "minisuite__beta"]
    assert all(t["sr"] is not None and t["class"] for t in batch.results)
    assert batch.summary["tasks_scored"] == 2 and batch.exit_status == "completed"
    agent = batch.task_run_id("minisuite__alpha")
    assert agent == "bench/minisuite-run/tasks/minisuite__alpha/agent"
    run = open_entry(runs, agent)
    assert isinstance(run, Run) and run.steps
    assert batch.task_run_id("nope") is None and batch.task_run_id("../x") is None


def test_a_batch_with_fewer_results_than_tasks_is_partial(runs: Path) -> None:
    folder = runs / "bench" / "minisuite-run"
    first = (folder / "results.jsonl").read_text().splitlines()[0]
    (folder / "results.jsonl").write_text(first + "\n")
    batch = open_entry(runs, "bench/minisuite-run")
    assert isinstance(batch, Batch) and batch.exit_status == "partial"


# --- ids -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "run_id",
    ["../v1", "v1/..", "/etc/passwd", "..", ".", "", "v1/../../etc", "..%2fv1", "v1\\..",
     "v1\x00", "v1/steps", "bench", "bench/minisuite-run/tasks", ".hidden", "nope",
     "v1//steps/../", "~/v1", "/v1", "/v1/", "bench//minisuite-run"],
)  # fmt: skip
def test_ids_that_leave_the_folder_or_are_not_runs_are_not_found(runs: Path, run_id: str) -> None:
    (runs / ".hidden").mkdir()
    (runs / ".hidden" / "trajectory.json").write_text(json.dumps(trajectory("v2")))
    with pytest.raises(RunNotFound, match="no run"):
        resolve_id(runs, run_id)


def test_a_symlink_leading_out_of_the_runs_folder_is_not_found(runs: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    shutil.copytree(FIXTURES / "v2", outside)
    os.symlink(outside, runs / "linked")
    with pytest.raises(RunNotFound):
        open_entry(runs, "linked")
    assert "linked" not in {row.id for row in discover(runs)}


def test_ids_of_real_runs_resolve(runs: Path) -> None:
    assert resolve_id(runs, "v2") == (runs / "v2").resolve()
    assert resolve_id(runs, "v2/") == (runs / "v2").resolve()  # a trailing slash is harmless


def test_load_folder_refuses_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a perfsmith run") as info:
        load_folder(tmp_path)
    assert "runs/" in info.value.hint
    with pytest.raises(ConfigError):
        load_folder(tmp_path / "missing")


# --- discovery -----------------------------------------------------------------------------


def test_discover_lists_runs_and_batches_newest_first_not_the_runs_inside_batches(
    runs: Path,
) -> None:
    rows = discover(runs)
    assert {r.id for r in rows} == {"v1", "v2", "failed", "bench/minisuite-run"}
    started = [r.started for r in rows]
    assert started == sorted(started, reverse=True)
    by_id = {r.id: r for r in rows}
    assert by_id["bench/minisuite-run"].kind == "batch"
    assert by_id["bench/minisuite-run"].headline.startswith("hmean SR ")
    assert by_id["failed"].status == "format_errors" and by_id["failed"].headline == "-"
    assert by_id["v2"].headline == interval_text(
        load_trajectory(runs / "v2")["info"]["best"]["speedup"],
        load_trajectory(runs / "v2")["info"]["best"]["n"],
    )
    assert by_id["v2"].steps == 3 and by_id["v2"].cost_usd > 0


def test_a_damaged_run_gets_an_unreadable_row_and_hides_nothing(runs: Path) -> None:
    (runs / "v1" / "trajectory.json").write_text("{")
    rows = {r.id: r for r in discover(runs)}
    assert rows["v1"].status == "unreadable" and "trajectory" in rows["v1"].error
    assert rows["v2"].status == "completed"


def test_discover_of_a_missing_folder_is_empty(tmp_path: Path) -> None:
    assert discover(tmp_path / "nothing") == []
