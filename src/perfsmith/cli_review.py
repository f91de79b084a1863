"""``perfsmith review | report | serve``: look at runs (wiring only; see perfsmith.review)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from perfsmith.errors import ConfigError, PerfsmithError

RunArg = Annotated[
    Path,
    typer.Argument(
        help="A run folder (runs/<run_id>) or a batch folder (with results.jsonl).",
        show_default=False,
    ),
]


def _fail(exc: PerfsmithError) -> typer.Exit:
    from perfsmith.cli import _fail as fail

    return fail(exc)


def review_cmd(
    run: RunArg,
    step: Annotated[
        int | None, typer.Option(help="Show this step in full (diff, failures, profile, Judge).")
    ] = None,
    width: Annotated[int | None, typer.Option(help="Columns (default: the terminal's).")] = None,
) -> None:
    """Review a run in the terminal: summary, step table, and each step's diff, failing
    tests, profile and the Judge's verdict. A batch folder shows its task table."""
    from rich.console import Console

    from perfsmith.review.runs import load_folder
    from perfsmith.review.terminal import show

    try:
        entry = load_folder(run)
        show(entry, Console(width=width, highlight=False), step=step)
    except PerfsmithError as exc:
        raise _fail(exc) from None


def report_cmd(
    run: RunArg,
    html: Annotated[
        Path,
        typer.Option(
            "--html",
            help="Write one self-contained HTML file here (charts and styles inlined; opens "
            "with no network).",
        ),
    ],
) -> None:
    """Write a run's or a batch's report as a single HTML file."""
    from perfsmith.review.html import render_report
    from perfsmith.review.runs import load_folder
    from perfsmith.trajectory import atomic_write

    try:
        entry = load_folder(run)
        if html.is_dir():
            raise ConfigError(f"{html} is a folder.", "Give a file name, e.g. --html report.html.")
        atomic_write(html, render_report(entry))
    except PerfsmithError as exc:
        raise _fail(exc) from None
    typer.echo(f"wrote {html}")


def serve_cmd(
    runs: Annotated[
        Path, typer.Option("--runs", help="The runs folder to show (read-only).")
    ] = Path("runs"),
    host: Annotated[
        str, typer.Option(help="Address to bind; keep 127.0.0.1 unless you mean to share.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8765,
) -> None:
    """Open a local web app over a runs folder: run list, run and step pages, two runs
    side by side, batch pages. Read-only; Ctrl-C stops it."""
    import uvicorn

    from perfsmith.review.web import create_app

    if not runs.is_dir():
        raise _fail(
            ConfigError(
                f"{runs} is not a folder.",
                "Pass the folder your runs are in with --runs (optimize writes to ./runs).",
            )
        )
    typer.echo(f"perfsmith serve: {runs.resolve()} on http://{host}:{port}/ (Ctrl-C stops)")
    uvicorn.run(create_app(runs), host=host, port=port, log_level="warning")


def add_to(app: typer.Typer) -> None:
    app.command("review")(review_cmd)
    app.command("report")(report_cmd)
    app.command("serve")(serve_cmd)
