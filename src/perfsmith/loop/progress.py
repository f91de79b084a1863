"""The live progress view: one line per event, a summary at the end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from perfsmith.config import RunConfig
from perfsmith.loop.budget import Budget
from perfsmith.loop.report import EXIT_TEXT, speedup_text
from perfsmith.loop.state import LoopState

STATUS_STYLE = {
    "faster": "bold green",
    "not_significant": "yellow",
    "slower": "red",
    "test_failed": "red",
    "incorrect_output": "red",
    "workload_error": "red",
    "apply_failed": "magenta",
    "rejected": "magenta",
    "noop": "magenta",
    "format_error": "magenta",
    "quarantined": "bold magenta",
}


class Progress:
    """Prints what the loop is doing as it happens (to stderr)."""

    def __init__(self, console: Console, *, quiet: bool, budget: Budget | None) -> None:
        self.console = console
        self.quiet = quiet
        self.budget = budget
        self.best: dict[str, Any] | None = None
        self.cost = 0.0

    def start(
        self, run_id: str, run_dir: Path, cfg: RunConfig, *, resumed: bool, sandbox: str = ""
    ) -> None:
        if self.quiet:
            return
        verb = "Resuming" if resumed else "Starting"
        self.console.print(f"[bold]{verb} run {run_id}[/] → {run_dir}")
        self.console.print(
            f"  repo {cfg.repo} · workload {cfg.workload or cfg.workload_cmd} · model {cfg.model}"
        )
        if sandbox:
            self.console.print(f"  sandbox {sandbox}", style="dim", markup=False)

    def handle(self, event: dict[str, Any]) -> None:
        kind = event.get("kind")
        if kind == "step":
            self.cost += float(event.get("cost_usd", 0.0))
            if event.get("kept"):
                self.best = event
        if self.quiet:
            return
        if kind == "setup":
            self.console.print(f"  workspace {event['workspace']}", style="dim", markup=False)
        elif kind == "note":
            self.console.print(f"  {event['text']}", style="dim", markup=False)
        elif kind == "baseline_start":
            self.console.print("  baseline: running tests, timing and profiling…", style="dim")
        elif kind == "baseline":
            self.console.print(
                f"  baseline: {event['tests']} tests pass · "
                f"{event['median_s'] * 1e3:.2f} ms per workload call ({event['samples']} values)"
                f" · A/A noise floor {event.get('noise', 0.0):.1%}"
            )
        elif kind == "propose":
            self.console.print(f"  step {event['step']}: asking the Coder…", style="dim")
        elif kind == "evaluate":
            self.console.print(
                f"  step {event['step']}: tests, output check, interleaved timing…", style="dim"
            )
        elif kind == "step":
            self._step(event)

    def _step(self, e: dict[str, Any]) -> None:
        style = STATUS_STYLE.get(e["status"], "")
        sp = e.get("speedup")
        num = (
            f" {sp['estimate']:.2f}x [{sp['low']:.2f}, {sp['high']:.2f}] n={sp['n']}" if sp else ""
        )
        kept = " [bold green]KEPT[/]" if e.get("kept") else ""
        best = ""
        if self.best and self.best.get("speedup"):
            b = self.best["speedup"]
            best = f" · best {b['estimate']:.2f}x [{b['low']:.2f}, {b['high']:.2f}]"
        self.console.print(
            f"  step {e['index']}: [{style}]{e['status']}[/]{num}{kept}{best} · ${self.cost:.4f}"
        )
        if e["status"] not in ("faster",):
            self.console.print(f"      {e['reason'][:300]}", style="dim", markup=False)
        verdict = e.get("verdict") or {}
        if verdict.get("bottleneck") or verdict.get("overruled"):
            said = verdict.get("overruled") or verdict["bottleneck"]
            self.console.print(
                f"      judge: {verdict['decision']} - {said[:200]}", style="dim", markup=False
            )

    def summary(self, result: LoopState, run_dir: Path) -> int:
        status = result.get("exit_status") or "completed"
        best = result.get("best")
        self.console.print(
            f"[bold]Done[/]: {EXIT_TEXT.get(status, status)} ({status}). "
            f"Report: {run_dir / 'report.md'}"
        )
        if best:
            sp = {**best["speedup"], "n": best.get("n")}
            self.console.print(
                f"[bold green]Best: step {best['step']}, {speedup_text(sp)}[/] → "
                f"{run_dir / 'best.patch'}"
            )
        else:
            self.console.print("No significant speedup found; the repository stays as it is.")
        self.console.print(
            f"Review it: perfsmith review {run_dir} · perfsmith report {run_dir} --html "
            f"{run_dir / 'report.html'}",
            markup=False,
            style="dim",
        )
        return 0
