"""Docker sandbox costs, measured side by side with the local sandbox.

1. Image: planning (package closure), a first build from local packages, and a cached
   lookup. The first build uses a bench-only image key and is removed afterwards, so a
   user's cached image is left alone.
2. Per command: ``exec(["true"])`` and ``python -c pass`` in a Docker workspace and in a
   local one, interleaved.
3. Per candidate: the logstats demo run with ``--sandbox docker`` and ``--sandbox local``,
   alternating, with fixed (non-adaptive) timing rounds so both do the same work; the
   overhead of a candidate is its Docker wall time minus its local wall time, step by step.
   Target: <= 2 s per candidate.

    .venv/bin/python scripts/bench_sandbox.py [--reps 2] [--skip-runs]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

from perfsmith.loop.driver import OptimizeRequest, run_optimize
from perfsmith.sandbox import docker as dock
from perfsmith.sandbox import image as images
from perfsmith.sandbox.local import LocalSandbox
from perfsmith.sandbox.pyenv import inspect_python

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "logstats"


def bench_image(work: Path) -> str:
    client = dock.engine()
    uid, gid = dock.container_user()
    t = time.monotonic()
    plan = images.plan_image(sys.executable, uid=uid, gid=gid)
    plan_s = time.monotonic() - t
    # An extra package that is already in the closure changes the key, not the content.
    fresh = images.plan_image(sys.executable, extra_packages=("dash",), uid=uid, gid=gid)
    assert fresh.key != plan.key
    first = dock.ensure_image(client, fresh, work)
    t = time.monotonic()
    again = dock.ensure_image(client, fresh, work)
    cached_s = time.monotonic() - t
    assert first.built and not again.built
    client.images.remove(fresh.tag, force=True)
    print(f"image: plan {plan_s:.2f} s ({len(plan.packages)} packages)")
    print(f"image: first build {first.seconds:.2f} s, cached lookup {cached_s * 1e3:.0f} ms")
    return dock.ensure_image(client, plan, work).tag


def bench_exec(work: Path, tag: str, n: int = 30) -> None:
    env = inspect_python(sys.executable, exclude=(work,))
    settings = dock.DockerSettings(image=tag, python_paths=env.paths)
    client = dock.engine()
    boxes = {
        "docker": dock.open_docker(EXAMPLE, work / "d", "base", settings, client, env),
        "local": LocalSandbox.create(EXAMPLE, work / "l", "base"),
    }
    try:
        for name, argv in (("true", ["true"]), ("python -c pass", [sys.executable, "-c", "pass"])):
            times: dict[str, list[float]] = {k: [] for k in boxes}
            for box in boxes.values():
                box.exec(argv, timeout_s=60)  # starts the container; not timed
            for _ in range(n):
                for kind, box in boxes.items():
                    t = time.monotonic()
                    assert box.exec(argv, timeout_s=60).ok
                    times[kind].append(time.monotonic() - t)
            d, lo = statistics.median(times["docker"]), statistics.median(times["local"])
            print(
                f"exec {name:15s}: docker {d * 1e3:6.1f} ms, local {lo * 1e3:6.1f} ms, "
                f"docker adds {(d - lo) * 1e3:5.1f} ms per command (median of {n})"
            )
    finally:
        for box in boxes.values():
            box.close()


def demo_steps(sandbox: str, runs: Path, run_id: str) -> tuple[float, dict[int, float]]:
    request = OptimizeRequest(
        repo=EXAMPLE,
        overrides={
            "model": f"scripted:{EXAMPLE / 'demo.yaml'}",
            "sandbox": sandbox,
            "timing": {"rounds": 6, "max_rounds": 6},
        },
        runs_dir=runs,
        run_id=run_id,
    )
    t = time.monotonic()
    run_optimize(request, console=Console(file=io.StringIO()))
    total = time.monotonic() - t
    traj = json.loads((runs / run_id / "trajectory.json").read_text())
    return total, {s["index"]: s["duration_s"] for s in traj["steps"] if s.get("tests")}


def bench_runs(work: Path, reps: int) -> None:
    overheads: list[float] = []
    ratios: list[float] = []
    totals: dict[str, list[float]] = {"docker": [], "local": []}
    for rep in range(reps):
        order = ("local", "docker") if rep % 2 == 0 else ("docker", "local")
        steps = {}
        for sandbox in order:
            total, steps[sandbox] = demo_steps(sandbox, work / "runs", f"{sandbox}-{rep}")
            totals[sandbox].append(total)
        for index, local_s in sorted(steps["local"].items()):
            docker_s = steps["docker"][index]
            overheads.append(docker_s - local_s)
            ratios.append(docker_s / local_s)
            print(
                f"rep {rep} step {index}: docker {docker_s:6.2f} s, local {local_s:6.2f} s, "
                f"overhead {docker_s - local_s:+5.2f} s, ratio {docker_s / local_s:.2f}"
            )
    print(
        f"per candidate: overhead mean {statistics.mean(overheads):+.2f} s, "
        f"max {max(overheads):+.2f} s, ratio docker/local mean {statistics.mean(ratios):.2f} "
        f"over {len(overheads)} candidates (target <= 2 s)"
    )
    print(
        f"whole demo run: docker {statistics.mean(totals['docker']):.1f} s, "
        f"local {statistics.mean(totals['local']):.1f} s (image cached)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2, help="demo runs per sandbox")
    parser.add_argument("--skip-runs", action="store_true", help="image and exec only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="perfsmith-bench-") as tmp:
        work = Path(tmp)
        tag = bench_image(work)
        bench_exec(work, tag)
        if not args.skip_runs:
            bench_runs(work, args.reps)


if __name__ == "__main__":
    main()
