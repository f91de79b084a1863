"""``perfsmith bench`` through the real command: run, eval, resume, Ray, SWE-fficiency rows."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.bench.helpers import make_suite
from tests.bench.test_taskset import swe_rows
from tests.loop.helpers import HALF_PAUSE, judge

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]
FIELDS = {"instance_id", "status", "correct", "speedup", "speedup_ci_low", "speedup_ci_high",
          "n", "expert_speedup", "sr", "cost_usd", "wall_s"}  # fmt: skip


def bench(*args: str | Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "perfsmith"), "bench", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def report_tasks(folder: Path) -> dict[str, dict[str, object]]:
    doc = json.loads((folder / "report.json").read_text())
    return {t["instance_id"]: t for t in doc["tasks"]}


@pytest.mark.slow
def test_scripted_run_over_three_tasks_then_eval_reproduces_the_verdicts(tmp_path: Path) -> None:
    suite = make_suite(tmp_path)
    script = tmp_path / "script.yaml"
    script.write_text(yaml.safe_dump({"coder": [HALF_PAUSE], "judge": [judge("stop")]}))
    runs = tmp_path / "run"
    res = bench("run", suite, "--model", f"scripted:{script}", "--config", tmp_path / "fast.yaml",
                "--runs-dir", runs)  # fmt: skip
    assert res.returncode == 0, res.stderr
    results = lines(runs / "results.jsonl")
    assert [r["instance_id"] for r in results] == [
        "minisuite__alpha", "minisuite__beta", "minisuite__gamma"]  # fmt: skip
    reported = report_tasks(runs)
    for r in results:
        assert {"instance_id", "status", "correct", "speedup", "n", "expert_speedup"} <= set(r)
        assert set(reported[str(r["instance_id"])]) >= FIELDS
        assert r["status"] == "faster" and r["correct"] is True
        assert r["expert_status"] == "faster"
    predictions = lines(runs / "predictions.jsonl")
    assert len(predictions) == 3
    assert all("time.sleep(0.005)" in str(p["model_patch"]) for p in predictions)
    assert all(p["model_name_or_path"] == f"scripted:{script}" for p in predictions)
    assert "Harmonic mean SR" in (runs / "report.md").read_text()

    again = tmp_path / "eval"
    res = bench("eval", suite, "--predictions", runs / "predictions.jsonl",
                "--config", tmp_path / "fast.yaml", "--runs-dir", again)  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert [(r["instance_id"], r["status"], r["correct"]) for r in lines(again / "results.jsonl")] \
        == [(r["instance_id"], r["status"], r["correct"]) for r in results]  # fmt: skip

    res = bench("report", runs)
    assert res.returncode == 0 and "minisuite__beta" in res.stdout


@pytest.mark.slow
def test_an_interrupted_batch_resumes_without_rerunning_finished_tasks(tmp_path: Path) -> None:
    suite = make_suite(tmp_path)
    runs = tmp_path / "gold"
    argv = [str(BIN / "perfsmith"), "bench", "eval", str(suite), "--gold",
            "--config", str(tmp_path / "fast.yaml"), "--runs-dir", str(runs)]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = runs / "results.jsonl"
    deadline = time.monotonic() + 300
    while not (results.is_file() and lines(results)):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGINT)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "run the same command again to resume" in err
    first = lines(results)
    assert 1 <= len(first) < 3

    res = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False)
    assert res.returncode == 0, res.stderr
    assert f"{len(first)} finished task(s) skipped" in res.stderr
    final = lines(results)
    assert final[: len(first)] == first  # the finished lines were not measured again

    whole = tmp_path / "whole"
    res = bench("eval", suite, "--gold", "--config", tmp_path / "fast.yaml", "--runs-dir", whole)
    assert res.returncode == 0, res.stderr
    assert {(r["instance_id"], r["status"]) for r in final} == {
        (r["instance_id"], r["status"]) for r in lines(whole / "results.jsonl")
    }


@pytest.fixture
def ray_cluster(tmp_path: Path) -> Iterator[str]:
    """A local Ray head started by the test, as a user's cluster would be; its address."""
    pytest.importorskip("ray")
    port = _free_port()
    ray = [str(BIN / "ray")]
    # A throwaway cluster on this machine: no token authentication (Ray's default for
    # `ray start` wants a token file shared by every client).
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    subprocess.run(
        [*ray, "start", "--head", "--num-cpus", "2", "--port", str(port),
         "--node-ip-address", "127.0.0.1", "--include-dashboard=false",
         "--disable-usage-stats", "--temp-dir", "/tmp/ray"],
        check=True, capture_output=True, timeout=180, env=env,
    )  # fmt: skip
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([*ray, "stop", "--force"], capture_output=True, timeout=120, env=env)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_ray_executor_gives_the_same_results_as_the_local_pool(
    tmp_path: Path, ray_cluster: str
) -> None:
    suite = make_suite(tmp_path, names=("alpha", "beta"))
    got = {}
    for executor in ("local", "ray"):
        res = bench("eval", suite, "--gold", "--executor", executor, "--workers", "2",
                    "--ray-address", ray_cluster, "--config", tmp_path / "fast.yaml",
                    "--runs-dir", tmp_path / executor)  # fmt: skip
        assert res.returncode == 0, res.stderr
        got[executor] = {
            r["instance_id"]: (r["status"], r["correct"], r["expert_status"])
            for r in lines(tmp_path / executor / "results.jsonl")
        }
    assert (
        got["ray"]
        == got["local"]
        == {
            "minisuite__alpha": ("faster", True, "faster"),
            "minisuite__beta": ("faster", True, "faster"),
        }
    )


@pytest.mark.slow
def test_swefficiency_row_gold_patch_is_applied_at_the_base_commit_and_scored(
    tmp_path: Path,
) -> None:
    rows = swe_rows(tmp_path)
    (tmp_path / "fast.yaml").write_text(yaml.safe_dump({"timing": {"rounds": 4, "values": 2}}))
    out = tmp_path / "out"
    res = bench("eval", rows, "--repos", tmp_path / "repos", "--gold",
                "--config", tmp_path / "fast.yaml", "--runs-dir", out)  # fmt: skip
    assert res.returncode == 0, res.stderr
    (r,) = lines(out / "results.jsonl")
    assert r["instance_id"] == "acme__tiny-1"
    assert r["status"] == "faster" and r["correct"] is True
    assert float(r["expert_ci_low"]) > 1.2  # type: ignore[arg-type]


def test_eval_needs_exactly_one_source_of_patches(tmp_path: Path) -> None:
    suite = make_suite(tmp_path)
    res = bench("eval", suite)
    assert res.returncode == 2 and "exactly one of --predictions" in res.stderr
    res = bench("eval", suite, "--gold", "--workers", "64", "--runs-dir", tmp_path / "b")
    assert res.returncode == 2 and "share a core" in " ".join(res.stderr.split())
    assert not (tmp_path / "b").exists()  # refused before anything was written


@pytest.mark.slow
def test_predictions_for_unknown_tasks_are_skipped_with_a_warning(tmp_path: Path) -> None:
    suite = make_suite(tmp_path, names=("alpha",))
    preds = tmp_path / "preds.jsonl"
    preds.write_text(
        "\n".join(
            json.dumps({"instance_id": i, "model_name_or_path": "m", "model_patch": ""})
            for i in ("minisuite__alpha", "other__task")
        )
    )
    res = bench("eval", suite, "--predictions", preds, "--config", tmp_path / "fast.yaml",
                "--runs-dir", tmp_path / "out")  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "1 prediction(s) name no task of minisuite; skipped" in res.stderr
    (r,) = lines(tmp_path / "out" / "results.jsonl")
    assert r["instance_id"] == "minisuite__alpha" and r["status"] == "empty_patch"
    assert r["correct"] is False and r["expert_status"] == "faster"
