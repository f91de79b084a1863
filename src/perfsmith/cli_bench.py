"""``perfsmith bench run | eval | report``: task sets, SWE-fficiency style (wiring only)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import yaml

from perfsmith.errors import ConfigError, PerfsmithError

if TYPE_CHECKING:
    from perfsmith.bench.batch import Mode

bench_app = typer.Typer(
    name="bench",
    help="Run the agent on task sets, score patches (or the experts'), write reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

SuiteArg = Annotated[
    Path,
    typer.Argument(help="A suite folder (benchmarks/<suite>) or a SWE-fficiency .jsonl file."),
]
ReposOpt = Annotated[
    Path | None, typer.Option(help="Local clones for SWE-fficiency rows (DIR/owner__name).")
]
TasksOpt = Annotated[
    list[str] | None,
    typer.Option("--task", help="Only this instance id (repeatable): scored as a subset."),
]
WorkersOpt = Annotated[int, typer.Option(help="Tasks at once, each on its own CPUs.")]
ExecutorOpt = Annotated[
    str, typer.Option(help="local (a pool on this machine) or ray.", metavar="local|ray")
]
RayOpt = Annotated[str | None, typer.Option(help="Ray cluster address (default: start one).")]
RunsOpt = Annotated[
    Path | None,
    typer.Option(help="Batch folder (default runs/bench/<suite>-<mode>); rerun to resume."),
]
RedoOpt = Annotated[bool, typer.Option("--redo", help="Run finished tasks again.")]
ConfigOpt = Annotated[
    Path | None, typer.Option(help="YAML with config.yaml keys for every task (timing, …).")
]
SandboxOpt = Annotated[
    str | None,
    typer.Option(help="auto|docker|local for every task.", envvar="PERFSMITH_SANDBOX"),
]


def _fail(exc: PerfsmithError) -> typer.Exit:
    from perfsmith.cli import _fail as fail

    return fail(exc)


def _overrides(config: Path | None, sandbox: str | None, extra: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if config is not None:
        try:
            loaded = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"Cannot read {config}: {exc}", "Pass a readable YAML file.") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"{config} is not a YAML mapping.", "See the README's config table.")
        out.update(loaded)
    if sandbox:
        out["sandbox"] = sandbox
    for key, value in extra.items():
        if isinstance(value, dict):
            merged = {**out.get(key, {}), **{k: v for k, v in value.items() if v is not None}}
            if merged:
                out[key] = merged
        elif value is not None:
            out[key] = value
    return out


def _batch(
    suite: Path,
    mode: Mode,
    *,
    repos: Path | None,
    only: list[str] | None,
    runs_dir: Path | None,
    lenient: bool = False,
    label: str,
    **request: Any,
) -> None:
    from perfsmith.bench.batch import BatchRequest, run_batch
    from perfsmith.bench.taskset import load_tasks
    from perfsmith.cli import EXIT_INTERRUPTED, err

    name, tasks = load_tasks(suite, repos=repos)
    suite_size = len(tasks)
    if only:
        unknown = sorted(set(only) - {t.instance_id for t in tasks})
        if unknown and not lenient:
            raise ConfigError(f"No task {', '.join(unknown)} in {suite}.", "Check --task.")
        if unknown:  # predictions for tasks this suite does not have: say so, score the rest
            err.print(f"warning: {len(unknown)} prediction(s) name no task of {name}; skipped")
        tasks = [t for t in tasks if t.instance_id in only]
    folder = runs_dir or Path("runs") / "bench" / f"{name}-{label}"
    req = BatchRequest(
        tasks=tasks,
        mode=mode,
        runs_dir=folder,
        suite_tasks=suite_size,
        **request,
    )
    err.print(f"[bold]{mode}[/] {len(tasks)} task(s) of {name} → {folder}")
    try:
        results = run_batch(req, emit=lambda line: err.print(line, markup=False))
    except KeyboardInterrupt:
        err.print(
            f"\n[yellow]Interrupted.[/] Finished tasks are saved in {folder / 'results.jsonl'}; "
            "run the same command again to resume."
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    typer.echo(_write_report(folder, results, suite_size, title=f"{name}: {mode}"))


def _write_report(
    folder: Path, results: list[dict[str, Any]], suite_size: int, *, title: str
) -> str:
    from perfsmith.bench.metrics import summarize
    from perfsmith.bench.report import render_markdown, report_json
    from perfsmith.trajectory import atomic_write, write_json

    summary = summarize(results, suite_tasks=suite_size)
    text = render_markdown(results, summary, title=title)
    atomic_write(folder / "report.md", text)
    write_json(folder / "report.json", report_json(results, summary))
    return text


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-")[:60] or "model"


@bench_app.command("run")
def run_cmd(
    suite: SuiteArg,
    model: Annotated[
        str,
        typer.Option(
            help="Coder model (LiteLLM string or scripted:FILE.yaml).", envvar="PERFSMITH_MODEL"
        ),
    ],
    judge_model: Annotated[
        str | None, typer.Option(help="Judge model (default: the Coder's).")
    ] = None,
    budget_iterations: Annotated[int | None, typer.Option(help="Coder proposals per task.")] = None,
    budget_usd: Annotated[float | None, typer.Option(help="Dollars per task.")] = None,
    workers: WorkersOpt = 1,
    executor: ExecutorOpt = "local",
    ray_address: RayOpt = None,
    repos: ReposOpt = None,
    task: TasksOpt = None,
    runs_dir: RunsOpt = None,
    redo: RedoOpt = False,
    config: ConfigOpt = None,
    sandbox: SandboxOpt = None,
) -> None:
    """Run the agent on every task, then score its best patch against the expert's (both
    measured against the same baseline). Writes results.jsonl, predictions.jsonl, report.md.

    Example: perfsmith bench run benchmarks/perfsmith-lite --model openai/gpt-4.1-mini --workers 2
    """
    try:
        overrides = _overrides(config, sandbox, {
            "judge_model": judge_model,
            "budget": {"iterations": budget_iterations, "usd": budget_usd},
        })  # fmt: skip
        _batch(
            suite, "run", repos=repos, only=task, runs_dir=runs_dir,
            label=f"run-{_slug(model)}", overrides=overrides, model=model, workers=workers,
            executor=executor, ray_address=ray_address, redo=redo,
        )  # fmt: skip
    except PerfsmithError as exc:
        raise _fail(exc) from None


@bench_app.command("eval")
def eval_cmd(
    suite: SuiteArg,
    predictions: Annotated[
        Path | None,
        typer.Option(help="JSONL of {instance_id, model_name_or_path, model_patch}."),
    ] = None,
    gold: Annotated[bool, typer.Option("--gold", help="Score the expert patches.")] = False,
    workers: WorkersOpt = 1,
    executor: ExecutorOpt = "local",
    ray_address: RayOpt = None,
    repos: ReposOpt = None,
    task: TasksOpt = None,
    runs_dir: RunsOpt = None,
    redo: RedoOpt = False,
    config: ConfigOpt = None,
    sandbox: SandboxOpt = None,
) -> None:
    """Score given patches (or, with --gold, the expert patches) on every task.

    Example: perfsmith bench eval benchmarks/perfsmith-lite --gold --workers 2
    """
    try:
        if gold == (predictions is not None):
            raise ConfigError("Pass exactly one of --predictions FILE and --gold.", "")
        patches, model = _read_predictions(predictions) if predictions else ({}, "gold")
        only = task
        if predictions is not None:
            only = sorted(set(task or patches) & set(patches)) if task else sorted(patches)
        _batch(
            suite, "gold" if gold else "eval", repos=repos, only=only, runs_dir=runs_dir,
            lenient=predictions is not None and not task,
            label="gold" if gold else f"eval-{_slug(model)}",
            overrides=_overrides(config, sandbox, {}),
            model=model, patches=patches, workers=workers, executor=executor,
            ray_address=ray_address, redo=redo,
        )  # fmt: skip
    except PerfsmithError as exc:
        raise _fail(exc) from None


def _read_predictions(path: Path) -> tuple[dict[str, str], str]:
    patches: dict[str, str] = {}
    models: set[str] = set()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(
            f"Cannot read {path}: {exc.strerror}.", "Pass a predictions JSONL."
        ) from exc
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            patches[str(row["instance_id"])] = str(row.get("model_patch") or "")
            models.add(str(row.get("model_name_or_path") or ""))
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"{path}:{number} is not a prediction ({exc}).",
                "Each line: {instance_id, model_name_or_path, model_patch}.",
            ) from exc
    if not patches:
        raise ConfigError(f"{path} holds no predictions.", "Pass a non-empty JSONL file.")
    return patches, "+".join(sorted(m for m in models if m)) or path.stem


@bench_app.command("report")
def report_cmd(
    run: Annotated[Path, typer.Argument(help="A batch folder (with results.jsonl).")],
) -> None:
    """Print the batch's report and write report.md and report.json beside its results."""
    from perfsmith.bench.report import load_results

    try:
        results_path = run / "results.jsonl"
        if not results_path.is_file():
            raise ConfigError(f"{run} has no results.jsonl.", "Pass the folder a bench run wrote.")
        results = load_results(results_path)
        batch: dict[str, Any] = {}
        if (run / "batch.json").is_file():
            batch = json.loads((run / "batch.json").read_text(encoding="utf-8"))
        suite_size = int(batch.get("suite_tasks") or len(results))
        title = f"{batch.get('suite', run.name)}: {batch.get('mode', 'results')}"
        typer.echo(_write_report(run, results, suite_size, title=title))
    except PerfsmithError as exc:
        raise _fail(exc) from None
