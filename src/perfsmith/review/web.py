"""``perfsmith serve``: a local, read-only web app over a runs folder.

Pages are rendered on the server from Jinja templates, with the inline SVG charts and
highlighted diffs of ``perfsmith.review.render``: nothing is fetched from the network, so
the app works offline. Every run is opened through ``perfsmith.review.runs.open_entry``,
which validates ids, so no request can read a file outside the runs folder; there is no
static-file route.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup
from starlette.exceptions import HTTPException

from perfsmith.errors import ConfigError
from perfsmith.loop.report import EXIT_TEXT
from perfsmith.review import render
from perfsmith.review.fmt import agent_tokens, duration, money, num
from perfsmith.review.runs import Batch, Run, RunNotFound, discover, interval_text, open_entry

__all__ = ["create_app"]

TEMPLATES = Path(__file__).with_name("templates") / "web"
READ = ["GET", "HEAD"]
_STEP_PATH = re.compile(r"(?P<id>.+)/steps/(?P<n>[0-9]{1,6})/?")
# Belt and braces: even markup that slipped past escaping could load nothing from elsewhere.
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        num=num, money=money, duration=duration, interval=interval_text, spent=agent_tokens,
        status_class=render.status_class,
    )  # fmt: skip
    env.globals.update(exit_text=EXIT_TEXT)
    return env


def _best_diff(run: Run) -> tuple[int | None, Markup | None]:
    """The best step's index and highlighted patch, or Nones when no step was kept."""
    index = (run.best or {}).get("step")
    if not isinstance(index, int):
        return None, None
    try:
        return index, render.diff_html(run.patch(run.step(index)))
    except RunNotFound:
        return index, None


def _run_view(run: Run, top_value: float | None = None) -> dict[str, Any]:
    """What a template needs to show one run: the run, its chart and its best patch."""
    threshold = run.threshold
    best_step, best_diff = _best_diff(run)
    return {
        "run": run,
        "threshold": threshold,
        "chart": render.speedup_chart(run.steps, threshold=threshold, top_value=top_value),
        "best_step": best_step,
        "best_diff": best_diff,
    }


def _options(rows: Sequence[Any], attr: str) -> list[str]:
    return sorted({str(getattr(r, attr)) for r in rows if getattr(r, attr)})


def create_app(runs_dir: Path) -> FastAPI:
    """The web app over ``runs_dir``: run list, run/batch, step and comparison pages.

    Args:
        runs_dir: The runs folder; it is only ever read.

    Returns:
        A FastAPI application answering only GET and HEAD.
    """
    root = Path(runs_dir).resolve()
    env = _environment()
    app = FastAPI(
        title="perfsmith",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )

    def page(
        name: str, code: int = 200, headers: Mapping[str, str] | None = None, **ctx: Any
    ) -> HTMLResponse:
        html = env.get_template(name).render(root=str(root), **ctx)
        return HTMLResponse(html, status_code=code, headers={**HEADERS, **(headers or {})})

    def error(code: int, message: str, hint: str = "", **headers: str) -> HTMLResponse:
        return page("error.html.j2", code, headers, status=code, message=message, hint=hint)

    @app.exception_handler(ConfigError)
    async def config_error(_: Request, exc: ConfigError) -> Response:
        # RunNotFound covers bad ids too: an id that could never be a run is "not found".
        return error(404 if isinstance(exc, RunNotFound) else 500, exc.message, exc.hint or "")

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> Response:
        return error(exc.status_code, str(exc.detail), **(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def bad_query(_: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(map(str, e.get('loc', ())))}: {e.get('msg', '')}" for e in exc.errors()
        )
        return error(422, f"bad request: {problems}", "Pick two runs on the run list to compare.")

    @app.api_route("/healthz", methods=READ)
    def healthz() -> JSONResponse:
        return JSONResponse({"ok": True})

    @app.api_route("/", methods=READ)
    def index(status: str = "", model: str = "", kind: str = "") -> HTMLResponse:
        rows = discover(root)
        chosen = {"status": status, "model": model, "kind": kind}
        shown = [r for r in rows if all(not v or getattr(r, k) == v for k, v in chosen.items())]
        options = {k: _options(rows, k) for k in chosen}
        return page("index.html.j2", rows=shown, total=len(rows), chosen=chosen, options=options)

    def open_id(run_id: str) -> Run | Batch:
        return open_entry(root, run_id)

    @app.api_route("/runs/{rest:path}", methods=READ)
    def entry(rest: str) -> HTMLResponse:
        match = _STEP_PATH.fullmatch(rest)
        if match is not None:
            run = open_id(match["id"])
            if not isinstance(run, Run):
                raise RunNotFound(f"{run.id} is a batch; its tasks' runs have the steps.")
            return step_page(run, int(match["n"]))
        opened = open_id(rest)
        if isinstance(opened, Batch):
            task_runs = {
                str(t.get("instance_id")): opened.task_run_id(str(t.get("instance_id")))
                for t in opened.results
            }
            chart = render.sr_chart([t.get("sr") for t in opened.results])
            return page("batch.html.j2", batch=opened, chart=chart, task_runs=task_runs)
        return page("run.html.j2", **_run_view(opened))

    def step_page(run: Run, index: int) -> HTMLResponse:
        step = run.step(index)
        indices = [s["index"] for s in run.steps]
        position = indices.index(step["index"])
        return page(
            "step.html.j2",
            run=run,
            step=step,
            diff=render.diff_html(run.patch(step)),
            failures=run.failures(step),
            profile=run.profile_lines(step),
            previous=indices[position - 1] if position > 0 else None,
            next=indices[position + 1] if position + 1 < len(indices) else None,
        )

    @app.api_route("/compare", methods=READ)
    def compare(a: str, b: str) -> HTMLResponse:
        runs = [open_id(run_id) for run_id in (a, b)]
        for opened in runs:
            if not isinstance(opened, Run):
                raise RunNotFound(
                    f"{opened.id} is a batch; comparison shows two runs side by side.",
                    "Open the batch's tasks to compare their agent runs.",
                )
        pair = [r for r in runs if isinstance(r, Run)]
        top = max(render.chart_top(r.steps, r.threshold) for r in pair)  # one scale for both
        views = [_run_view(r, top) for r in pair]
        indices = sorted({s["index"] for v in views for s in v["run"].steps})
        by_index = [{s["index"]: s for s in v["run"].steps} for v in views]
        rows = [(i, [steps.get(i) for steps in by_index]) for i in indices]
        return page("compare.html.j2", views=views, rows=rows)

    return app
