"""Reading run folders for review: single runs and batches, validated ids, safe sidecars.

Every viewer (terminal, HTML report, web app) goes through this module, so the rules live
in one place:

- trajectories of any known format are upgraded to the current one
  (``perfsmith.trajectory.upgrade``) and each step gets every key a viewer reads;
- a run id is a path relative to the runs folder whose parts are plain names; anything else
  (``..``, absolute paths, symlinks leading out, folders that are not runs) is "not found";
- sidecar files are read only when they resolve inside the run's own folder, and only up to
  a size cap.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from perfsmith.errors import ConfigError
from perfsmith.review.fmt import interval_text, number
from perfsmith.trajectory import FORMAT, load_trajectory

__all__ = [
    "FAILED_STATUSES",
    "Batch",
    "Entry",
    "Run",
    "RunNotFound",
    "discover",
    "interval_text",
    "load_folder",
    "open_entry",
    "resolve_id",
]

_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
MAX_DEPTH = 4  # runs/bench/<suite>-<mode>/ is three levels below a runs folder's parent
TEXT_CAP = 400_000  # characters read from one sidecar file
FAILED_STATUSES = frozenset({"error", "format_errors", "interrupted", "unreadable"})

STEP_DEFAULTS: Mapping[str, Any] = {
    "status": "unknown",
    "gate": "",
    "reason": "",
    "rationale": "",
    "kept": False,
    "speedup": None,
    "code": "",
    "metrics": [],
    "tests": None,
    "flags": [],
    "cost_usd": 0.0,
    "tokens": 0,
    "usage": {"coder": None, "judge": None},
    "started": None,
    "duration_s": 0.0,
    "inner_s": 0.0,
    "artifacts": {},
}
VERDICT_KEYS = ("decision", "bottleneck", "next_step", "suspicion", "overruled")


class RunNotFound(ConfigError):
    """No run or batch with that id under the runs folder (or the id is not acceptable)."""


def _inside(root: Path, rel: str) -> Path | None:
    """``root / rel`` if it stays inside ``root`` once symlinks are resolved, else None."""
    pure = PurePosixPath(rel)
    if pure.is_absolute() or ".." in pure.parts:
        return None
    full = (root / pure).resolve()
    return full if full.is_relative_to(root.resolve()) else None


def _read_text(path: Path | None, cap: int = TEXT_CAP) -> str | None:
    if path is None or not path.is_file():
        return None
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read(cap)
    except OSError:
        return None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def normalize_step(raw: Mapping[str, Any], position: int) -> dict[str, Any]:
    """A step record with every key the viewers read (defaults where the run had none)."""
    step = {**STEP_DEFAULTS, **raw}
    step.setdefault("index", position)
    verdict = raw.get("verdict") or {}
    step["verdict"] = {key: str(verdict.get(key) or "") for key in VERDICT_KEYS}
    usage = raw.get("usage") or {}
    step["usage"] = {"coder": usage.get("coder"), "judge": usage.get("judge")}
    return step


@dataclass(frozen=True)
class Run:
    """One optimization run, as its folder holds it."""

    id: str
    path: Path
    meta: dict[str, Any]  # run.json ({} when missing)
    task: dict[str, Any]
    info: dict[str, Any]
    steps: tuple[dict[str, Any], ...]
    source_format: str  # the format the file was written in, before any upgrade
    kind: Literal["run"] = "run"

    @property
    def exit_status(self) -> str:
        return str(self.info.get("exit_status") or self.meta.get("exit_status") or "running")

    @property
    def failed(self) -> bool:
        return self.exit_status in FAILED_STATUSES

    @property
    def upgraded(self) -> bool:
        return self.source_format != FORMAT

    @property
    def best(self) -> dict[str, Any] | None:
        best = self.info.get("best")
        return best if isinstance(best, dict) else None

    @property
    def threshold(self) -> float | None:
        """The speedup an interval's low end had to exceed: the run's, else 1 + A/A noise."""
        best = self.best or {}
        for value in (
            best.get("threshold"),
            *((s["speedup"] or {}).get("threshold") for s in self.steps),
        ):
            if (x := number(value)) is not None:
                return x
        noise = number((self.info.get("baseline") or {}).get("noise"))
        return None if noise is None else 1.0 + noise

    @property
    def title(self) -> str:
        return str(self.task.get("name") or Path(str(self.task.get("repo", self.id))).name)

    @property
    def model(self) -> str:
        return str(self.info.get("coder_model") or "")

    @property
    def totals(self) -> dict[str, Any]:
        totals = self.info.get("totals")
        return totals if isinstance(totals, dict) else {}

    @property
    def fingerprint(self) -> dict[str, Any]:
        fp = self.info.get("fingerprint") or self.meta.get("fingerprint")
        return fp if isinstance(fp, dict) else {}

    def step(self, index: int) -> dict[str, Any]:
        """The step with this index (1-based, as the run numbers them)."""
        for step in self.steps:
            if step.get("index") == index:
                return step
        raise RunNotFound(
            f"run {self.id} has no step {index}.",
            f"It has steps 1 to {len(self.steps)}." if self.steps else "It has no steps yet.",
        )

    def file(self, rel: str) -> Path | None:
        """A file of the run's folder, or None if it is missing or would leave the folder."""
        path = _inside(self.path, rel)
        return path if path is not None and path.is_file() else None

    def artifact(self, step: Mapping[str, Any], name: str) -> str | None:
        """A step's sidecar text (``patch.diff``, ``profile.txt``, ``judge_reply.md``…)."""
        rel = (step.get("artifacts") or {}).get(name) or f"steps/{int(step['index']):03d}/{name}"
        return _read_text(self.file(str(rel)))

    def patch(self, step: Mapping[str, Any]) -> str:
        return self.artifact(step, "patch.diff") or ""

    def profile_lines(self, step: Mapping[str, Any] | None, limit: int = 10) -> list[str]:
        """The top lines of a step's profile (the baseline's when ``step`` is None)."""
        if step is None:
            text = _read_text(self.file("baseline/profile.txt"))
        else:
            text = self.artifact(step, "profile.txt")
        return [line for line in (text or "").splitlines() if line.strip()][:limit]

    def failures(self, step: Mapping[str, Any], chars: int = 1500) -> dict[str, str]:
        """Failure text of each test the step broke (failed or missing), by test id."""
        tests = step.get("tests") or {}
        bad = [*tests.get("failed", ()), *tests.get("missing", ())]
        if not bad:
            return {}
        from perfsmith.measure.tests import failure_messages

        texts: dict[str, str] = {}
        rel = (step.get("artifacts") or {}).get("tests.xml")
        xml = self.file(str(rel)) if rel else None
        if xml is not None:
            try:
                texts = failure_messages(xml, chars=chars)
            except (ET.ParseError, OSError):
                texts = {}
        missing = set(tests.get("missing", ()))
        return {
            test_id: texts.get(test_id)
            or ("not reported by the test run" if test_id in missing else "no message recorded")
            for test_id in bad
        }


@dataclass(frozen=True)
class Batch:
    """A task-set run (``perfsmith bench``): results.jsonl, batch.json, per-task folders."""

    id: str
    path: Path
    meta: dict[str, Any]  # batch.json ({} when missing)
    results: tuple[dict[str, Any], ...]  # one per task, as report_json lays them out
    summary: dict[str, Any]
    kind: Literal["batch"] = "batch"

    @property
    def title(self) -> str:
        suite = str(self.meta.get("suite") or self.path.name)
        return f"{suite} ({self.meta['mode']})" if self.meta.get("mode") else suite

    @property
    def exit_status(self) -> str:
        asked = self.meta.get("tasks")
        done = len(self.results)
        if isinstance(asked, list) and done < len(asked):
            return "partial"
        return "completed"

    @property
    def failed(self) -> bool:
        return False

    @property
    def model(self) -> str:
        models = {str(r.get("model_name_or_path") or "") for r in self.results}
        return ", ".join(sorted(m for m in models if m))

    def task_run_id(self, instance_id: str) -> str | None:
        """The id of a task's agent run (``bench run`` only), if its folder has one."""
        if not _PART.fullmatch(instance_id):
            return None
        if not (self.path / "tasks" / instance_id / "agent" / "trajectory.json").is_file():
            return None
        return f"{self.id}/tasks/{instance_id}/agent"


Entry = Run | Batch


@dataclass(frozen=True)
class Listing:
    """One row of the run list: enough to filter and sort without opening every step."""

    id: str
    kind: str
    title: str
    status: str
    model: str
    started: str
    headline: str  # the best speedup with its interval, or the batch's harmonic mean SR
    steps: int
    cost_usd: float
    error: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def resolve_id(root: Path, run_id: str) -> Path:
    """The folder of ``run_id`` under ``root``; RunNotFound unless it is a plain relative
    path of simple names, stays inside ``root`` and holds a run or a batch."""
    parts = run_id.removesuffix("/").split("/")  # "/x" and "a//b" leave an empty part
    if not parts or not all(_PART.fullmatch(p) for p in parts):
        raise _not_found(root, run_id)
    folder = _inside(root, "/".join(parts))
    if folder is None or not _is_entry(folder):
        raise _not_found(root, run_id)
    return folder


def _not_found(root: Path, run_id: str) -> RunNotFound:
    return RunNotFound(
        f"no run {run_id!r} under {root}.",
        "A run id is a folder path under the runs folder, such as 20261127-101500-3fa2 or "
        "bench/<suite>-run; the run list at / shows them all.",
    )


def _is_entry(folder: Path) -> bool:
    return (folder / "trajectory.json").is_file() or (folder / "results.jsonl").is_file()


def open_entry(root: Path, run_id: str) -> Entry:
    """Open a run or batch by its id under ``root`` (validated by ``resolve_id``)."""
    folder = resolve_id(root, run_id)
    return _load(folder, run_id.removesuffix("/"))


def load_folder(folder: Path) -> Entry:
    """Open the run or batch in ``folder`` (a path the user gave); its id is the folder name.

    Raises:
        ConfigError: the folder is neither a run nor a batch, or cannot be read.
    """
    if not folder.is_dir() or not _is_entry(folder):
        raise ConfigError(
            f"{folder} is not a perfsmith run: it has neither trajectory.json nor results.jsonl.",
            "Pass a folder under runs/ (an `optimize` run or a `perfsmith bench` batch).",
        )
    return _load(folder.resolve(), folder.resolve().name)


def _load(folder: Path, run_id: str) -> Entry:
    if (folder / "trajectory.json").is_file():
        return _load_run(folder, run_id)
    return _load_batch(folder, run_id)


def _load_run(folder: Path, run_id: str) -> Run:
    try:
        raw = json.loads((folder / "trajectory.json").read_text(encoding="utf-8"))
        source = str(raw.get("format")) if isinstance(raw, dict) else "?"
        doc = load_trajectory(folder)
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"cannot read the trajectory of run {run_id}: {exc}",
            "The file may be from a newer perfsmith, or damaged; `trajectory.json` is plain "
            "JSON, so its first lines usually show which.",
        ) from exc
    steps = tuple(normalize_step(s, i) for i, s in enumerate(doc.get("steps") or [], start=1))
    return Run(
        id=run_id,
        path=folder,
        meta=_read_json(folder / "run.json"),
        task=dict(doc.get("task") or {}),
        info=dict(doc.get("info") or {}),
        steps=steps,
        source_format=source,
    )


def _load_batch(folder: Path, run_id: str) -> Batch:
    from perfsmith.bench.metrics import summarize
    from perfsmith.bench.report import load_results, report_json

    meta = _read_json(folder / "batch.json")
    results = load_results(folder / "results.jsonl")
    suite_tasks = meta.get("suite_tasks")
    summary = summarize(results, suite_tasks=suite_tasks if isinstance(suite_tasks, int) else None)
    doc = report_json(results, summary)
    return Batch(
        id=run_id, path=folder, meta=meta, results=tuple(doc["tasks"]), summary=doc["summary"]
    )


def _walk(root: Path, rel: tuple[str, ...] = ()) -> Iterator[tuple[str, Path]]:
    folder = root.joinpath(*rel)
    try:
        children = sorted(p for p in folder.iterdir() if p.is_dir() and not p.is_symlink())
    except OSError:
        return
    for child in children:
        if not _PART.fullmatch(child.name):
            continue
        parts = (*rel, child.name)
        if _is_entry(child):
            yield "/".join(parts), child
        elif len(parts) < MAX_DEPTH:
            yield from _walk(root, parts)


def listing(entry: Entry) -> Listing:
    """The run-list row of an opened run or batch."""
    if isinstance(entry, Run):
        best = entry.best
        totals = entry.totals
        return Listing(
            id=entry.id,
            kind="run",
            title=entry.title,
            status=entry.exit_status,
            model=entry.model,
            started=str(entry.meta.get("started") or ""),
            headline=interval_text(best["speedup"], best.get("n")) if best else "-",
            steps=len(entry.steps),
            cost_usd=float(totals.get("cost_usd") or 0.0),
        )
    hmean = entry.summary.get("hmean_sr")
    return Listing(
        id=entry.id,
        kind="batch",
        title=entry.title,
        status=entry.exit_status,
        model=entry.model,
        started=str(entry.meta.get("started") or ""),
        headline=f"hmean SR {hmean:.3f}" if isinstance(hmean, int | float) else "-",
        steps=len(entry.results),
        cost_usd=float(entry.summary.get("cost_usd_total") or 0.0),
    )


def discover(root: Path) -> list[Listing]:
    """Every run and batch under ``root`` (not the runs inside a batch), newest first.

    A folder that cannot be read still gets a row, with status ``unreadable`` and the error,
    so one damaged run never hides the others.
    """
    rows: list[Listing] = []
    if not root.is_dir():
        return rows
    for run_id, folder in _walk(root):
        try:
            rows.append(listing(_load(folder, run_id)))
        except ConfigError as exc:
            rows.append(
                Listing(id=run_id, kind="run", title=folder.name, status="unreadable", model="",
                        started="", headline="-", steps=0, cost_usd=0.0, error=exc.message)
            )  # fmt: skip
    rows.sort(key=lambda r: (r.started, r.id), reverse=True)
    return rows
