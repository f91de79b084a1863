"""Check, time and profile the suite's CUDA kernels and the CUDA exploit kernels on a GPU.

For every task of the suite with CUDA sources: compile the naive and expert kernels for
this GPU (timed), run the correctness checks on both, time them in interleaved trials
(speedup with its interval), read NVML (energy per call, power, utilisation) and, when
``ncu`` works, a few Nsight Compute metrics. Then every exploit kernel of
tests/fixtures/kernels/exploits_cuda must be caught, by the checks its manifest names.
Results go to OUT/gpu_results.json and OUT/gpu_summary.md; progress goes to stdout.

    PYTHONPATH=src python3 scripts/gpu_check.py --out DIR [--suite benchmarks/kernels-lite]
        [--budget-s 420] [--compile-only] [--no-ncu] [--tasks softmax,matmul]

Exit status: 0 when every naive and expert kernel is correct and every exploit is caught;
1 when one is not (or was skipped for lack of time); 2 when there is no usable GPU (or no
CUDA runtime library), quickly and with one paragraph saying why. ``--compile-only`` needs
no GPU: it builds everything and runs the state check (exit 1 if a build fails, an expert
keeps state, or an exploit whose manifest expects the state check passes it).

Needs only the standard library, NumPy, PyYAML, nvidia-ml-py (for NVML; optional) and a
CUDA toolkit or NVIDIA's nvcc/runtime wheels.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from perfsmith.errors import PerfsmithError
from perfsmith.kernels.cuda import (
    GpuBuild,
    build_gpu_kernel,
    cuda_mutable_state,
    cuda_state_message,
    find_cudart,
    find_nvcc,
)
from perfsmith.kernels.cudart import Runtime, gpu_spec, peak_bandwidth
from perfsmith.kernels.gpu_job import evaluate_in_subprocess
from perfsmith.kernels.gpu_profile import GpuMonitor, find_ncu, profile_kernel
from perfsmith.kernels.spec import KernelTask, is_kernel_task, load_kernel_task

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "benchmarks" / "kernels-lite"
EXPLOITS = ROOT / "tests" / "fixtures" / "kernels" / "exploits_cuda"
EXPLOIT_RESERVE_S = 90.0  # kept free for the exploits while the suite runs
TASK_LIMIT_S = 150.0
EXPLOIT_LIMIT_S = 60.0
NCU_LIMIT_S = 90.0
NCU_MIN_S = 25.0
GPU_RUNS = ("naive", "expert")


def say(text: str) -> None:
    print(text, flush=True)


class Clock:
    """The run's time budget."""

    def __init__(self, budget_s: float) -> None:
        self.start, self.budget = time.monotonic(), budget_s

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def left(self) -> float:
        return self.budget - self.elapsed()


def cuda_tasks(suite: Path, only: set[str] | None) -> dict[str, KernelTask]:
    tasks = {}
    for folder in sorted(p for p in suite.iterdir() if p.is_dir()):
        if only and folder.name not in only:
            continue
        if is_kernel_task(folder):
            task = load_kernel_task(folder)
            if task.cuda_kernel and task.cuda_expert:
                tasks[folder.name] = task
    return tasks


def load_exploits(folder: Path) -> tuple[KernelTask, dict[str, dict[str, Any]]]:
    manifest = yaml.safe_load((folder / "exploits.yaml").read_text(encoding="utf-8"))
    task = load_kernel_task((folder / manifest["task"]).resolve(), "fixtures")
    exploits = {}
    for name, entry in manifest["exploits"].items():
        exploits[name] = {
            "source": folder / f"{name}.cu",
            "what": entry["what"],
            "expected": list(entry["caught_by"]),
        }
    return task, exploits


def tool_versions(nvcc: Path | None) -> dict[str, Any]:
    import numpy

    version = ""
    if nvcc is not None:
        res = subprocess.run([str(nvcc), "--version"], capture_output=True, text=True)
        version = res.stdout.strip().splitlines()[-1] if res.stdout.strip() else ""
    ncu = find_ncu()
    return {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "nvcc": None if nvcc is None else str(nvcc),
        "nvcc_version": version,
        "cudart": None if (lib := find_cudart(nvcc)) is None else str(lib),
        "ncu": None if ncu is None else str(ncu),
        "host": platform.node(),
        "cpus": os.cpu_count(),
    }


# -- builds -------------------------------------------------------------------------------


def build_all(
    jobs: dict[str, Path], out: Path, arch: str, nvcc: Path
) -> dict[str, tuple[GpuBuild, list[str]]]:
    """Compile and link every source (in parallel) and run the state check on each."""

    def one(key: str) -> tuple[GpuBuild, list[str]]:
        source = jobs[key]
        build = build_gpu_kernel(source, out / key.replace("/", "__"), arch=arch, nvcc=nvcc)
        state: list[str] = []
        if build.obj is not None:
            state = cuda_mutable_state(build.obj, build.cubins, source.read_text("utf-8"))
        return build, state

    workers = max(1, min(8, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        done = dict(zip(jobs, pool.map(one, jobs), strict=True))
    for key, (build, state) in done.items():
        status = "ok" if build.ok else "FAILED"
        keeps = f"; keeps state: {len(state)} finding(s)" if state else ""
        times = f"compile {build.compile_s:.1f} s, link {build.link_s:.1f} s"
        say(f"  build {key}: {status} ({times}){keeps}")
        if not build.ok:
            say("    " + build.log.strip()[-1500:].replace("\n", "\n    "))
    return done


def build_record(build: GpuBuild, state: list[str]) -> dict[str, Any]:
    return {**build.to_dict(), "state": state}


# -- GPU phases ---------------------------------------------------------------------------


def findings_of(result: dict[str, Any], label: str) -> list[dict[str, str]]:
    return list(((result.get("kernels") or {}).get(label) or {}).get("findings") or [])


def run_task(
    name: str,
    task: KernelTask,
    builds: dict[str, tuple[GpuBuild, list[str]]],
    work: Path,
    clock: Clock,
) -> dict[str, Any]:
    record: dict[str, Any] = {"instance_id": task.instance_id}
    libs = {}
    for label in GPU_RUNS:
        build, state = builds[f"{name}/{label}"]
        record[label] = {"build": build_record(build, state)}
        if build.ok and build.lib is not None:
            libs[label] = {"lib": str(build.lib)}
    limit = min(TASK_LIMIT_S, clock.left() - EXPLOIT_RESERVE_S)
    if len(libs) < len(GPU_RUNS):
        record["error"] = "a build failed"
        return record
    if limit < 20:
        record["skipped"] = f"not enough time left ({clock.left():.0f} s)"
        return record
    job = {
        "task": str(task.folder),
        "suite": task.suite,
        "kernels": libs,
        "baseline": "naive",
        "max_trials": 30,
        "min_trials": 8,
        "timing_budget_s": min(15.0, max(4.0, limit / 5)),
        "energy_s": 1.0,
    }
    result = evaluate_in_subprocess(job, timeout_s=limit, work_dir=work / "jobs")
    record["result"] = result
    for label in GPU_RUNS:
        _, state = builds[f"{name}/{label}"]
        found = findings_of(result, label)
        found += [{"check": "state", "message": cuda_state_message(state)}] if state else []
        record[label]["findings"] = found
        done = result.get("phase") == "done" and "error" not in result
        record[label]["correct"] = done and not found
    return record


def run_exploit(
    name: str,
    info: dict[str, Any],
    fixture: KernelTask,
    baseline: GpuBuild,
    builds: dict[str, tuple[GpuBuild, list[str]]],
    work: Path,
    clock: Clock,
) -> dict[str, Any]:
    build, state = builds[f"exploits/{name}"]
    record: dict[str, Any] = {
        "what": info["what"],
        "expected": info["expected"],
        "build": build_record(build, state),
    }
    findings = [{"check": "state", "message": cuda_state_message(state)}] if state else []
    limit = min(EXPLOIT_LIMIT_S, clock.left() - 5)
    if not build.ok or build.lib is None or baseline.lib is None:
        record["error"] = "a build failed"
    elif limit < 10:
        record["skipped"] = f"not enough time left ({clock.left():.0f} s)"
    else:
        job = {
            "task": str(fixture.folder),
            "suite": "fixtures",
            "kernels": {"naive": {"lib": str(baseline.lib)}, name: {"lib": str(build.lib)}},
            "baseline": "naive",
            "max_trials": 8,
            "min_trials": 8,
            "timing_budget_s": 10.0,
            "energy_s": 0.0,
        }
        result = evaluate_in_subprocess(job, timeout_s=limit, work_dir=work / "jobs")
        record["result"] = result
        findings += findings_of(result, name)
        if result.get("error"):
            record["error"] = result["error"]
        naive = findings_of(result, "naive")
        if naive:
            record["baseline_findings"] = naive
    caught_by = sorted({f["check"] for f in findings})
    record["findings"] = findings
    record["caught_by"] = caught_by
    record["caught"] = bool(caught_by)
    record["as_expected"] = set(info["expected"]) <= set(caught_by)
    return record


def run_ncu(
    tasks: dict[str, KernelTask],
    builds: dict[str, tuple[GpuBuild, list[str]]],
    records: dict[str, dict[str, Any]],
    clock: Clock,
) -> None:
    blocked = None
    for name, task in tasks.items():
        for label in GPU_RUNS:
            build, _ = builds[f"{name}/{label}"]
            slot = records[name].setdefault("ncu", {})
            if blocked:
                slot[label] = {"status": blocked}
                continue
            if build.lib is None:
                slot[label] = {"status": "no build"}
                continue
            if clock.left() < NCU_MIN_S:
                slot[label] = {"status": f"skipped: {clock.left():.0f} s left"}
                continue
            say(f"  ncu {name}/{label} ...")
            result = profile_kernel(
                task.folder,
                build.lib,
                suite=task.suite,
                timeout_s=min(NCU_LIMIT_S, clock.left() - 5),
            )
            slot[label] = result
            say(f"    {result.get('text')}")
            if result["status"] in ("not permitted", "unavailable"):
                blocked = f"{result['status']} (see the first profiled kernel)"


# -- report -------------------------------------------------------------------------------


def _f(value: Any, fmt: str, scale: float = 1.0, none: str = "-") -> str:
    if value is None:
        return none
    return format(value * scale, fmt)


def _speedup_text(s: dict[str, Any] | None) -> str:
    if not s:
        return "-"
    return f"{s['estimate']:.2f}x [{s['low']:.2f}, {s['high']:.2f}]"


def _verdict(entry: dict[str, Any]) -> str:
    if entry.get("correct"):
        return "correct"
    checks = sorted({f["check"] for f in entry.get("findings") or []})
    return "FAILED " + ",".join(checks) if checks else "not run"


def _ncu_cell(got: dict[str, Any]) -> str:
    if got.get("status") != "ok":
        return str(got.get("status", "-"))
    total = got["total"]
    return (
        f"{_f(total.get('dram_pct_of_peak'), '.0f')}/{_f(total.get('sm_pct_of_peak'), '.0f')}/"
        f"{_f(total.get('occupancy_pct'), '.0f')}"
    )


def _task_row(name: str, rec: dict[str, Any]) -> str:
    result = rec.get("result") or {}
    kernels = result.get("kernels") or {}
    timing = [(kernels.get(label) or {}).get("timing") or {} for label in GPU_RUNS]
    energy = [
        ((kernels.get(label) or {}).get("energy") or {}).get("energy_mj_per_call")
        for label in GPU_RUNS
    ]
    speed = (result.get("speedups") or {}).get("expert")
    ncu = rec.get("ncu") or {}
    builds = [
        _f(((rec.get(label) or {}).get("build") or {}).get("compile_s"), ".1f")
        for label in GPU_RUNS
    ]
    cells = [
        name,
        "/".join(builds),
        _verdict(rec.get("naive") or {}),
        _verdict(rec.get("expert") or {}),
        _f(timing[0].get("event_median_s"), ".4f", 1e3),
        _f(timing[1].get("event_median_s"), ".4f", 1e3),
        _speedup_text(speed),
        _speedup_text((speed or {}).get("host")),
        f"{timing[0].get('trials', '-')}/{timing[1].get('trials', '-')}",
        f"{_f(energy[0], '.3f')}/{_f(energy[1], '.3f')}",
        _ncu_cell(ncu.get("naive") or {}),
        _ncu_cell(ncu.get("expert") or {}),
    ]
    return "| " + " | ".join(cells) + " |"


def summary_markdown(report: dict[str, Any]) -> str:
    lines = ["# GPU check", ""]
    if report.get("gpu_text"):
        lines += [report["gpu_text"], ""]
    tools = report.get("tools", {})
    lines += [
        f"nvcc: {tools.get('nvcc_version') or tools.get('nvcc')}; runtime: {tools.get('cudart')}; "
        f"ncu: {tools.get('ncu')}; Python {tools.get('python')}, NumPy {tools.get('numpy')}.",
        f"Mode: {report['mode']}; wall time {report['wall_s']:.0f} s of a "
        f"{report['budget_s']:.0f} s budget.",
        "",
        "## Suite",
        "",
        "| task | compile s (naive/expert) | naive | expert | naive median ms | expert median "
        "ms | speedup [95% CI] (events) | host-time speedup | trials | energy mJ/call "
        "(naive/expert) | ncu naive: DRAM%/SM%/occ% | ncu expert: DRAM%/SM%/occ% |",
        "|" + "---|" * 12,
    ]
    for name, rec in report.get("tasks", {}).items():
        lines.append(_task_row(name, rec))
    lines += [
        "",
        "## Exploits",
        "",
        "| exploit | what | must be caught by | caught by | verdict |",
        "|---|---|---|---|---|",
    ]
    for name, rec in report.get("exploits", {}).items():
        verdict = "caught" if rec.get("caught") else "NOT CAUGHT"
        if rec.get("caught") and not rec.get("as_expected"):
            verdict += " (not by all expected checks)"
        if rec.get("skipped"):
            verdict = f"skipped: {rec['skipped']}"
        lines.append(
            f"| {name} | {rec['what']} | {', '.join(rec['expected'])} | "
            f"{', '.join(rec.get('caught_by') or []) or '-'} | {verdict} |"
        )
    for name, rec in report.get("exploits", {}).items():
        for finding in (rec.get("findings") or [])[:2]:
            lines.append(f"- {name} / {finding['check']}: {finding['message'][:300]}")
    lines += [
        "",
        "## Builds",
        "",
        "| kernel | builds | compile s | link s | state check |",
        "|---|---|---|---|---|",
    ]
    for key, build in report.get("builds", {}).items():
        state = f"{len(build['state'])} finding(s)" if build["state"] else "no state"
        lines.append(
            f"| {key} | {'yes' if build['ok'] else 'NO'} | {build['compile_s']:.1f} | "
            f"{build['link_s']:.1f} | {state} |"
        )
    if report.get("skipped"):
        lines += ["", "## Skipped", ""] + [f"- {item}" for item in report["skipped"]]
    if report.get("problems"):
        lines += ["", "## Problems", ""] + [f"- {p}" for p in report["problems"]]
    lines += ["", f"Verdict: {'OK' if report['ok'] else 'NOT OK'}.", ""]
    return "\n".join(lines)


def write_report(out: Path, report: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_results.json").write_text(
        json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8"
    )
    (out / "gpu_summary.md").write_text(summary_markdown(report), encoding="utf-8")


# -- main ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--suite", type=Path, default=SUITE)
    parser.add_argument("--exploits", type=Path, default=EXPLOITS)
    parser.add_argument("--budget-s", type=float, default=420.0)
    parser.add_argument("--compile-only", action="store_true")
    parser.add_argument("--arch", help="for --compile-only (default sm_90); else the GPU's")
    parser.add_argument("--no-ncu", action="store_true")
    parser.add_argument("--tasks", help="comma-separated task folders (default: all)")
    parser.add_argument("--keep-builds", action="store_true", help="build under OUT/build")
    args = parser.parse_args(argv)
    clock = Clock(args.budget_s)
    out: Path = args.out
    report: dict[str, Any] = {
        "mode": "compile-only" if args.compile_only else "gpu",
        "budget_s": args.budget_s,
        "problems": [],
        "skipped": [],
    }
    spec = None
    if not args.compile_only:
        try:
            runtime = Runtime()
            # No context here (memory=False): the children that run the kernels get the GPU
            # to themselves, even where it is in an exclusive compute mode.
            spec = gpu_spec(runtime, memory=False)
        except PerfsmithError as exc:
            say(f"gpu_check: {exc.message} {exc.hint}".strip())
            return 2
    nvcc = find_nvcc()
    if nvcc is None:
        say("gpu_check: no nvcc found (PATH, CUDA_HOME, /usr/local/cuda or the wheels).")
        return 2
    report["tools"] = tool_versions(nvcc)
    arch = spec.arch if spec is not None else (args.arch or "sm_90")
    if spec is not None:
        report["gpu"] = spec.to_dict()
        report["gpu_text"] = spec.text()
        say(spec.text())
        monitor, why = GpuMonitor.open(spec.pci_bus_id)
        report["nvml"] = monitor.snapshot() if monitor is not None else {"status": why}
        clock_mhz = report["nvml"].get("max_memory_clock_mhz")
        bus_bits = report["nvml"].get("memory_bus_bits")
        if clock_mhz and bus_bits:  # a cross-check of the runtime's attributes
            report["peak_bandwidth_nvml"] = peak_bandwidth(int(clock_mhz) * 1000, int(bus_bits))
    only = set(args.tasks.split(",")) if args.tasks else None
    tasks = cuda_tasks(args.suite, only)
    fixture, exploits = load_exploits(args.exploits)
    say(f"{len(tasks)} CUDA task(s): {', '.join(tasks)}; {len(exploits)} exploit(s); arch {arch}")

    scratch = Path(tempfile.mkdtemp(prefix="gpu-check-"))
    build_root = out / "build" if args.keep_builds else scratch / "build"
    try:
        jobs: dict[str, Path] = {}
        for name, task in tasks.items():
            jobs[f"{name}/naive"] = task.folder / (task.cuda_kernel or "")
            jobs[f"{name}/expert"] = task.folder / (task.cuda_expert or "")
        jobs["fixture/naive"] = fixture.folder / (fixture.cuda_kernel or "")
        for name, info in exploits.items():
            jobs[f"exploits/{name}"] = info["source"]
        say(f"compiling {len(jobs)} kernels for {arch} ...")
        builds = build_all(jobs, build_root, arch, nvcc)
        report["builds"] = {key: build_record(b, s) for key, (b, s) in builds.items()}
        for key, (build, state) in builds.items():
            if not build.ok:
                report["problems"].append(f"{key} does not build")
            elif state and not key.startswith("exploits/"):
                report["problems"].append(f"{key} keeps state: {'; '.join(state)}")

        if args.compile_only:
            for name, info in exploits.items():
                _, state = builds[f"exploits/{name}"]
                if "state" in info["expected"] and not state:
                    report["problems"].append(f"exploit {name} passes the state check")
            report["ok"] = not report["problems"]
            report["wall_s"] = clock.elapsed()
            write_report(out, report)
            say(f"compile-only: {'OK' if report['ok'] else 'NOT OK'} ({clock.elapsed():.0f} s)")
            return 0 if report["ok"] else 1

        report["tasks"] = {}
        for name, task in tasks.items():
            say(f"task {name}: checks, timing, energy ({clock.left():.0f} s left) ...")
            try:
                record = run_task(name, task, builds, scratch, clock)
            except Exception:  # a bug here must not cost the rest of the run
                record = {"error": traceback.format_exc()[-3000:]}
                say(record["error"])
            report["tasks"][name] = record
            summarize_task(name, record, report)
            write_report(out, {**report, "ok": False, "wall_s": clock.elapsed()})

        report["exploits"] = {}
        baseline, _ = builds["fixture/naive"]
        for name, info in exploits.items():
            say(f"exploit {name} ({clock.left():.0f} s left) ...")
            try:
                record = run_exploit(name, info, fixture, baseline, builds, scratch, clock)
            except Exception:
                record = {"what": info["what"], "expected": info["expected"], "caught": False,
                          "caught_by": [], "as_expected": False,
                          "error": traceback.format_exc()[-3000:]}  # fmt: skip
                say(record["error"])
            report["exploits"][name] = record
            summarize_exploit(name, record, report)
            write_report(out, {**report, "ok": False, "wall_s": clock.elapsed()})

        if not args.no_ncu and find_ncu() is not None:
            say(f"Nsight Compute ({clock.left():.0f} s left) ...")
            try:
                run_ncu(tasks, builds, report["tasks"], clock)
            except Exception:
                report["skipped"].append("ncu: " + traceback.format_exc()[-2000:])
        else:
            report["skipped"].append("ncu: " + ("--no-ncu" if args.no_ncu else "not installed"))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    report["ok"] = not report["problems"]
    report["wall_s"] = clock.elapsed()
    write_report(out, report)
    say(summary_markdown(report))
    say(f"wrote {out / 'gpu_results.json'} and {out / 'gpu_summary.md'}")
    return 0 if report["ok"] else 1


def summarize_exploit(name: str, record: dict[str, Any], report: dict[str, Any]) -> None:
    caught = record.get("caught_by") or []
    line = f"  caught by {', '.join(caught)}" if record.get("caught") else "  NOT CAUGHT"
    if not record.get("as_expected"):
        line += f" (must be caught by: {', '.join(record['expected'])})"
    say(line)
    for finding in (record.get("findings") or [])[:3]:
        say(f"    {finding['check']}: {finding['message'][:300]}")
    if record.get("skipped"):
        report["skipped"].append(f"exploit {name}: {record['skipped']}")
    if not record.get("caught"):
        report["problems"].append(f"exploit {name} was not caught")
    elif not record.get("as_expected"):
        # Caught, but not by the check meant for it: that check may be blind (a race can
        # let another check catch it by chance), so the run does not pass.
        report["problems"].append(
            f"exploit {name} was not caught by {', '.join(record['expected'])}"
        )


def summarize_task(name: str, record: dict[str, Any], report: dict[str, Any]) -> None:
    result = record.get("result") or {}
    if record.get("skipped"):
        report["skipped"].append(f"task {name}: {record['skipped']}")
    if result.get("error"):
        say(f"  error: {result['error']}")
        say("  " + str((result.get("child") or {}).get("output_tail", ""))[-1500:])
    for label in GPU_RUNS:
        entry = record.get(label) or {}
        timing = ((result.get("kernels") or {}).get(label) or {}).get("timing") or {}
        median = timing.get("event_median_s")
        state = "correct" if entry.get("correct") else "NOT CORRECT"
        say(
            f"  {label}: {state}; {timing.get('trials', 0)} trials, median "
            f"{_f(median, '.4f', 1e3)} ms (events), {_f(timing.get('host_median_s'), '.4f', 1e3)} "
            "ms (host)"
        )
        for finding in (entry.get("findings") or [])[:4]:
            say(f"    {finding['check']}: {finding['message'][:400]}")
        if not entry.get("correct"):
            report["problems"].append(f"{name}/{label} is not correct on the GPU")
    speed = (result.get("speedups") or {}).get("expert")
    if speed:
        host = _speedup_text(speed.get("host"))
        say(f"  speedup expert/naive: {_speedup_text(speed)} (host: {host})")


if __name__ == "__main__":
    sys.exit(main())
