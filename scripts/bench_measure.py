"""How well the timing procedure decides: false positives (A/A) and power.

A/A: a workload timed against an identical candidate (a clone of the same workspace)
with the default adaptive procedure; how often is it called "faster"? Target: at most
1 in 40, never more than 2. Power: candidates that do a known fraction less of the
same deterministic work (a loop of N against N/1.25 and N/1.10 iterations); how often
is the gain found (targets 95% and 80%), and how long did a verdict take?

    .venv/bin/python scripts/bench_measure.py            # 40 A/A + 2 x 20 power trials
    .venv/bin/python scripts/bench_measure.py --quick    # 8 + 2 x 5, a smoke test
    .venv/bin/python scripts/bench_measure.py --aa 0 --power 20 --max-rounds 40
    .venv/bin/python scripts/bench_measure.py --centers hodges_lehmann run_medians

With several ``--centers`` the trials alternate between them, so each centre meets the
same machine conditions.
    .venv/bin/python scripts/bench_measure.py --instructions [--quick] [--tool cachegrind]

Every trial runs real worker processes on this machine, so this takes a while (about
half an hour for the full run on two cores). Run it with nothing else heavy beside it,
and say what else was running when you quote its numbers.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfsmith.measure import stats
from perfsmith.measure.timing import TimingConfig, TimingResult, time_adaptive
from perfsmith.sandbox.local import LocalSandbox

N = 30_000  # loop iterations of the baseline: ~1 ms per call here
WORK = "def work(n):\n    s = 0\n    for i in range(n):\n        s += i * i\n    return s\n"
WORKLOAD = "import pkg\n\n\ndef workload():\n    return pkg.work({n})\n"


@dataclass
class Trial:
    """One adaptive timing run and its verdict."""

    ratio: float
    faster: bool
    slower: bool
    decided: bool
    estimate: float
    low: float
    high: float
    rounds: int
    stop: str
    wall_s: float
    cpu_faster: bool | None
    noise_floor: float
    run_medians: dict[str, list[float]]


def make_repo(parent: Path, name: str, iterations: int) -> Path:
    """A tiny project: a package with a loop and a workload calling it."""
    repo = parent / name
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "__init__.py").write_text(WORK)
    (repo / "wl.py").write_text(WORKLOAD.format(n=iterations))
    return repo


def trial(base: LocalSandbox, cand: LocalSandbox, ratio: float, cfg: TimingConfig) -> Trial:
    """Time ``cand`` against ``base`` once with the adaptive procedure."""
    with tempfile.TemporaryDirectory(prefix="perfsmith-bench-out-") as out:
        started = time.monotonic()
        res: TimingResult = time_adaptive(
            base, cand, sys.executable, "wl.py", pythonpath=["."], config=cfg, out_dir=Path(out)
        )
        wall = time.monotonic() - started
    comp = res.comparison
    meds = {
        "baseline": _run_medians(comp.baseline_s, cfg.values),
        "candidate": _run_medians(comp.candidate_s, cfg.values),
    }
    return Trial(
        ratio=ratio,
        faster=comp.significant,
        slower=comp.slower,
        decided=comp.decided,
        estimate=comp.speedup.estimate,
        low=comp.speedup.low,
        high=comp.speedup.high,
        rounds=comp.processes,
        stop=res.stop,
        wall_s=wall,
        cpu_faster=None if res.cpu is None else res.cpu.significant,
        noise_floor=stats.noise_floor(comp.speedup),
        run_medians=meds,
    )


def _run_medians(values: tuple[float, ...], per_run: int) -> list[float]:
    return [statistics.median(values[i : i + per_run]) for i in range(0, len(values), per_run)]


def summarise(name: str, trials: list[Trial]) -> dict[str, Any]:
    """One row of the table."""
    n = len(trials)
    cpu = [t.cpu_faster for t in trials if t.cpu_faster is not None]
    return {
        "case": name,
        "trials": n,
        "faster": sum(t.faster for t in trials),
        "slower": sum(t.slower for t in trials),
        "undecided": sum(not t.decided for t in trials),
        "rate": sum(t.faster for t in trials) / n,
        "cpu_rate": sum(cpu) / len(cpu) if cpu else float("nan"),
        "median_estimate": statistics.median(t.estimate for t in trials),
        "median_rounds": statistics.median(t.rounds for t in trials),
        "median_wall_s": statistics.median(t.wall_s for t in trials),
        "median_noise_floor": statistics.median(t.noise_floor for t in trials),
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    head = (
        f"{'case':>26} {'n':>3} {'faster':>6} {'rate':>6} {'slower':>6} {'undec':>5} "
        f"{'est':>6} {'rounds':>6} {'verdict s':>9} {'A/A floor':>9} {'cpu rate':>8}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['case']:>26} {r['trials']:>3} {r['faster']:>6} {r['rate']:>6.0%} "
            f"{r['slower']:>6} {r['undecided']:>5} {r['median_estimate']:>6.3f} "
            f"{r['median_rounds']:>6.0f} {r['median_wall_s']:>9.1f} "
            f"{r['median_noise_floor']:>9.3f} {r['cpu_rate']:>8.0%}"
        )


# The instruction-count section (deterministic metric) goes here: build its cases with
# the same make_repo() workspaces and append its rows to the table in main().


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aa", type=int, default=40, help="A/A trials (default 40)")
    parser.add_argument("--power", type=int, default=20, help="trials per gain (default 20)")
    parser.add_argument("--quick", action="store_true", help="8 A/A and 5 power trials")
    parser.add_argument("--gains", type=float, nargs="*", default=[1.25, 1.10])
    parser.add_argument(
        "--centers",
        nargs="*",
        choices=stats.CENTERS,
        default=None,
        help="compare these centres, alternating trials (default: the config's)",
    )
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--step-rounds", type=int, default=None)
    parser.add_argument("--max-rounds", type=int, default=None)
    parser.add_argument("--values", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None, help="write every trial here")
    parser.add_argument(
        "--instructions", action="store_true",
        help="instead: instruction counts (valgrind), see bench_instructions()",
    )  # fmt: skip
    parser.add_argument("--tool", choices=["callgrind", "cachegrind"], default="callgrind")
    args = parser.parse_args()
    if args.instructions:
        report = bench_instructions(trials=3 if args.quick else 10, tool=args.tool)
        if args.json:
            args.json.write_text(json.dumps(report, indent=2))
        return
    if args.quick:
        args.aa, args.power = 8, 5
    overrides = {
        k: v
        for k, v in {
            "rounds": args.rounds,
            "step_rounds": args.step_rounds,
            "max_rounds": args.max_rounds,
            "values": args.values,
        }.items()
        if v is not None
    }
    cfg = dataclasses.replace(TimingConfig(), **overrides)
    configs = [dataclasses.replace(cfg, center=c) for c in args.centers or [cfg.center]]
    print(f"config: {cfg}" + (f"; centres {args.centers}" if args.centers else ""))
    rows: list[dict[str, Any]] = []
    everything: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="perfsmith-bench-") as tmp:
        parent = Path(tmp)
        base = LocalSandbox.create(make_repo(parent / "src", "base", N), parent / "ws", "base")
        cases: list[tuple[str, float, LocalSandbox, int]] = []
        if args.aa:
            cases.append(("A/A 1.00x", 1.0, base.clone("aa"), args.aa))
        for gain in args.gains if args.power else []:
            repo = make_repo(parent / "src", f"gain{gain}", round(N / gain))
            box = LocalSandbox.create(repo, parent / "ws", f"gain{gain}")
            cases.append((f"gain {gain:.2f}x", gain, box, args.power))
        try:
            for case, ratio, cand, count in cases:
                found: dict[str, list[Trial]] = {}
                for i in range(count):
                    for c in configs:
                        name = case if len(configs) == 1 else f"{case} {c.center}"
                        t = trial(base, cand, ratio, c)
                        found.setdefault(name, []).append(t)
                        print(
                            f"  {name} #{i + 1}: {t.estimate:.3f} [{t.low:.3f}, {t.high:.3f}] "
                            f"faster={t.faster} rounds={t.rounds} stop={t.stop} {t.wall_s:.1f}s",
                            flush=True,
                        )
                for name, trials in found.items():
                    rows.append(summarise(name, trials))
                    everything[name] = [dataclasses.asdict(t) for t in trials]
        finally:
            for _, _, cand, _ in cases:
                cand.close()
            base.close()
    print()
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps({"config": repr(cfg), "rows": rows, "trials": everything}))


# -- instructions (valgrind) ------------------------------------------------------------
# Separate from the timing benchmark above: run with --instructions. Three checks on a
# small generated repository: (1) repeat: the same baseline counted N times, every count
# should be identical; (2) detect: a candidate doing 2% fewer loop iterations (98 instead
# of 100 of the same arithmetic) compared N times, every trial should call it better
# (interval above 1); (3) cost: wall time of one count and one comparison for a workload
# of about 30 ms per call.

_INSTR_LOOP = """
def work(iterations):
    s = 0
    for _ in range(REPEAT):
        for i in range(iterations):
            s += (i * 7 + 3) % 11
    return s

REPEAT = {repeat}
ITERATIONS = {iterations}
"""
_INSTR_WORKLOAD = """
import pkg

def setup():
    global N
    N = pkg.ITERATIONS

def workload():
    return pkg.work(N)
"""


def _instr_workspaces(tmp: Path, name: str, repeat: int) -> tuple[LocalSandbox, LocalSandbox]:
    repo = tmp / f"{name}-repo"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "__init__.py").write_text(_INSTR_LOOP.format(repeat=repeat, iterations=100))
    (repo / "workload.py").write_text(_INSTR_WORKLOAD)
    base = LocalSandbox.create(repo, tmp / "ws", f"{name}-base")
    return base, base.clone(f"{name}-cand")


def bench_instructions(trials: int = 10, tool: str = "callgrind") -> dict[str, Any]:
    """Repeatability and 2%-detection of instruction counts, plus their cost (printed too)."""
    from perfsmith.measure.counters import compare_instructions, count_instructions
    from perfsmith.measure.hardware import valgrind_status

    ok, why = valgrind_status()
    if not ok:
        raise SystemExit(why)
    kind: Any = tool  # "callgrind" or "cachegrind", checked by argparse
    py, wl = sys.executable, "workload.py"
    report: dict[str, Any] = {"tool": tool, "trials": trials}
    with tempfile.TemporaryDirectory(prefix="perfsmith-bench-instr-") as tmp_name:
        tmp = Path(tmp_name)
        base, cand = _instr_workspaces(tmp, "small", repeat=20)
        try:
            t0 = time.monotonic()
            counts = [
                count_instructions(base, py, wl, pythonpath=["."], tool=kind) for _ in range(trials)
            ]
            per_count = (time.monotonic() - t0) / trials
            print(f"repeat: {trials} counts, {len(set(counts))} distinct value(s): {counts}")
            cand.write_file("pkg/__init__.py", _INSTR_LOOP.format(repeat=20, iterations=98))
            t0 = time.monotonic()
            results = [
                compare_instructions(base, cand, py, wl, pythonpath=["."], tool=kind)
                for _ in range(trials)
            ]
            per_compare = (time.monotonic() - t0) / trials
            speedups = [r.speedup.estimate if r.speedup else None for r in results]
            detected = sum(1 for r in results if r.speedup is not None and r.speedup.low > 1)
            print(f"detect: 2% fewer iterations judged better in {detected}/{trials}: {speedups}")
        finally:
            base.close()
            cand.close()
        report["repeat"] = {"counts": counts, "distinct": len(set(counts)), "s": per_count}
        report["detect"] = {"speedups": speedups, "detected": detected, "s": per_compare}
        base, cand = _instr_workspaces(tmp, "30ms", repeat=6000)  # ~30 ms per call here
        try:
            namespace: dict[str, Any] = {}
            exec(base.read_file("pkg/__init__.py"), namespace)  # one call, natively
            t0 = time.perf_counter()
            namespace["work"](namespace["ITERATIONS"])
            native = time.perf_counter() - t0
            t0 = time.monotonic()
            count_instructions(base, py, wl, pythonpath=["."], tool=kind)
            count_s = time.monotonic() - t0
            t0 = time.monotonic()
            compare_instructions(base, cand, py, wl, pythonpath=["."], tool=kind)
            compare_s = time.monotonic() - t0
        finally:
            base.close()
            cand.close()
    print(
        f"cost: workload {native * 1e3:.0f} ms per call natively; one count {count_s:.1f} s, "
        f"one comparison (candidate + baseline twice) {compare_s:.1f} s"
    )
    report["cost"] = {"native_s": native, "count_s": count_s, "compare_s": compare_s}
    return report


if __name__ == "__main__":
    main()
