"""The command line: wires configuration to components; no logic of its own.

``optimize REPO`` and ``perfsmith optimize REPO`` are the same command.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from perfsmith import __version__
from perfsmith.errors import ConfigError, PerfsmithError

app = typer.Typer(
    name="perfsmith",
    help="Make code faster with LLM agents, and prove every gain.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _add_bench() -> None:
    from perfsmith.cli_bench import bench_app
    from perfsmith.cli_review import add_to

    app.add_typer(bench_app)
    add_to(app)


EXIT_INTERRUPTED = 130


def _version(value: bool) -> None:
    if value:
        typer.echo(f"perfsmith {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """perfsmith: a Coder and a Judge agent optimize your code; every gain carries its
    confidence interval, sample count and machine fingerprint."""


# Options both commands take, defined once so their help stays the same.
WorkloadOpt = Annotated[
    str | None,
    typer.Option(help="Python file (relative to REPO) defining workload() and optionally setup()."),
]
WorkloadCmdOpt = Annotated[
    str | None, typer.Option(help="A command to time as a whole instead of a workload file.")
]
TestsOpt = Annotated[
    list[str] | None,
    typer.Option("--tests", help="pytest selection (repeatable); default: pytest's own."),
]
TargetOpt = Annotated[
    str | None,
    typer.Option(help="Metric that decides: latency, throughput, memory, instructions, energy."),
]
MinGainOpt = Annotated[
    float | None,
    typer.Option(help="Faster means the 95% interval's low end exceeds 1 + this [0.05]."),
]
PythonOpt = Annotated[
    str | None,
    typer.Option(help="Interpreter for tests and workload (needs pytest and pyperf)."),
]
SandboxOpt = Annotated[
    str | None,
    typer.Option(
        help="Where candidates run: docker (hardened containers), local (a private copy; "
        "bubblewrap isolation when installed) or auto (docker when the engine answers).",
        metavar="auto|docker|local",
        envvar="PERFSMITH_SANDBOX",
    ),
]
ConfigOpt = Annotated[Path | None, typer.Option(help="YAML file with any config.yaml keys.")]


def _fail(exc: PerfsmithError) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(exc.message)}")
    if exc.hint:
        err.print(f"[yellow]what to do:[/] {escape(exc.hint)}")
    return typer.Exit(exc.exit_code)


@app.command("optimize")
def optimize_cmd(
    repo: Annotated[
        Path | None,
        typer.Argument(help="The repository to optimize (never modified; work happens in a copy)."),
    ] = None,
    kernel: Annotated[
        Path | None,
        typer.Option(
            "--kernel",
            help="Optimize a compute kernel instead: a kernel task folder "
            "(benchmarks/kernels-lite/<task>) or a KernelBench problem file "
            "(level1/19_ReLU.py, needs PyTorch); see docs/kernels.md.",
            show_default=False,
        ),
    ] = None,
    workload: WorkloadOpt = None,
    workload_cmd: WorkloadCmdOpt = None,
    tests: TestsOpt = None,
    target: TargetOpt = None,
    metric: Annotated[
        list[str] | None,
        typer.Option(
            "--metric",
            help="Metric reported beside the target's (repeatable): cpu_time, cold_latency, "
            "peak_memory, instructions, energy [cpu_time, cold_latency, peak_memory].",
        ),
    ] = None,
    protect: Annotated[
        list[str] | None,
        typer.Option("--protect", help="Extra glob of paths the agent may not edit (repeatable)."),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            envvar="PERFSMITH_MODEL",
            help="Coder model: any LiteLLM string (openai/gpt-4.1-mini, "
            "anthropic/claude-sonnet-4-5, ollama/qwen3) or scripted:FILE.yaml.",
        ),
    ] = None,
    judge_model: Annotated[
        str | None, typer.Option(help="Judge model; default: the Coder's model.")
    ] = None,
    budget_iterations: Annotated[
        int | None, typer.Option(help="Stop after this many Coder proposals [10].")
    ] = None,
    budget_evaluations: Annotated[
        int | None, typer.Option(help="Stop after this many measured candidates.")
    ] = None,
    budget_tokens: Annotated[int | None, typer.Option(help="Stop after this many tokens.")] = None,
    budget_usd: Annotated[float | None, typer.Option(help="Stop after this many dollars.")] = None,
    budget_time: Annotated[
        str | None, typer.Option(help="Stop after this much wall-clock time (90s, 15m, 2h).")
    ] = None,
    patience: Annotated[
        int | None, typer.Option(help="Stop after this many attempts without a new best [5].")
    ] = None,
    min_gain: MinGainOpt = None,
    rounds: Annotated[
        int | None, typer.Option(help="Interleaved worker processes per side per candidate [6].")
    ] = None,
    python: PythonOpt = None,
    sandbox: SandboxOpt = None,
    config: ConfigOpt = None,
    runs_dir: Annotated[
        Path, typer.Option(help="Where run folders go.", envvar="PERFSMITH_RUNS_DIR")
    ] = Path("runs"),
    run_id: Annotated[str | None, typer.Option(help="Name the run (default: time-based).")] = None,
    resume: Annotated[
        str | None, typer.Option(help="Continue an interrupted run by its id.")
    ] = None,
    apply: Annotated[
        bool,
        typer.Option(
            "--apply",
            help="Commit the best patch to a new branch perfsmith/<run_id> of REPO "
            "(HEAD, index and working tree stay untouched).",
        ),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the final summary.")] = False,
) -> None:
    """Optimize REPO: propose edits, verify them with the tests, time them, keep the best.

    Examples:

      optimize examples/logstats --model scripted:examples/logstats/demo.yaml

      optimize . --workload bench/workload.py --tests tests/ --model openai/gpt-4.1-mini

      optimize --kernel benchmarks/kernels-lite/softmax --model openai/gpt-4.1-mini

      optimize --kernel KernelBench/level1/19_ReLU.py --model openai/gpt-4.1-mini
    """
    from perfsmith.loop.driver import OptimizeRequest, run_optimize

    try:
        overrides: dict[str, Any] = {
            "workload": workload,
            "workload_cmd": workload_cmd,
            "tests": tests or None,
            "target": target,
            "metrics": metric or None,
            "protected": protect or None,
            "model": model,
            "judge_model": judge_model,
            "python": python,
            "sandbox": sandbox,
            "budget": {
                "iterations": budget_iterations,
                "evaluations": budget_evaluations,
                "tokens": budget_tokens,
                "usd": budget_usd,
                "patience": patience,
            },
            "timing": {"min_gain": min_gain, "rounds": rounds},
        }
        if budget_time is not None:
            from perfsmith.config import parse_duration

            overrides["budget"]["time_s"] = parse_duration(budget_time)
        if kernel is not None:
            repo = _kernel_repo(kernel, repo, overrides, given=(workload, workload_cmd, tests))
        if repo is None and resume is None:
            raise ConfigError(
                "No repository given.", "Run `optimize PATH/TO/REPO --model MODEL`, or --help."
            )
        code = run_optimize(
            OptimizeRequest(
                repo=repo,
                overrides=overrides,
                config_file=config,
                runs_dir=runs_dir,
                run_id=run_id,
                resume=resume,
                apply=apply,
                quiet=quiet,
            ),
            console=err,
        )
    except PerfsmithError as exc:
        raise _fail(exc) from None
    raise typer.Exit(code)


def _kernel_repo(
    task_dir: Path, repo: Path | None, overrides: dict[str, Any], *, given: tuple[Any, ...]
) -> Path:
    """Point the run at a kernel task's generated repository; fill ``overrides`` for it."""
    if repo is not None or any(given):
        raise ConfigError(
            "--kernel names the whole task: its repository, workload and tests are generated.",
            "Drop REPO, --workload, --workload-cmd and --tests, or drop --kernel.",
        )
    if task_dir.suffix == ".py" and task_dir.is_file():  # a KernelBench problem file
        from perfsmith.kernels.kernelbench import kernelbench_overrides

        generated, extra = kernelbench_overrides(task_dir, python=overrides.get("python"))
    else:
        from perfsmith.kernels.mode import kernel_overrides

        generated, extra = kernel_overrides(task_dir)
    extra["protected"] = [*(overrides.get("protected") or []), *extra["protected"]]
    if overrides.get("target"):
        extra.pop("target", None)
    overrides.update(extra)
    return generated


@app.command("measure")
def measure_cmd(
    repo: Annotated[Path, typer.Argument(help="The repository (never modified).")],
    patch: Annotated[
        Path, typer.Option(help="The patch to judge (unified diff, as from git diff).")
    ],
    workload: WorkloadOpt = None,
    workload_cmd: WorkloadCmdOpt = None,
    tests: TestsOpt = None,
    target: TargetOpt = None,
    min_gain: MinGainOpt = None,
    python: PythonOpt = None,
    sandbox: SandboxOpt = None,
    config: ConfigOpt = None,
    out: Annotated[
        Path | None, typer.Option(help="Folder for the raw data (default: a new runs/ folder).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Judge one patch: correctness, every metric with its interval and n, guard flags, and
    one verdict (faster, not_significant, slower, incorrect, rejected, noop, quarantined).

    Example: perfsmith measure . --patch pr.diff --workload bench/workload.py --json
    """
    import json

    from perfsmith.config import resolve
    from perfsmith.measure.standalone import measure_patch, report_json, report_text
    from perfsmith.sandbox.factory import kill_all
    from perfsmith.trajectory import new_run_id, write_json

    try:
        cfg = resolve(
            repo,
            overrides={
                "workload": workload,
                "workload_cmd": workload_cmd,
                "tests": tests or None,
                "target": target,
                "python": python,
                "sandbox": sandbox,
                "timing": {"min_gain": min_gain},
            },
            config_file=config,
        )
        try:
            text = patch.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"Cannot read the patch {patch}: {exc.strerror}.",
                "Pass a unified diff file, e.g. `git diff > change.diff`.",
            ) from exc
        out_dir = out or Path("runs") / f"measure-{new_run_id()}"
        out_dir.mkdir(parents=True, exist_ok=True)
        say = (lambda line: None) if as_json else (lambda line: err.print(line, style="dim"))
        try:
            report = measure_patch(cfg, text, out_dir, emit=say)
        except KeyboardInterrupt:
            kill_all()
            err.print("Interrupted; nothing was changed.")
            raise typer.Exit(EXIT_INTERRUPTED) from None
    except PerfsmithError as exc:
        raise _fail(exc) from None
    doc = report_json(report)
    write_json(out_dir / "verdict.json", doc)
    typer.echo(json.dumps(doc, indent=2) if as_json else report_text(report))


@app.command("doctor")
def doctor_cmd() -> None:
    """Check what works on this machine (sandboxes, counters, energy, GPU profilers) and
    what each missing piece costs you."""
    from rich.table import Table

    from perfsmith.doctor import checks

    table = Table(show_header=True, header_style="bold")
    for column in ("check", "", "found", "what it costs you"):
        table.add_column(column)
    for c in checks():
        mark = "[green]ok[/]" if c.ok else "[red]no[/]"
        table.add_row(c.name, mark, escape(c.detail), escape(c.cost))
    Console(highlight=False).print(table)


def main() -> None:
    """Entry point of the ``perfsmith`` script."""
    _install_sigterm()
    app()


_add_bench()


optimize_app = typer.Typer(name="optimize", add_completion=False, pretty_exceptions_enable=False)
optimize_app.command(name="optimize")(optimize_cmd)


def optimize_main() -> None:
    """Entry point of the ``optimize`` script (same as ``perfsmith optimize``)."""
    _install_sigterm()
    optimize_app()


def _install_sigterm() -> None:
    # SIGTERM gets the same orderly shutdown as Ctrl-C (children killed, run saved), and
    # neither can be swallowed by a callback that ignores exceptions (see interrupts).
    from perfsmith import interrupts

    if os.name == "posix":
        interrupts.install()
