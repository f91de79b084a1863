"""`perfsmith measure`: a standalone verdict on one patch, as text and JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from perfsmith.diffs import unified_diff
from tests.loop.helpers import tiny_repo
from tests.treehash import tree_hash

BIN = Path(sys.executable).parent


def measure(repo: Path, patch: Path, tmp: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    cfg = tmp / "fast.yaml"
    cfg.write_text("timing:\n  rounds: 4\n  values: 2\n  warmups: 0\n  min_time_s: 0.02\n")
    return subprocess.run(
        [str(BIN / "perfsmith"), "measure", str(repo), "--patch", str(patch), "--config",
         str(cfg), "--out", str(tmp / "out"), *extra],
        capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip


def _patch(repo: Path, tmp: Path, path: str, old: str, new: str) -> Path:
    content = (repo / path).read_text()
    assert old in content
    out = tmp / "change.diff"
    out.write_text(unified_diff({path: content}, {path: content.replace(old, new)}))
    return out


@pytest.mark.slow
def test_json_verdict_for_a_faster_patch(tmp_path: Path) -> None:
    repo = tiny_repo(tmp_path)
    before = tree_hash(repo)
    patch = _patch(repo, tmp_path, "tiny/core.py", "time.sleep(0.02)", "time.sleep(0.005)")
    res = measure(repo, patch, tmp_path, "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert list(doc)[:2] == ["verdict", "reason"]
    assert doc["verdict"] == "faster" and doc["code"] == "ok"
    sp = doc["speedup"]
    assert sp["low"] > sp["threshold"] >= 1.05 and sp["n"] >= 4
    assert 0.0 <= sp["p_value"] <= 1.0
    names = [x["name"] for x in doc["metrics"]]
    assert names[0] == "latency" and "cpu_time" in names and "cold_latency" in names
    assert doc["tests"]["ok"] and doc["tests"]["expected"] == 3
    assert doc["fingerprint"]["id"] and "noise" in doc["baseline"]
    assert json.loads((tmp_path / "out" / "verdict.json").read_text())["verdict"] == "faster"
    assert tree_hash(repo) == before


@pytest.mark.slow
def test_text_verdict_for_a_patch_that_edits_tests(tmp_path: Path) -> None:
    repo = tiny_repo(tmp_path)
    patch = _patch(repo, tmp_path, "tests/test_core.py", "== 6", "== 6 or True")
    res = measure(repo, patch, tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("verdict: rejected (protected_path)")
    assert "tests/test_core.py" in res.stdout


def test_unreadable_patch_is_a_clear_error(tmp_path: Path) -> None:
    repo = tiny_repo(tmp_path)
    res = measure(repo, tmp_path / "missing.diff", tmp_path)
    assert res.returncode == 2
    assert "Cannot read the patch" in res.stderr and "Traceback" not in res.stderr
