"""Run configuration: pydantic models, read from the target's pyproject and the CLI.

Precedence, lowest first: defaults, ``[tool.perfsmith]`` in the target repository's
``pyproject.toml``, a ``--config FILE.yaml``, then command-line flags. The resolved
configuration is written to ``runs/<run_id>/config.yaml`` and can be re-run as is.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from perfsmith.core import Mode, Target, Task, Workload
from perfsmith.errors import ConfigError, RepoError

# Paths a candidate may never touch: the referee's own material. Globs match the
# repository-relative path with fnmatch semantics ("**/" also matches the top level).
DEFAULT_PROTECTED: tuple[str, ...] = (
    "tests/**",
    "test/**",
    "**/test_*.py",
    "**/*_test.py",
    "**/conftest.py",
    "pytest.ini",
    "tox.ini",
    "setup.cfg",
    "pyproject.toml",
    "noxfile.py",
    ".github/**",
    ".gitlab-ci.yml",
    ".ci/**",
    "**/sitecustomize.py",
    "**/usercustomize.py",
    "**/*.pth",
)


ExtraMetric = Literal["cpu_time", "cold_latency", "peak_memory", "instructions", "energy"]
DEFAULT_METRICS: tuple[ExtraMetric, ...] = ("cpu_time", "cold_latency", "peak_memory")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BudgetConfig(_Strict):
    """When the loop stops. ``None`` means no limit on that axis."""

    iterations: int | None = Field(10, ge=1, description="Coder proposals")
    evaluations: int | None = Field(None, ge=1, description="candidates measured")
    tokens: int | None = Field(None, ge=1, description="prompt + completion tokens")
    usd: float | None = Field(None, gt=0, description="model spend in US dollars")
    time_s: float | None = Field(None, gt=0, description="wall-clock seconds")
    patience: int | None = Field(5, ge=1, description="attempts in a row without a new best")


class TimingSettings(_Strict):
    """How candidates are timed (see DESIGN.md section 5)."""

    rounds: int = Field(6, ge=4, description="interleaved worker processes per side")
    values: int = Field(3, ge=1, description="timed values per worker process")
    warmups: int = Field(1, ge=0, description="discarded values per worker process")
    min_time_s: float = Field(0.05, gt=0, description="calibrated duration of one value")
    min_gain: float = Field(0.05, ge=0, description="faster means CI low > 1 + min_gain")
    confidence: float = Field(0.95, gt=0.5, lt=1)
    timeout_s: float = Field(300, gt=0, description="limit for one worker process")
    max_rounds: int = Field(30, ge=4, description="adaptive sampling stops here at the latest")
    step_rounds: int = Field(2, ge=1, description="rounds added while the answer is unclear")
    time_cap_s: float = Field(120, gt=0, description="worker seconds one comparison may use")


class CheckSettings(_Strict):
    """Correctness and plausibility checks beyond the tests (DESIGN.md section 4)."""

    hidden_variants: int = Field(2, ge=0, description="extra PERFSMITH_SEED runs compared")
    rel_tol: float = Field(0.0, ge=0, description="relative tolerance for floats in outputs")
    abs_tol: float = Field(0.0, ge=0, description="absolute tolerance for floats in outputs")
    cold_processes: int = Field(5, ge=2, description="fresh one-call processes per side")
    quarantine_gain: float = Field(10.0, gt=1, description="gains above this get extra checks")
    quarantine_variants: int = Field(3, ge=1, description="extra variants for quarantine")
    roofline_flops: float | None = Field(
        None, ge=0, description="floating-point operations one workload call must do"
    )
    roofline_bytes: float | None = Field(
        None, ge=0, description="bytes one workload call must read and write at least"
    )


class DockerConfig(_Strict):
    """How the Docker sandbox builds its image and limits its containers."""

    image_base: str = Field(
        "host",
        description="'host' (this machine's Debian packages, offline), 'debian' (debootstrap "
        "from the package mirror) or an image reference such as python:3.11-slim (needs a "
        "registry)",
    )
    packages: list[str] = Field(
        default_factory=list, description="extra Debian packages for the image"
    )
    memory_gb: float = Field(8.0, gt=0, description="memory limit per container (no swap)")
    pids: int = Field(512, ge=16, description="most processes and threads per container")
    cpus: str | None = Field(
        None, description="CPU set to pin containers to, e.g. '1' or '0-3' (default: all ours)"
    )
    tmpfs_mb: int = Field(1024, ge=16, description="size cap of /tmp in a container")


SandboxKind = Literal["auto", "docker", "local"]


class RunConfig(_Strict):
    """Everything one optimization run needs; written to ``config.yaml``."""

    repo: str
    workload: str | None = None
    workload_cmd: str | None = None
    tests: list[str] = Field(default_factory=list)
    target: Target = "latency"
    protected: list[str] = Field(default_factory=list)
    pythonpath: list[str] = Field(default_factory=list)
    brief: str = Field("", description="what the Coder is told about the task, beside the code")
    mode: Mode = Field("python", description="kernel: a compiled kernel task (docs/kernels.md)")
    model: str = ""
    judge_model: str | None = None
    python: str = Field(default_factory=lambda: sys.executable)
    budget: BudgetConfig = Field(default_factory=lambda: BudgetConfig())
    timing: TimingSettings = Field(default_factory=lambda: TimingSettings())
    checks: CheckSettings = Field(default_factory=lambda: CheckSettings())
    metrics: list[ExtraMetric] = Field(
        default_factory=lambda: list(DEFAULT_METRICS),
        description="metrics reported beside the target's",
    )
    test_timeout_s: float = Field(600, gt=0)
    max_format_errors: int = Field(3, ge=1)
    sandbox: SandboxKind = Field(
        "auto", description="auto: Docker when the engine answers, else local"
    )
    bwrap: bool = Field(True, description="isolate the local sandbox with bubblewrap if present")
    docker: DockerConfig = Field(default_factory=lambda: DockerConfig())

    @field_validator("workload", "workload_cmd")
    @classmethod
    def _blank_is_none(cls, v: str | None) -> str | None:
        return v or None

    def to_task(self) -> Task:
        """The task this configuration describes."""
        workload = Workload(
            file=self.workload,
            command=tuple(_split_cmd(self.workload_cmd)) if self.workload_cmd else None,
        )
        protected = list(DEFAULT_PROTECTED) + list(self.protected)
        if self.workload:
            protected.append(self.workload)
        return Task(
            repo=self.repo,
            workload=workload,
            tests=tuple(self.tests),
            target=self.target,
            protected=tuple(dict.fromkeys(protected)),
            pythonpath=tuple(self.pythonpath) or (".",),
            name=Path(self.repo).name,
            brief=self.brief,
            mode=self.mode,
        )

    def dump_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def _split_cmd(cmd: str) -> list[str]:
    import shlex

    return shlex.split(cmd)


def read_pyproject_table(repo: Path) -> dict[str, Any]:
    """The ``[tool.perfsmith]`` table of ``repo/pyproject.toml`` (empty when absent)."""
    path = repo / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{path} is not valid TOML ({exc}).",
            "Fix the file, or pass --workload and --tests on the command line.",
        ) from exc
    table = data.get("tool", {}).get("perfsmith", {})
    if not isinstance(table, dict):
        raise ConfigError(f"[tool.perfsmith] in {path} is not a table.", "Make it a table.")
    return dict(table)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$")


def parse_duration(text: str) -> float:
    """Seconds from ``90``, ``90s``, ``15m`` or ``2h``."""
    m = _DURATION.match(text)
    if not m:
        raise ConfigError(
            f"'{text}' is not a duration.",
            "Write seconds (90 or 90s), minutes (15m) or hours (2h).",
        )
    factor = {"s": 1, "m": 60, "h": 3600}[m.group(2) or "s"]
    return float(m.group(1)) * factor


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``; ``None`` in ``over`` (an unset flag) changes nothing."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict):
            out[k] = _deep_merge(out[k] if isinstance(out.get(k), dict) else {}, v)
        elif v is not None:
            out[k] = v
    return out


def resolve(
    repo: Path,
    *,
    overrides: dict[str, Any],
    config_file: Path | None = None,
) -> RunConfig:
    """Build the run configuration for ``repo``.

    Args:
        repo: the user's repository (must exist).
        overrides: values from the command line; ``None`` values are ignored.
        config_file: an optional YAML file with the same keys as ``config.yaml``.

    Raises:
        RepoError: ``repo`` is missing or not a directory.
        ConfigError: the merged configuration is invalid.
    """
    repo = repo.expanduser()
    if not repo.exists():
        raise RepoError(
            f"The repository path {repo} does not exist.",
            "Check the path; perfsmith needs a folder that holds a Python project.",
        )
    if not repo.is_dir():
        raise RepoError(f"{repo} is not a folder.", "Point perfsmith at the project's root folder.")
    merged: dict[str, Any] = {}
    table = read_pyproject_table(repo)
    for key in ("workload", "workload_cmd", "tests", "target", "protected", "pythonpath"):
        if key in table:
            merged[key] = table[key]
    if isinstance(merged.get("tests"), str):
        merged["tests"] = [merged["tests"]]
    if config_file is not None:
        try:
            loaded = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(
                f"Cannot read {config_file}: {exc}", "Pass a readable YAML file."
            ) from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"{config_file} is not a YAML mapping.", "See README's config table.")
        merged = _deep_merge(merged, loaded)
    merged = _deep_merge(merged, overrides)
    if overrides.get("workload_cmd"):
        merged.pop("workload", None)
    elif overrides.get("workload"):
        merged.pop("workload_cmd", None)
    merged["repo"] = str(repo.resolve())
    if not merged.get("pythonpath"):
        merged["pythonpath"] = ["src", "."] if (repo / "src").is_dir() else ["."]
    try:
        cfg = RunConfig.model_validate(merged)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(
            f"The configuration is invalid: {problems}.",
            "Fix the flag or the [tool.perfsmith] table named above (see `optimize --help`).",
        ) from exc
    _check_workload(repo, cfg)
    return cfg


def _check_workload(repo: Path, cfg: RunConfig) -> None:
    if not any((repo / p).suffix == ".py" for p in _iter_some(repo)):
        raise RepoError(
            f"{repo} holds no Python files.",
            "perfsmith optimizes Python projects; point it at the project's root folder.",
        )
    if cfg.workload and cfg.workload_cmd:
        raise ConfigError(
            "Both a workload file and a workload command are set.", "Keep one of the two."
        )
    if not cfg.workload and not cfg.workload_cmd:
        raise ConfigError(
            f"No workload is set for {repo}.",
            "Pass --workload FILE.py (a file defining workload() and optionally setup()), "
            "or --workload-cmd '...', or set `workload` under [tool.perfsmith] in pyproject.toml.",
        )
    if cfg.workload:
        path = repo / cfg.workload
        if Path(cfg.workload).is_absolute() or not path.resolve().is_relative_to(repo.resolve()):
            raise ConfigError(
                f"The workload {cfg.workload} is outside the repository.",
                "Give its path relative to the repository root.",
            )
        if not path.is_file():
            raise ConfigError(
                f"The workload file {path} does not exist.",
                "Create it (a Python file defining workload() and optionally setup()), "
                "or fix --workload / [tool.perfsmith].workload.",
            )


def _iter_some(repo: Path, limit: int = 5000) -> list[Path]:
    out: list[Path] = []
    for p in repo.rglob("*.py"):
        if ".git" in p.parts or ".venv" in p.parts:
            continue
        out.append(p.relative_to(repo))
        if len(out) >= limit:
            break
    return out


def load_saved(path: Path) -> RunConfig:
    """Read a run's ``config.yaml`` back."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return RunConfig.model_validate(data)
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(
            f"Cannot read the saved configuration {path}: {exc}",
            "The run folder may be damaged; start a new run.",
        ) from exc
