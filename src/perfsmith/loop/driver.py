"""Drive one ``optimize`` run: configuration, models, the graph, Ctrl-C, the summary."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from perfsmith.agents.coder import LLMCoder
from perfsmith.agents.judge import LLMJudge
from perfsmith.config import RunConfig, load_saved, resolve
from perfsmith.errors import ConfigError, ModelError, PerfsmithError
from perfsmith.loop import graph
from perfsmith.loop.progress import Progress
from perfsmith.loop.report import speedup_text
from perfsmith.loop.runtime import Runtime
from perfsmith.loop.state import LoopState
from perfsmith.measure.hardware import fingerprint
from perfsmith.measure.metrics import check_target
from perfsmith.models import make_model
from perfsmith.sandbox.factory import choose, kill_all
from perfsmith.trajectory import atomic_write, new_run_id, write_json

EXIT_INTERRUPTED = 130
SCRIPTED = "scripted:"


@dataclass(frozen=True)
class OptimizeRequest:
    """What the user asked for on the command line."""

    repo: Path | None
    overrides: dict[str, Any]
    config_file: Path | None = None
    runs_dir: Path = Path("runs")
    run_id: str | None = None
    resume: str | None = None
    apply: bool = False
    quiet: bool = False


def _absolute_script(spec: str | None) -> str | None:
    """Scripted model paths are stored absolute so a resumed run finds them anywhere."""
    if spec and spec.startswith(SCRIPTED):
        path, sep, channel = spec[len(SCRIPTED) :].rpartition("#")
        if not sep:
            path, channel = channel, ""
        return f"{SCRIPTED}{Path(path).resolve()}{sep}{channel}"
    return spec


def _models(cfg: RunConfig, state: LoopState | None) -> tuple[Any, Any]:
    def build(spec: str, role: str, calls: int) -> Any:
        if spec.startswith(SCRIPTED):
            return make_model(spec, role=role, start=calls)
        return make_model(spec, role=role)

    coder_calls = (state or {}).get("coder_calls", 0)
    judge_calls = (state or {}).get("judge_calls", 0)
    judge_spec = cfg.judge_model or cfg.model
    return build(cfg.model, "coder", coder_calls), build(judge_spec, "judge", judge_calls)


def run_optimize(req: OptimizeRequest, *, console: Console, clock: Any = None) -> int:
    """Run (or resume) an optimization; return the process exit code."""
    state: LoopState | None = None
    if req.resume:
        run_id = req.resume
        run_dir = req.runs_dir / run_id
        if not (run_dir / "config.yaml").is_file():
            raise ConfigError(
                f"No run {run_id} under {req.runs_dir}.",
                "Give the run id printed when the run started (a folder name under --runs-dir).",
            )
        cfg = load_saved(run_dir / "config.yaml")
        state, pending = graph.saved_state(run_dir, run_id)
        if state is not None and not pending:
            console.print(f"Run {run_id} already finished ({state.get('exit_status')}).")
            return 0
    else:
        assert req.repo is not None
        cfg = resolve(req.repo, overrides=req.overrides, config_file=req.config_file)
        check_target(cfg.target, workload_is_command=cfg.workload_cmd is not None)
        if not cfg.model:
            raise ConfigError(
                "No model given.",
                "Pass --model (e.g. openai/gpt-4.1-mini with OPENAI_API_KEY set, or "
                "scripted:FILE.yaml for an offline replay), or set PERFSMITH_MODEL.",
            )
        cfg = cfg.model_copy(
            update={
                "model": _absolute_script(cfg.model),
                "judge_model": _absolute_script(cfg.judge_model),
            }
        )
        run_id = req.run_id or new_run_id()
        run_dir = req.runs_dir / run_id
        if run_dir.exists():
            raise ConfigError(
                f"The run folder {run_dir} already exists.",
                f"Pick another --run-id, or continue it with --resume {run_id}.",
            )
        run_dir.mkdir(parents=True)
        atomic_write(run_dir / "config.yaml", cfg.dump_yaml())
    coder_model, judge_model = _models(cfg, state)
    for m in (coder_model, judge_model):
        check = getattr(m, "check_environment", None)
        if check is not None:
            check()  # a missing key fails now, not after minutes of baseline work
    sandbox = choose(cfg.sandbox, bwrap=cfg.bwrap)
    if sandbox.warning:
        console.print(f"[yellow]warning:[/] {sandbox.warning}")
    progress = Progress(console, quiet=req.quiet, budget=None)
    rt = Runtime(
        config=cfg,
        run_dir=run_dir,
        coder=LLMCoder(coder_model),
        judge=LLMJudge(judge_model),
        coder_model=cfg.model,
        judge_model=cfg.judge_model or cfg.model,
        fingerprint=fingerprint(python=cfg.python, sandbox=sandbox.kind),
        emit=progress.handle,
        sandbox=sandbox,
    )
    if clock is not None:
        rt.clock = clock
    progress.budget = rt.budget
    progress.start(run_id, run_dir, cfg, resumed=bool(req.resume), sandbox=sandbox.kind)
    try:
        # A run stopped before its first checkpoint has nothing to resume: start it afresh.
        resumable = req.resume is not None and state is not None
        result = graph.resume(rt, run_id) if resumable else graph.run(rt, run_id)
    except KeyboardInterrupt:
        kill_all()
        _mark(run_dir, "interrupted")
        console.print(
            f"\n[yellow]Interrupted.[/] The run is saved in {run_dir}; continue it with "
            f"`optimize --resume {run_id} --runs-dir {req.runs_dir}`."
        )
        return EXIT_INTERRUPTED
    except PerfsmithError as exc:
        kill_all()
        _mark(run_dir, "model_error" if isinstance(exc, ModelError) else "error", exc.message)
        console.print(f"The run folder {run_dir} keeps what was done so far.")
        raise
    finally:
        rt.close()
    code = progress.summary(result, run_dir)
    if req.apply and result.get("best"):
        from perfsmith.loop.apply import commit_to_branch

        branch = f"perfsmith/{run_id}"
        best = result["best"] or {}
        sha = commit_to_branch(
            Path(cfg.repo),
            best["patch"],
            branch,
            f"perfsmith: {speedup_text({**best['speedup'], 'n': best.get('n')})}\n\n"
            f"Run {run_id}, step {best['step']}.",
        )
        console.print(f"Committed the best patch as {sha[:10]} on branch [bold]{branch}[/].")
    return code


def _mark(run_dir: Path, status: str, message: str = "") -> None:
    """Record in run.json how the run ended when the graph could not."""
    import json

    path = run_dir / "run.json"
    data: dict[str, Any] = {}
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
    data["exit_status"] = status
    if message:
        data["error"] = message
    write_json(path, data)
