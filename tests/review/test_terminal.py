"""The terminal view of ``perfsmith review``, on the real run and batch fixtures."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from perfsmith.cli import app
from perfsmith.errors import ConfigError
from perfsmith.loop.report import EXIT_TEXT
from perfsmith.review.runs import Batch, Run, RunNotFound, interval_text, load_folder
from perfsmith.review.terminal import show

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "trajectories"


def flat(text: str) -> str:
    """Rendered text without panel borders and with whitespace collapsed, so a value that
    rich wrapped across lines (or padded in a cell) still reads as one phrase."""
    return " ".join(text.replace("│", " ").split())


def render(entry: Run | Batch, step: int | None = None) -> str:
    console = Console(record=True, width=160, file=io.StringIO())
    show(entry, console, step=step)
    return flat(console.export_text())


def trajectory(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((FIXTURES / name / "trajectory.json").read_text())
    return doc


def run(name: str) -> Run:
    entry = load_folder(FIXTURES / name)
    assert isinstance(entry, Run)
    return entry


def first_added_line(patch: str) -> str:
    return next(
        line for line in patch.splitlines() if line.startswith("+") and not line.startswith("+++")
    )


@pytest.mark.parametrize("name", ["v1", "v2"])
def test_run_summary_shows_best_interval_threshold_and_baseline(name: str) -> None:
    doc = trajectory(name)
    info = doc["info"]
    best = info["best"]
    out = render(run(name))
    sp = best["speedup"]
    assert interval_text(sp, best["n"]) in out
    assert f"[{sp['low']:.2f}, {sp['high']:.2f}] n={best['n']}" in out
    assert f"threshold {best['threshold']:.2f}x" in out
    assert f"{info['baseline']['median_s'] * 1e3:.2f} ms median" in out
    assert f"A/A noise {info['baseline']['noise']:.1%}" in out
    assert f"${info['totals']['cost_usd']:.4f}" in out
    assert f"{info['totals']['tokens']:,} tokens" in out
    assert f"completed — {EXIT_TEXT['completed']}" in out
    fp = info["fingerprint"]
    assert f"{fp['cpu']} · {fp['cpus']} CPUs · {fp['python']} · sandbox {fp['sandbox']}" in out
    assert f"id {fp['id']}" in out
    assert doc["task"]["name"] in out and doc["task"]["workload"] in out
    assert info["coder_model"] in out


def test_upgrade_note_only_for_the_older_format() -> None:
    old = render(run("v1"))
    assert "upgraded from perfsmith.trajectory/1" in old
    assert "upgraded from" not in render(run("v2"))


@pytest.mark.parametrize("name", ["v1", "v2"])
def test_every_step_shows_status_judge_diff_and_verdict(name: str) -> None:
    entry = run(name)
    out = render(entry)
    for step in trajectory(name)["steps"]:
        assert f"step {step['index']} · {step['status']}" in out
        assert flat(step["verdict"]["bottleneck"]) in out
        assert flat(step["verdict"]["next_step"]) in out
        assert flat(step["rationale"].splitlines()[0]) in out
        assert flat(first_added_line(entry.patch(step))) in out
        if step["speedup"]:
            assert interval_text(step["speedup"]) in out
    first = trajectory(name)["steps"][0]
    assert f"{len(first['tests']['failed'])} failing" in out


@pytest.mark.parametrize("name", ["v1", "v2"])
def test_step_one_lists_its_failing_tests_with_their_messages(name: str) -> None:
    entry = run(name)
    failed = trajectory(name)["steps"][0]["tests"]["failed"]
    out = render(entry, step=1)
    assert f"Failing tests ({len(failed)})" in out
    messages = entry.failures(entry.step(1))
    for test_id in failed:
        assert f"✗ {test_id}" in out
        last = [line for line in messages[test_id].splitlines() if line.strip()][-1]
        assert flat(last) in out


def test_profile_top_lines_are_shown() -> None:
    profile = (FIXTURES / "v1" / "steps" / "002" / "profile.txt").read_text().splitlines()
    function = profile[0].split()[6]
    out = render(run("v1"), step=2)
    assert "Profile (top)" in out
    assert f"calls {function} (" in out


def test_token_split_from_usage_and_total_when_absent() -> None:
    steps = trajectory("v2")["steps"]
    usage = steps[0]["usage"]
    coder = usage["coder"]["prompt_tokens"] + usage["coder"]["completion_tokens"]
    judge = usage["judge"]["prompt_tokens"] + usage["judge"]["completion_tokens"]
    assert f"coder {coder:,} / judge {judge:,}" in render(run("v2"))
    v1_out = render(run("v1"))
    assert f"{trajectory('v1')['steps'][0]['tokens']:,}" in v1_out
    assert "coder " not in v1_out.split("step 1 ·")[0]


def test_step_option_shows_only_that_step() -> None:
    steps = trajectory("v1")["steps"]
    out = render(run("v1"), step=2)
    assert "step 2 · faster" in out
    assert "step 1 · test_failed" not in out and "step 3 · faster" not in out
    assert flat(steps[1]["verdict"]["bottleneck"]) in out
    assert flat(steps[0]["verdict"]["bottleneck"]) not in out
    assert "test_failed" in out  # the step table still lists every step


def test_missing_step_raises_run_not_found_before_printing() -> None:
    console = Console(record=True, width=160, file=io.StringIO())
    with pytest.raises(RunNotFound, match="no step 99"):
        show(run("v1"), console, step=99)
    assert console.export_text() == ""


def test_failed_run_shows_exit_status_and_format_error_reason() -> None:
    doc = trajectory("failed")
    out = render(run("failed"))
    assert f"format_errors — {EXIT_TEXT['format_errors']}" in out
    assert "no step beat the baseline" in out
    for step in doc["steps"]:
        assert step["status"] == "format_error"
        assert f"step {step['index']} · format_error" in out
    assert "No diff: the Coder's answer could not be applied" in out
    assert "Diff " not in out.replace("No diff:", "")
    for line in doc["steps"][0]["reason"].splitlines():
        assert flat(line) in out


def test_run_text_is_escaped_not_read_as_markup(tmp_path: Path) -> None:
    folder = tmp_path / "bracketed"
    shutil.copytree(FIXTURES / "v2", folder)
    doc = trajectory("v2")
    doc["task"]["name"] = "odd [/] name"
    doc["steps"][0]["rationale"] = "Replace list[Request] with set[Request] [bold]now[/bold]"
    doc["steps"][0]["verdict"]["bottleneck"] = "[red]dedupe[/red] is quadratic [/]"
    (folder / "trajectory.json").write_text(json.dumps(doc))
    out = render(run_at(folder))
    assert "odd [/] name" in out
    assert "list[Request] with set[Request] [bold]now[/bold]" in out
    assert "[red]dedupe[/red] is quadratic [/]" in out


def run_at(folder: Path) -> Run:
    entry = load_folder(folder)
    assert isinstance(entry, Run)
    return entry


def test_batch_summary_and_task_table() -> None:
    entry = load_folder(FIXTURES / "batch")
    assert isinstance(entry, Batch)
    report = json.loads((FIXTURES / "batch" / "report.json").read_text())
    summary = report["summary"]
    low, high = summary["hmean_sr_ci"]
    out = render(entry)
    assert f"Hmean SR {summary['hmean_sr']:.3f} [{low:.3f}, {high:.3f}]" in out
    assert f"Gmean SR {summary['gmean_sr']:.3f}" in out
    assert "minisuite (run)" in out
    for task in report["tasks"]:
        iid = task["instance_id"]
        sp = {"estimate": task["speedup"], "low": task["speedup_ci_low"]}
        sp["high"] = task["speedup_ci_high"]
        assert f"{iid} {task['status']} yes {interval_text(sp, task['n'])}" in out
        assert f"{task['sr']:.3f} {task['class'].replace('_', ' ')}" in out
        agent = FIXTURES / "batch" / "tasks" / iid / "agent"
        assert f"{iid}: perfsmith review " in out
        assert (
            out.split(f"{iid}: perfsmith review ")[1]
            .split()[0]
            .endswith(f"batch/tasks/{iid}/agent")
        )
        assert agent.is_dir()
    for cls, share in summary["proportions"].items():
        assert f"{cls.replace('_', ' ')} {share:.1%}" in out


def test_step_with_a_batch_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        render(load_folder(FIXTURES / "batch"), step=1)
    assert "batch" in caught.value.message
    assert "tasks/<instance_id>/agent --step 1" in caught.value.hint


cli = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = cli.invoke(app, ["review", *args, "--width", "160"])
    return result.exit_code, flat(result.output)


def test_cli_review_a_run() -> None:
    code, out = invoke(str(FIXTURES / "v1"))
    assert code == 0, out
    best = trajectory("v1")["info"]["best"]
    assert interval_text(best["speedup"], best["n"]) in out
    assert "step 1 · test_failed" in out and "step 3 · faster" in out


def test_cli_review_one_step() -> None:
    code, out = invoke(str(FIXTURES / "v2"), "--step", "2")
    assert code == 0, out
    assert "step 2 · faster" in out and "step 1 · test_failed" not in out


def test_cli_missing_step_exits_2_with_the_steps_it_has() -> None:
    code, out = invoke(str(FIXTURES / "v1"), "--step", "7")
    assert code == 2
    assert "error: run v1 has no step 7." in out
    assert "It has steps 1 to 3." in out
    assert "╭" not in out  # nothing of the run was printed before the error


def test_cli_non_run_folder_exits_2(tmp_path: Path) -> None:
    code, out = invoke(str(tmp_path))
    assert code == 2
    assert "is not a perfsmith run" in out
    assert "what to do:" in out


def test_cli_batch_review_and_step_refused() -> None:
    code, out = invoke(str(FIXTURES / "batch"))
    assert code == 0, out
    assert "minisuite__alpha" in out and "minisuite__beta" in out
    code, out = invoke(str(FIXTURES / "batch"), "--step", "1")
    assert code == 2
    assert "--step applies to one run" in out
