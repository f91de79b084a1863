"""The web app (``perfsmith serve``): pages over real run folders, filters, and ids that try
to leave the runs folder."""

from __future__ import annotations

import asyncio
import html
import http.client
import json
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from perfsmith.review.runs import interval_text, load_folder
from perfsmith.review.web import create_app

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "trajectories"
BATCH = "bench/minisuite-run"
TASK_RUN = f"{BATCH}/tasks/minisuite__alpha/agent"
PASSWD_LINE = re.compile(r"root:[^:\s]*:0:0:")


@pytest.fixture
def app(web_runs: Path) -> FastAPI:
    return create_app(web_runs)


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    return TestClient(app)


def text_of(page: str) -> str:
    """The page's text without tags, entities decoded (highlighting splits lines in spans)."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def listed(page: str) -> list[str]:
    """The ids of the run list's rows."""
    return re.findall(r'<tr data-run="([^"]+)"', page)


def raw_get(app: FastAPI, target: str) -> tuple[int, bytes]:
    """GET ``target`` exactly as written, bypassing any client-side URL normalisation.

    The scope is built as uvicorn builds it: ``raw_path`` verbatim, ``path`` percent-decoded.
    """
    raw_path, _, query = target.partition("?")
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": unquote(raw_path),
        "raw_path": raw_path.encode("ascii"),
        "query_string": query.encode("ascii"),
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8765),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"ok": True}


def test_run_list_shows_every_run_and_batch_with_links(client: TestClient) -> None:
    page = client.get("/").text
    assert sorted(listed(page)) == sorted(["v1", "v2", "failed", BATCH])
    for run_id in ("v1", "v2", "failed", BATCH):
        assert f'href="/runs/{run_id}"' in page
    assert "hmean SR 0.809" in page
    best = load_folder(FIXTURES / "v2").best
    assert best is not None
    assert interval_text(best["speedup"], best["n"]) in page
    # Only runs can be picked for comparison, as A and as B.
    assert re.findall(r'name="a" value="([^"]+)"', page) == re.findall(
        r'name="b" value="([^"]+)"', page
    )
    assert BATCH not in re.findall(r'name="a" value="([^"]+)"', page)
    assert 'action="/compare"' in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=format_errors", ["failed"]),
        ("status=completed", ["v1", "v2", BATCH]),
        ("model=scripted%3Ahalf.yaml", [BATCH]),
        ("model=scripted%3Amalformed.yaml&status=format_errors", ["failed"]),
        ("model=scripted%3Amalformed.yaml&status=completed", []),
        ("kind=batch", [BATCH]),
        ("kind=run", ["v1", "v2", "failed"]),
        ("status=", ["v1", "v2", "failed", BATCH]),
        ("status=no-such-status", []),
    ],
)
def test_filters_filter(client: TestClient, query: str, expected: list[str]) -> None:
    response = client.get(f"/?{query}")
    assert response.status_code == 200
    assert sorted(listed(response.text)) == sorted(expected)


def test_filter_form_offers_the_values_present_and_keeps_the_choice(client: TestClient) -> None:
    page = client.get("/?status=format_errors").text
    assert 'method="get" action="/"' in page
    assert '<option value="format_errors" selected>' in page
    assert '<option value="completed">' in page
    assert '<option value="scripted:half.yaml">' in page
    assert '<option value="batch">' in page


def test_run_page_summary_chart_and_step_links(client: TestClient) -> None:
    response = client.get("/runs/v2")
    assert response.status_code == 200
    page = response.text
    run = load_folder(FIXTURES / "v2")
    assert run.best is not None
    assert interval_text(run.best["speedup"], run.best["n"]) in page
    assert 'href="/runs/v2/steps/3">step 3</a>' in page  # the best step
    assert 'class="chart speedup-chart"' in page
    timed = [s["index"] for s in run.steps if s["speedup"]]
    assert timed == [2, 3]
    for index in timed:
        assert re.search(rf'<g class="point[^"]*" data-step="{index}" data-estimate=', page)
    assert '<g class="point failed" data-step="1">' in page  # broke tests: never timed
    for step in run.steps:
        assert f'href="/runs/v2/steps/{step["index"]}"' in page
    text = text_of(page)
    assert "f3f58075d1be" in text  # fingerprint
    assert "ms median" in text  # baseline
    assert "$0.0246" in text and "13,673 tokens" in text  # spend
    assert "scripted:examples/logstats/demo.yaml" in text  # model
    assert "the Judge ended the run" in text  # exit status explained
    assert "upgraded from" not in text


def test_old_format_run_says_it_was_upgraded(client: TestClient) -> None:
    text = text_of(client.get("/runs/v1").text)
    assert "upgraded from perfsmith.trajectory/1" in text
    assert "5.52x [3.86, 8.48] n=6" in text


def test_failed_run_page_has_no_best_and_explains_the_exit(client: TestClient) -> None:
    text = text_of(client.get("/runs/failed").text)
    assert "no step beat the baseline" in text
    assert "format_errors" in text
    assert "could not be applied too many times in a row" in text


def test_step_page_shows_diff_failures_and_judge(client: TestClient) -> None:
    response = client.get("/runs/v1/steps/1")
    assert response.status_code == 200
    page = response.text
    assert '<pre class="diff">' in page
    text = text_of(page)
    assert "+    return sorted(set(requests), key=lambda request: request.timestamp)" in text
    run = load_folder(FIXTURES / "v1")
    failed = run.steps[0]["tests"]["failed"]
    assert len(failed) == 3
    for test_id in failed:
        assert test_id in text
    assert "AssertionError" in text  # the failure messages, from tests.xml
    assert run.steps[0]["verdict"]["decision"] in text
    assert 'href="/runs/v1/steps/2" rel="next"' in page
    assert 'rel="prev"' not in page


def test_step_page_shows_metrics_profile_and_usage(client: TestClient) -> None:
    text = text_of(client.get("/runs/v2/steps/2").text)
    for metric in ("latency", "cpu_time", "peak_memory", "cold_latency"):
        assert metric in text
    assert "3.93x [2.31, 5.37] n=6" in text  # the step's latency interval
    assert "_strptime" in text  # profile top line
    assert "2,610" in text and "1,400" in text  # coder and judge prompt tokens
    assert "datetime.strptime in logstats/parse.py now dominates" in text  # Judge bottleneck
    assert "significantly faster" in text  # harness reason


def test_step_without_usage_split_says_so(client: TestClient) -> None:
    text = text_of(client.get("/runs/v1/steps/2").text)
    assert "Coder/Judge split was not recorded" in text


def test_unapplied_step_shows_the_reason_instead_of_a_diff(client: TestClient) -> None:
    page = client.get("/runs/failed/steps/2").text
    text = text_of(page)
    assert "could not be applied" in text
    assert "the SEARCH text was not found" in text
    assert '<pre class="diff' not in page


def test_compare_shows_both_runs_side_by_side(client: TestClient) -> None:
    response = client.get("/compare", params={"a": "v1", "b": "v2"})
    assert response.status_code == 200
    page = response.text
    assert page.count('class="chart speedup-chart"') == 2
    assert '<section class="column" data-run="v1">' in page
    assert '<section class="column" data-run="v2">' in page
    for index in (1, 2, 3):
        assert f'<tr data-step="{index}">' in page
    text = text_of(page)
    assert "5.52x [3.86, 8.48] n=6" in text and "4.00x [3.05, 5.87] n=6" in text
    # Best patches: both runs kept step 3; v2's adds a set of seen entries.
    assert page.count('<pre class="diff">') == 2
    assert "+    seen: set[Request] = set()" in text


def test_compare_with_a_run_that_kept_nothing(client: TestClient) -> None:
    response = client.get("/compare", params={"a": "failed", "b": "v2"})
    assert response.status_code == 200
    assert "No kept step" in response.text
    assert response.text.count('<pre class="diff">') == 1


def test_batch_page_summary_chart_and_task_links(client: TestClient) -> None:
    response = client.get(f"/runs/{BATCH}")
    assert response.status_code == 200
    page = response.text
    text = text_of(page)
    assert "minisuite__alpha" in text and "minisuite__beta" in text
    assert "hmean SR 0.809" in text
    assert "[0.805, 0.812]" in text  # its bootstrap interval
    assert "fast_1.5 100.0%" in text
    assert 'class="chart sr-chart"' in page
    assert re.search(r'data-bin="0.75-0.95" data-count="2"', page)
    link = f'href="/runs/{TASK_RUN}"'
    assert link in page
    task = client.get(f"/runs/{TASK_RUN}")
    assert task.status_code == 200
    assert 'class="chart speedup-chart"' in task.text
    assert client.get(f"/runs/{TASK_RUN}/steps/1").status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "/runs/nope",
        "/runs/v2/steps/4",
        "/runs/v2/steps/0",
        "/runs/v2/steps/999999",
        f"/runs/{BATCH}/steps/1",
        f"/runs/{BATCH}/tasks",
        "/runs/bench",
        "/runs/v2/trajectory.json",
        "/runs/v2/steps/001/patch.diff",
        "/runs/v2/run.json",
        "/runs/",
        "/compare?a=v2&b=nope",
        f"/compare?a=v2&b={BATCH}",
        "/compare?a=..%2F..%2Fetc&b=v2",
        "/compare?a=%2Fetc%2Fpasswd&b=v2",
        "/compare?a=%2Fv1&b=v2",
        "/runs//v2",
        "/static/trajectory.json",
        "/docs",
        "/openapi.json",
    ],
)
def test_unknown_or_unreachable_things_are_404_html(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Back to the run list" in response.text


@pytest.mark.parametrize("url", ["/compare", "/compare?a=v1", "/runs/v2/steps/x1"])
def test_bad_queries_are_rejected(client: TestClient, url: str) -> None:
    assert client.get(url).status_code in (404, 422)


TRAVERSALS = [
    "/runs/../../etc/passwd",
    "/runs/../../../../../../etc/passwd",
    "/runs/%2e%2e/%2e%2e/etc/passwd",
    "/runs/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/runs/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
    "/runs/..%2f..%2fetc%2fpasswd",
    "/runs/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "/runs/v2%2F..%2F..%2Fetc%2Fpasswd",
    "/runs/v2/../failed",
    "/runs/v2/steps/../../../etc/passwd",
    "/runs/v2/steps/1/../../../../etc/passwd",
    f"/runs/{BATCH}/tasks/../../../v2",
    "/runs//etc/passwd",
    "/runs/%2Fetc%2Fpasswd",
    "/runs/%2Fetc",
    "/runs/v2%00",
    "/runs/v2%00/steps/1",
    "/runs/%00",
    "/runs/v2%00.json",
    "/runs/..%5C..%5Cetc%5Cpasswd",
    "/runs/v2%5Csteps%5C1",
    "/runs/bench%5Cminisuite-run",
    "/runs/.",
    "/runs/./v2",
    "/runs/~",
    "/runs/%7Eroot",
]


@pytest.mark.parametrize("target", TRAVERSALS)
def test_traversal_raw_paths_are_404(app: FastAPI, target: str) -> None:
    status, body = raw_get(app, target)
    assert status == 404
    assert not PASSWD_LINE.search(body.decode("utf-8", "replace"))


def test_raw_helper_reaches_real_pages(app: FastAPI) -> None:
    assert raw_get(app, "/runs/v2")[0] == 200
    assert raw_get(app, f"/runs/{BATCH.replace('/', '%2F')}")[0] == 200
    assert raw_get(app, "/runs/v2/steps/2")[0] == 200


@pytest.mark.parametrize("target", TRAVERSALS[2:8])
def test_traversal_through_the_test_client_is_404(client: TestClient, target: str) -> None:
    # Percent-encoded dots survive the client's URL normalisation, so they reach the app.
    assert client.get(target).status_code == 404


def test_absolute_ids_are_404_even_for_real_runs(web_runs: Path, app: FastAPI) -> None:
    for folder in (web_runs / "v2", FIXTURES / "v2"):
        assert raw_get(app, f"/runs/{folder}")[0] == 404
        assert raw_get(app, f"/runs{folder}")[0] == 404
        assert raw_get(app, f"/compare?a={folder}&b=v2")[0] == 404


def test_symlinks_leading_out_of_the_runs_folder_are_404(tmp_path: Path, web_runs: Path) -> None:
    outside = tmp_path / "outside" / "secret-run"
    shutil.copytree(FIXTURES / "v2", outside)
    (web_runs / "escape").symlink_to(outside, target_is_directory=True)
    (web_runs / "bench" / "escape-batch").symlink_to(FIXTURES / "batch", target_is_directory=True)
    app = create_app(web_runs)
    client = TestClient(app)
    assert "escape" not in " ".join(listed(client.get("/").text))
    for target in (
        "/runs/escape",
        "/runs/escape/steps/1",
        "/runs/bench/escape-batch",
        "/runs/bench/escape-batch/tasks/minisuite__alpha/agent",
        "/compare?a=escape&b=v2",
    ):
        status, body = raw_get(app, target)
        assert status == 404, target
        assert b"speedup-chart" not in body


def test_real_server_rejects_verbatim_traversal(web_server: str) -> None:
    host, port = urlsplit(web_server).hostname, urlsplit(web_server).port
    assert host is not None and port is not None
    for target, expected in [
        ("/runs/v2", 200),
        ("/runs/../../etc/passwd", 404),
        ("/runs/../../../../../../../../etc/passwd", 404),
        ("/runs/%2e%2e%2f%2e%2e%2fetc%2fpasswd", 404),
        ("/runs/..%2f..%2fetc%2fpasswd", 404),
        ("/runs/%2Fetc%2Fpasswd", 404),
        ("/runs/v2%00", 404),
        ("/runs/..%5C..%5Cetc%5Cpasswd", 404),
        ("/../../etc/passwd", 404),
    ]:
        conn = http.client.HTTPConnection(host, port, timeout=10)
        try:
            conn.request("GET", target)
            response = conn.getresponse()
            body = response.read().decode("utf-8", "replace")
        finally:
            conn.close()
        assert response.status == expected, target
        assert not PASSWD_LINE.search(body)


def test_only_reads_are_allowed(app: FastAPI, client: TestClient) -> None:
    methods = {m for route in app.routes if isinstance(route, APIRoute) for m in route.methods}
    assert methods == {"GET", "HEAD"}
    for url in ("/", "/runs/v2", "/runs/v2/steps/1", "/compare?a=v1&b=v2", "/healthz"):
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            response = client.request(method, url)
            assert response.status_code == 405, (method, url)
            assert set(response.headers["allow"].replace(" ", "").split(",")) == {"GET", "HEAD"}
        assert client.head(url).status_code == 200


def all_pages() -> list[str]:
    urls = [
        "/",
        "/?status=format_errors",
        "/runs/v1",
        "/runs/v2",
        "/runs/failed",
        f"/runs/{BATCH}",
        f"/runs/{TASK_RUN}",
        "/compare?a=v1&b=v2",
        "/compare?a=failed&b=v1",
        "/runs/nope",
        "/compare",
        "/no/such/page",
    ]
    for run_id in ("v1", "v2", "failed", TASK_RUN):
        urls += [f"/runs/{run_id}/steps/{i}" for i in (1, 2, 3)]
    return urls


def test_no_page_refers_to_anything_on_the_network(client: TestClient) -> None:
    for url in all_pages():
        response = client.get(url)
        assert response.status_code in (200, 404, 422), url
        page = response.text.lower()
        assert "http://" not in page, url
        assert "https://" not in page, url
        assert not re.search(r'(src|href|action)="//', page), url
        assert "default-src 'none'" in response.headers["content-security-policy"], url


def test_text_from_runs_is_escaped(web_runs: Path) -> None:
    path = web_runs / "v2" / "trajectory.json"
    doc = json.loads(path.read_text())
    doc["task"]["name"] = "<script>alert(1)</script>"
    doc["steps"][1]["rationale"] = '<img src=x onerror="alert(2)">'
    path.write_text(json.dumps(doc))
    client = TestClient(create_app(web_runs))
    for url in ("/", "/runs/v2", "/runs/v2/steps/2", "/compare?a=v2&b=v1"):
        page = client.get(url).text
        assert "<script>" not in page and "<img" not in page, url
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get("/runs/v2").text


def test_a_damaged_run_is_listed_and_its_page_explains(web_runs: Path) -> None:
    broken = web_runs / "broken"
    broken.mkdir()
    (broken / "trajectory.json").write_text("{ not json")
    client = TestClient(create_app(web_runs))
    page = client.get("/").text
    assert "broken" in listed(page)
    assert 'data-status="unreadable"' in page
    response = client.get("/runs/broken")
    assert response.status_code == 500
    assert "cannot read the trajectory of run broken" in text_of(response.text)
