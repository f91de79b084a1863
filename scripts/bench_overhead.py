"""Harness overhead per candidate evaluation on the examples.

overhead = evaluation wall time - time spent inside workload and test processes.
Runs each example's scripted demo (real sandbox, pytest, pyperf) and prints, per
candidate that reached the tests, its wall time, inner time and overhead. Target: <= 1 s.

    .venv/bin/python scripts/bench_overhead.py [--examples logstats textsearch]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import tempfile
from pathlib import Path

from rich.console import Console

from perfsmith.loop.driver import OptimizeRequest, run_optimize

ROOT = Path(__file__).resolve().parents[1]


def measure(example: Path, runs: Path) -> list[dict[str, float]]:
    request = OptimizeRequest(
        repo=example,
        overrides={"model": f"scripted:{example / 'demo.yaml'}", "budget": {"iterations": 6}},
        runs_dir=runs,
        run_id=example.name,
    )
    run_optimize(request, console=Console(file=io.StringIO()))
    traj = json.loads((runs / example.name / "trajectory.json").read_text())
    rows = []
    for step in traj["steps"]:
        if step.get("tests") is None:
            continue
        rows.append(
            {
                "step": step["index"],
                "status": step["status"],
                "wall_s": step["duration_s"],
                "inner_s": step["inner_s"],
                "overhead_s": step["duration_s"] - step["inner_s"],
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", nargs="*", default=None)
    args = parser.parse_args()
    names = args.examples or sorted(
        p.name for p in (ROOT / "examples").iterdir() if (p / "demo.yaml").is_file()
    )
    overheads = []
    with tempfile.TemporaryDirectory(prefix="perfsmith-bench-") as tmp:
        for name in names:
            for row in measure(ROOT / "examples" / name, Path(tmp)):
                overheads.append(row["overhead_s"])
                print(
                    f"{name:12s} step {row['step']}  {row['status']:16s} "
                    f"wall {row['wall_s']:6.2f}s  inner {row['inner_s']:6.2f}s  "
                    f"overhead {row['overhead_s']:5.2f}s"
                )
    if overheads:
        print(
            f"\noverhead per candidate: mean {statistics.mean(overheads):.2f}s, "
            f"max {max(overheads):.2f}s over {len(overheads)} candidates (target <= 1 s)"
        )


if __name__ == "__main__":
    main()
