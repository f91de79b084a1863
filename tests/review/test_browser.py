"""The web app in a real browser (Chromium driven by Playwright), fully offline: every request
to anything but the app itself is aborted and recorded, and there must be none."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Playwright,
    Route,
    expect,
    sync_playwright,
)
from playwright.sync_api import Request as BrowserRequest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip(
        "no Chromium to drive: install it with `sudo apt-get install chromium` "
        "(or run `sh scripts/system_deps.sh` as root)",
        allow_module_level=True,
    )

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "trajectories"
ARTIFACTS = Path(os.environ.get("PERFSMITH_ARTIFACTS", REPO / "test-artifacts")) / "browser"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MIN_SCREENSHOT_BYTES = 5 * 1024
BATCH = "bench/minisuite-run"


@dataclass
class Guarded:
    """A page whose requests leaving the allowed places are aborted and kept here."""

    page: Page
    blocked: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
    yield browser
    browser.close()


@contextmanager
def guarded_page(browser: Browser, allowed: set[str]) -> Iterator[Guarded]:
    """A fresh page that may load only from ``allowed`` (``http:127.0.0.1``, ``file``…)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    guard = Guarded(page)

    def route(route: Route, request: BrowserRequest) -> None:
        parts = urlsplit(request.url)
        where = f"{parts.scheme}:{parts.hostname}" if parts.hostname else parts.scheme
        if where in allowed:
            route.continue_()
        else:
            guard.blocked.append(request.url)
            route.abort()

    def console(message: ConsoleMessage) -> None:
        # A Content-Security-Policy violation or a failed load is reported here.
        if message.type == "error":
            guard.console_errors.append(message.text)

    context.route("**/*", route)
    page.on("console", console)
    page.on("pageerror", lambda exc: guard.console_errors.append(str(exc)))
    try:
        yield guard
    finally:
        context.close()


@pytest.fixture
def app_page(browser: Browser) -> Iterator[Guarded]:
    with guarded_page(browser, {"http:127.0.0.1", "data"}) as guard:
        yield guard


def shoot(page: Page, name: str) -> Path:
    """A full-page screenshot kept as a test artifact; it must hold a rendered page."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.is_file()
    assert path.stat().st_size > MIN_SCREENSHOT_BYTES, path
    return path


def first_added_line(patch: Path) -> str:
    return next(
        line[1:].strip()
        for line in patch.read_text().splitlines()
        if line.startswith("+") and not line.startswith("+++") and line[1:].strip()
    )


def test_browse_runs_steps_comparison_and_batch(web_server: str, app_page: Guarded) -> None:
    page = app_page.page
    page.goto(f"{web_server}/")
    rows = page.locator("table.runs tbody tr")
    expect(rows).to_have_count(4)
    shoot(page, "01-run-list")

    # The filter form, submitted by the browser.
    page.select_option('select[name="status"]', "format_errors")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(f"{web_server}/?status=format_errors&model=&kind=")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-run", "failed")
    page.get_by_role("link", name="clear").click()
    expect(rows).to_have_count(4)

    page.get_by_role("link", name="v2", exact=True).click()
    expect(page).to_have_url(f"{web_server}/runs/v2")
    chart = page.locator("svg.speedup-chart")
    expect(chart).to_be_visible()
    expect(chart.locator("g.point")).to_have_count(3)
    expect(chart.locator("g.point.kept")).to_have_count(2)
    shoot(page, "02-run")

    page.get_by_role("link", name="step 2", exact=True).click()
    expect(page).to_have_url(f"{web_server}/runs/v2/steps/2")
    diff = page.locator("pre.diff")
    expect(diff).to_be_visible()
    expect(diff).to_contain_text(first_added_line(FIXTURES / "v2/steps/002/patch.diff"))
    shoot(page, "03-step")

    page.go_back()
    page.go_back()
    expect(page).to_have_url(f"{web_server}/")
    page.check('input[name="a"][value="v1"]')
    page.check('input[name="b"][value="v2"]')
    page.get_by_role("button", name="Compare A and B").click()
    page.wait_for_url(f"{web_server}/compare?*")
    assert parse_qs(urlsplit(page.url).query) == {"a": ["v1"], "b": ["v2"]}
    for run_id in ("v1", "v2"):
        column = page.locator(f'.summaries section.column[data-run="{run_id}"]')
        expect(column).to_be_visible()
        expect(column.locator("svg.speedup-chart")).to_be_visible()
        expect(page.locator(f'.diffs section.column[data-run="{run_id}"] pre.diff')).to_be_visible()
    expect(page.locator("table.compare-steps tbody tr")).to_have_count(3)
    shoot(page, "04-compare")

    page.get_by_role("link", name="perfsmith", exact=True).click()
    page.get_by_role("link", name=BATCH, exact=True).click()
    expect(page).to_have_url(f"{web_server}/runs/{BATCH}")
    sr = page.locator("svg.sr-chart")
    expect(sr).to_be_visible()
    expect(sr.locator('g.bar[data-count="2"]')).to_have_count(1)
    expect(page.locator("table.tasks tbody tr")).to_have_count(2)
    shoot(page, "05-batch")

    page.locator('tr[data-task="minisuite__alpha"]').get_by_role("link", name="agent run").click()
    expect(page).to_have_url(f"{web_server}/runs/{BATCH}/tasks/minisuite__alpha/agent")
    expect(page.locator("svg.speedup-chart")).to_be_visible()

    assert app_page.blocked == []
    assert app_page.console_errors == []


def test_the_guard_catches_requests_leaving_the_machine(browser: Browser, tmp_path: Path) -> None:
    page_file = tmp_path / "leaky.html"
    page_file.write_text('<p>x</p><img src="http://example.invalid/pixel.png">', encoding="utf-8")
    with guarded_page(browser, {"file", "data"}) as guard:
        guard.page.goto(page_file.as_uri())
        guard.page.wait_for_load_state("load")
        assert guard.blocked == ["http://example.invalid/pixel.png"]


def test_report_file_renders_offline(browser: Browser, tmp_path: Path) -> None:
    from perfsmith.review.html import render_report
    from perfsmith.review.runs import load_folder

    run_report, batch_report = tmp_path / "run.html", tmp_path / "batch.html"
    run_report.write_text(render_report(load_folder(FIXTURES / "v2")), encoding="utf-8")
    batch_report.write_text(render_report(load_folder(FIXTURES / "batch")), encoding="utf-8")
    with guarded_page(browser, {"file", "data"}) as guard:
        page = guard.page
        page.goto(run_report.as_uri())
        chart = page.locator("svg.speedup-chart")
        expect(chart).to_be_visible()
        expect(chart.locator("g.point")).to_have_count(3)
        kept_line = first_added_line(FIXTURES / "v2/steps/002/patch.diff")
        expect(page.locator("pre.diff").filter(has_text=kept_line).first).to_be_visible()
        shoot(page, "06-report-run")
        page.goto(batch_report.as_uri())
        expect(page.locator("svg.sr-chart")).to_be_visible()
        shoot(page, "07-report-batch")
        assert guard.blocked == []
        assert guard.console_errors == []


def test_missing_run_is_a_404_page(web_server: str, app_page: Guarded) -> None:
    response = app_page.page.goto(f"{web_server}/runs/no-such-run")
    assert response is not None and response.status == 404
    expect(app_page.page.locator("h1")).to_contain_text("404")
    app_page.page.get_by_role("link", name="Back to the run list").click()
    expect(app_page.page.locator("table.runs tbody tr")).to_have_count(4)
    assert app_page.blocked == []
