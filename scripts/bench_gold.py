"""Gold validation of a suite with 1 worker and with 2, side by side, and the harness's memory.

Runs ``perfsmith bench eval SUITE --gold`` twice (``--workers 1``, then ``--workers 2``) and
prints each wall time, their ratio, how many expert patches were verified as significantly
faster, and the peak resident memory of perfsmith's own processes (the batch driver and
each task's worker process; the workloads and test runs are not counted).
Targets on this 2-core machine: <= 10 minutes, <= 1 GiB.

    .venv/bin/python scripts/bench_gold.py [SUITE] [--sandbox local|docker]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def gold(suite: Path, workers: int, runs: Path, sandbox: str) -> dict[str, float]:
    started = time.monotonic()
    subprocess.run(
        [str(BIN / "perfsmith"), "bench", "eval", str(suite), "--gold", "--workers",
         str(workers), "--runs-dir", str(runs), "--sandbox", sandbox],
        check=True, stdout=subprocess.DEVNULL, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    wall = time.monotonic() - started
    results = [json.loads(x) for x in (runs / "results.jsonl").read_text().splitlines() if x]
    batch = json.loads((runs / "batch.json").read_text())
    verified = sum(1 for r in results if r["correct"] and (r["expert_ci_low"] or 0) > 1.2)
    worker_rss = max((r.get("harness_maxrss_mb") or 0) for r in results)
    print(
        f"workers={workers}: {wall:6.1f} s for {len(results)} tasks, {verified} verified "
        f"(CI low > 1.2x); peak RSS driver {batch['driver_maxrss_mb']:.0f} MB, "
        f"task worker {worker_rss:.0f} MB"
    )
    return {"wall": wall, "rss": max(worker_rss, batch["driver_maxrss_mb"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite", nargs="?", default=str(ROOT / "benchmarks" / "perfsmith-lite"))
    parser.add_argument("--sandbox", default="local")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="perfsmith-gold-") as tmp:
        one = gold(Path(args.suite), 1, Path(tmp) / "w1", args.sandbox)
        two = gold(Path(args.suite), 2, Path(tmp) / "w2", args.sandbox)
    print(
        f"2 workers vs 1: {one['wall'] / two['wall']:.2f}x faster; "
        f"peak harness memory {max(one['rss'], two['rss']):.0f} MB (target <= 1024 MB)"
    )


if __name__ == "__main__":
    main()
