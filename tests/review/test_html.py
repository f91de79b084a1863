"""The single-file HTML report: fixture values, self-containment, escaping, the CLI."""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from perfsmith.cli import app
from perfsmith.loop.report import EXIT_TEXT
from perfsmith.review.html import render_report
from perfsmith.review.runs import Run, interval_text, load_folder

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "trajectories"
HOSTILE = "<img src=x onerror=alert(1)>"
URL_ATTRS = frozenset(
    {
        "src", "href", "action", "srcset", "poster", "data", "xlink:href", "formaction",
        "background", "cite", "longdesc", "manifest", "ping", "codebase", "archive", "usemap",
        "icon", "lowsrc", "dynsrc", "imagesrcset",
    }
)  # fmt: skip
FORBIDDEN_TAGS = frozenset({"link", "iframe", "object", "embed", "frame", "frameset", "base"})


class Page(HTMLParser):
    """A parsed report: every start tag with its attributes, the text, the CSS."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.stack: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.css: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        entry = (tag, {k: v or "" for k, v in attrs})
        self.tags.append(entry)
        self.stack.append(entry)

    def handle_endtag(self, tag: str) -> None:
        while self.stack and self.stack.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1][0] == "style":
            self.css.append(data)
        self.text.append(data)

    def find(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        """Tags named ``tag`` whose attributes hold every given value (class: one word of it)."""
        found = []
        for name, have in self.tags:
            if name != tag:
                continue
            ok = all(
                v in have.get("class", "").split() if k == "class_" else have.get(k) == v
                for k, v in attrs.items()
            )
            if ok:
                found.append(have)
        return found

    @property
    def content(self) -> str:
        return re.sub(r"\s+", " ", " ".join(self.text))


def assert_offline(html: str, *, strict: bool = True) -> Page:
    """No reference to anything outside the file; with ``strict``, no URL text at all."""
    page = Page(html)
    for tag, attrs in page.tags:
        assert tag not in FORBIDDEN_TAGS, f"<{tag}> in the report"
        assert not (tag == "script" and "src" in attrs), "external script"
        assert not (tag == "meta" and "http-equiv" in attrs), "meta http-equiv"
        for name, value in attrs.items():
            assert not name.startswith("on"), f"event handler {name} on <{tag}>"
            if name in URL_ATTRS:
                assert value.startswith("#"), f"<{tag} {name}={value!r}>"
            assert not value.strip().startswith("//"), f"<{tag} {name}={value!r}>"
            assert "url(" not in value.lower(), f"<{tag} {name}={value!r}>"
    css = "".join(page.css).lower()
    assert "url(" not in css and "@import" not in css
    if strict:
        assert "http://" not in html and "https://" not in html
    return page


def report(name: str) -> str:
    return render_report(load_folder(FIXTURES / name))


def raw(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name / "trajectory.json").read_text())
    return data


@pytest.mark.parametrize(
    "bad",
    [
        '<link rel="stylesheet" href="x.css">',
        '<script src="https://cdn.example/x.js"></script>',
        '<img src="//cdn.example/x.png">',
        '<a href="https://example.org/">x</a>',
        '<svg><image xlink:href="data:image/png;base64,AAAA"/></svg>',
        '<div style="background: url(https://example.org/x.png)"></div>',
        "<style>body { background: url(x.png) }</style>",
        '<form action="mailto:x@example.org"></form>',
        '<img src="x" onerror="alert(1)">',
        "<iframe></iframe>",
    ],
)
def test_the_offline_check_catches_external_references(bad: str) -> None:
    with pytest.raises(AssertionError):
        assert_offline(f"<html><body>{bad}</body></html>", strict=False)


@pytest.mark.parametrize("name", ["v1", "v2", "failed", "batch"])
def test_reports_are_self_contained(name: str) -> None:
    html = report(name)
    page = assert_offline(html)
    assert html.startswith("<!DOCTYPE html>")
    assert not page.find("script"), "the report needs no script"
    assert len(page.find("style")) == 1


@pytest.mark.parametrize("name", ["v1", "v2"])
def test_run_report_shows_the_fixture(name: str) -> None:
    doc = raw(name)
    info, steps = doc["info"], doc["steps"]
    run = load_folder(FIXTURES / name)
    assert isinstance(run, Run)
    page = Page(report(name))
    text = page.content

    best = info["best"]
    assert interval_text(best["speedup"], best["n"]) in text
    assert f"exceeds {best['threshold']:.2f}x" in text
    assert EXIT_TEXT[info["exit_status"]] in text
    assert f"{info['baseline']['median_s'] * 1e3:.2f} ms" in text
    assert f"A/A noise {info['baseline']['noise']:.1%}" in text
    assert f"${info['totals']['cost_usd']:.4f}" in text
    assert f"{info['totals']['tokens']:,} tokens" in text
    assert f"{info['totals']['iterations']} proposals" in text
    assert info["fingerprint"]["id"] in text
    assert info["coder_model"] in text

    html = report(name)
    for step in steps:
        index, status = step["index"], step["status"]
        span = f'<span class="status {"good" if status == "faster" else "bad"}">{status}</span>'
        row = rf'<a href="#step-{index}">{index}</a></td>\s*<td>{span}'
        assert re.search(row, html), f"step {index} in the step table"
        section = rf'<section class="step" id="step-{index}">\s*<h3>Step {index} · {span}'
        assert re.search(section, html), f"section of step {index}"
        assert step["verdict"]["bottleneck"] in text
        if step.get("speedup"):
            assert interval_text(step["speedup"]) in text
        for metric in step.get("metrics") or []:
            assert interval_text(metric["speedup"], metric["n"]) in text
        if "usage" in step:
            coder = step["usage"]["coder"]
            assert f"coder {coder['prompt_tokens'] + coder['completion_tokens']:,}" in text

    first = steps[0]
    assert first["status"] == "test_failed" and first["tests"]["failed"]
    for test_id in first["tests"]["failed"]:
        assert test_id in text
    assert f"{len(first['tests']['failed'])} failing" in text
    xml = ET.parse(FIXTURES / name / first["artifacts"]["tests.xml"]).getroot()
    body = next(f.text for f in xml.iter("failure") if f.text)
    assert body.strip().splitlines()[-1].strip() in text

    kept = [s for s in steps if s["kept"]]
    assert kept
    for step in kept:
        patch = (FIXTURES / name / step["artifacts"]["patch.diff"]).read_text()
        added = [line for line in patch.splitlines() if line.startswith("+") and line[1:].strip()]
        assert added and all(line in "".join(page.text) for line in added)
    diffs = [
        attrs for tag, attrs in page.tags if tag == "details" and "diff" in attrs.get("class", "")
    ]
    assert [("open" in d) for d in diffs] == [s["kept"] for s in steps]

    points = page.find("g", class_="point")
    assert [p["data-step"] for p in points] == [str(s["index"]) for s in steps]
    timed = [p for p in points if "data-estimate" in p]
    assert len(timed) == sum(1 for s in steps if s.get("speedup"))
    assert run.profile_lines(steps[-1])[0] in "".join(page.text)

    notes = page.find("p", class_="upgrade-note")
    assert bool(notes) == (name == "v1")
    if notes:
        assert "perfsmith.trajectory/1" in text


def test_failed_run_report_says_why_it_stopped() -> None:
    doc = raw("failed")
    page = Page(report("failed"))
    text = page.content
    assert doc["info"]["exit_status"] == "format_errors"
    assert "format_errors" in text and EXIT_TEXT["format_errors"] in text
    assert "no step beat the baseline" in text
    exit_status = page.find("span", class_="status")[0]
    assert "bad" in exit_status["class"].split()
    for step in doc["steps"]:
        assert step["status"] == "format_error"
        for line in step["reason"].splitlines():
            assert line.strip() in "".join(page.text)
    assert text.count("No diff: the Coder's answer could not be applied") == len(doc["steps"])
    assert not page.find("pre", class_="diff")
    points = page.find("g", class_="point")
    assert len(points) == len(doc["steps"])
    assert all("failed" in p["class"].split() and "data-estimate" not in p for p in points)


def test_batch_report_shows_summary_tasks_and_agent_runs() -> None:
    summary = json.loads((FIXTURES / "batch" / "report.json").read_text())["summary"]
    results = [
        json.loads(line)
        for line in (FIXTURES / "batch" / "results.jsonl").read_text().splitlines()
        if line.strip()
    ]
    page = Page(report("batch"))
    text = page.content

    low, high = summary["hmean_sr_ci"]
    assert f"{summary['hmean_sr']:.3f} [{low:.3f}, {high:.3f}]" in text
    assert f"Geometric mean SR {summary['gmean_sr']:.3f}" in text
    assert summary["scope"] in text
    for key in summary["fast_p"]:
        assert page.find("table", class_="fast-p") and key in text
    for key in summary["proportions"]:
        assert key.replace("_", " ") in text
    assert f"Correct {summary['correct_rate']:.1%}" in text

    bars = page.find("g", class_="bar")
    assert sum(int(b["data-count"]) for b in bars) == len(results)

    agent_steps = 0
    for r in results:
        iid = r["instance_id"]
        assert iid in text
        sp = {"estimate": r["speedup"], "low": r["speedup_ci_low"], "high": r["speedup_ci_high"]}
        assert interval_text(sp, r["n"]) in text
        expert = {
            "estimate": r["expert_speedup"],
            "low": r["expert_ci_low"],
            "high": r["expert_ci_high"],
        }
        assert interval_text(expert, r["expert_n"]) in text
        assert page.find("section", id=f"task-{iid}")
        assert page.find("a", href=f"#task-{iid}")
        agent = load_folder(FIXTURES / "batch" / "tasks" / iid / "agent")
        assert isinstance(agent, Run)
        agent_steps += len(agent.steps)
        assert agent.best and interval_text(agent.best["speedup"], agent.best["n"]) in text
        assert f"batch/tasks/{iid}/agent" in text

    assert len(page.find("table", class_="steps")) == len(results)
    assert len(page.find("g", class_="point")) == agent_steps
    assert not page.find("pre", class_="diff"), "the batch report carries no per-step diffs"
    assert not [a for _, a in page.tags if a.get("id", "").startswith("step-")]


def _hostile_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "hostile"
    shutil.copytree(FIXTURES / "v2", folder)
    doc = json.loads((folder / "trajectory.json").read_text())
    doc["task"]["name"] = "</title><script>alert(1)</script>"
    first = doc["steps"][0]
    first["rationale"] = (
        '<script src="https://evil.example/x.js"></script> see [x](https://evil.example) ' + HOSTILE
    )
    first["tests"]["failed"].append(f"tests/test_x.py::test_{HOSTILE}")
    first["verdict"]["bottleneck"] = f'"><svg onload=alert(1)> {HOSTILE}'
    doc["steps"][1]["metrics"][0]["note"] = HOSTILE
    (folder / "trajectory.json").write_text(json.dumps(doc))
    xml = folder / first["artifacts"]["tests.xml"]
    hostile_xml = HOSTILE.replace("<", "&lt;").replace(">", "&gt;")
    xml.write_text(xml.read_text().replace("</failure>", f"{hostile_xml}</failure>", 1))
    patch = folder / doc["steps"][1]["artifacts"]["patch.diff"]
    patch.write_text(patch.read_text() + f"+{HOSTILE}\n")
    return folder


def test_hostile_run_text_is_escaped(tmp_path: Path) -> None:
    html = render_report(load_folder(_hostile_copy(tmp_path)))
    page = assert_offline(html, strict=False)
    assert not page.find("script") and not page.find("img")
    assert "&lt;script src=&#34;https://evil.example/x.js&#34;&gt;&lt;/script&gt;" in html
    text = "".join(page.text)
    assert '<script src="https://evil.example/x.js"></script>' in text
    assert "[x](https://evil.example)" in text
    assert text.count(HOSTILE) >= 6  # rationale, test id, failure text, bottleneck, note, diff
    assert f"tests/test_x.py::test_{HOSTILE}" in text
    assert "</title><script>alert(1)</script>" in text
    assert not any(a.get("href", "").startswith("https") for _, a in page.tags)


runner = CliRunner()


def test_cli_writes_the_report(tmp_path: Path) -> None:
    out = tmp_path / "out" / "report.html"
    result = runner.invoke(app, ["report", str(FIXTURES / "v2"), "--html", str(out)])
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.output
    assert out.read_text(encoding="utf-8") == report("v2")
    assert [p.name for p in out.parent.iterdir()] == ["report.html"]

    out.write_text("an older report")
    result = runner.invoke(app, ["report", str(FIXTURES / "batch"), "--html", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8") == report("batch")


def test_cli_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "report.html"
    out.write_text("the previous report")

    def broken_fsync(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("os.fsync", broken_fsync)
    result = runner.invoke(app, ["report", str(FIXTURES / "v2"), "--html", str(out)])
    assert result.exit_code != 0
    assert out.read_text() == "the previous report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_cli_refuses_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    out = tmp_path / "report.html"
    result = runner.invoke(app, ["report", str(tmp_path / "notes"), "--html", str(out)])
    assert result.exit_code == 2
    assert "is not a perfsmith run" in result.output
    assert "trajectory.json" in result.output
    assert not out.exists()


def test_cli_refuses_an_output_folder(tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", str(FIXTURES / "v2"), "--html", str(tmp_path)])
    assert result.exit_code == 2
    assert "is a folder" in result.output
    assert list(tmp_path.iterdir()) == []


def test_v2_report_stays_small() -> None:
    assert len(report("v2").encode("utf-8")) < 1_000_000


def test_a_bare_run_renders(tmp_path: Path) -> None:
    """A run that has barely started (no info, sparse steps) still gets a report."""
    folder = tmp_path / "bare"
    folder.mkdir()
    steps = [
        {"status": "error", "speedup": {"estimate": 1.2}},
        {"index": 2, "metrics": [{"name": "latency", "available": False}], "tests": {"ok": False}},
    ]
    doc = {"format": "perfsmith.trajectory/2", "task": {}, "info": {}, "steps": steps}
    (folder / "trajectory.json").write_text(json.dumps(doc))
    page = assert_offline(render_report(load_folder(folder)))
    text = page.content
    assert "running" in text and "still running" in text
    assert "no step beat the baseline" in text
    assert "1.20x" in text and "not available" in text
    assert len(page.find("g", class_="point")) == 2
    assert len(page.find("section", class_="step")) == 2


def test_an_unreadable_agent_run_shows_its_error(tmp_path: Path) -> None:
    folder = tmp_path / "batch"
    shutil.copytree(FIXTURES / "batch", folder)
    (folder / "tasks" / "minisuite__beta" / "agent" / "trajectory.json").write_text("garbage")
    page = Page(render_report(load_folder(folder)))
    section = page.find("section", id="task-minisuite__beta")
    assert section
    assert "cannot read the trajectory" in page.content
    assert len(page.find("table", class_="steps")) == 1
