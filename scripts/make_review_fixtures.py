"""Regenerate the current-format run fixtures of tests/fixtures/trajectories/.

    .venv/bin/python scripts/make_review_fixtures.py

Writes, from real offline runs (scripted model, local sandbox):

- ``v2/``: the logstats demo (a test-breaking step, then two kept speedups);
- ``failed/``: a run on the tiny fixture repository whose Coder never gives an applicable
  edit, so it stops on ``format_errors``;
- ``batch/``: ``perfsmith bench run`` over two tasks of a tiny suite, each with its agent run.

``v1/`` is a run written by perfsmith 0.1.0 at format 1 and is kept as it was: older formats
cannot be regenerated. Bulky files the review never reads (output pickles, raw profiles,
checkpoints) are removed, and absolute paths of this checkout become relative, so the
fixtures are small and the same on every machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.bench.helpers import make_suite  # noqa: E402
from tests.loop.helpers import FIXTURE, HALF_PAUSE, MALFORMED, judge  # noqa: E402

OUT = ROOT / "tests" / "fixtures" / "trajectories"
BIN = Path(sys.executable).parent
BULKY = ("*.pickle", "*.pickle.json", "*.pickle.tree.json", "*.pstats", "checkpoints.sqlite*")


def run(*argv: str | Path) -> None:
    env = {**os.environ, "PERFSMITH_SANDBOX": "local", "COLUMNS": "160"}
    subprocess.run([str(a) for a in argv], check=True, env=env)


def slim(folder: Path, scratch: Path) -> None:
    """Drop bulky files and make paths relative to the checkout (or to nothing)."""
    for pattern in BULKY:
        for path in folder.rglob(pattern):
            path.unlink()
    for path in folder.rglob("*"):
        if path.is_file() and path.suffix in {".json", ".jsonl", ".md", ".yaml", ".diff", ".txt"}:
            text = path.read_text(encoding="utf-8")
            text = text.replace(str(scratch) + "/", "").replace(str(ROOT) + "/", "")
            path.write_text(text, encoding="utf-8")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        runs = scratch / "runs"
        run(BIN / "optimize", ROOT / "examples" / "logstats",
            "--model", f"scripted:{ROOT / 'examples' / 'logstats' / 'demo.yaml'}",
            "--runs-dir", runs, "--run-id", "v2", "--budget-iterations", "6")  # fmt: skip

        repo = scratch / "tinyrepo"
        shutil.copytree(FIXTURE, repo, ignore=shutil.ignore_patterns("__pycache__"))
        script = scratch / "malformed.yaml"
        script.write_text(yaml.safe_dump({"coder": [MALFORMED] * 3, "judge": [judge("keep")]}))
        argv = [BIN / "optimize", repo, "--model", f"scripted:{script}",
                "--runs-dir", runs, "--run-id", "failed"]  # fmt: skip
        subprocess.run(  # exits 1: no candidate was applicable
            [str(a) for a in argv], check=False, env={**os.environ, "PERFSMITH_SANDBOX": "local"}
        )

        suite = make_suite(scratch, names=("alpha", "beta"))
        script = scratch / "half.yaml"
        script.write_text(yaml.safe_dump({"coder": [HALF_PAUSE], "judge": [judge("stop")]}))
        run(BIN / "perfsmith", "bench", "run", suite, "--model", f"scripted:{script}",
            "--config", scratch / "fast.yaml", "--runs-dir", runs / "batch")  # fmt: skip

        for name in ("v2", "failed", "batch"):
            target = OUT / name
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(runs / name, target)
            slim(target, scratch)
            print(f"wrote {target.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
