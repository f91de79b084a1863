"""The example projects under examples/ and their scripted demos.

Each example is a small, real-looking project with its own tests, a workload and a
``demo.yaml`` that replays a Coder/Judge conversation. These tests check, without perfsmith's
own machinery, that the demo edits do what the demo claims: step 1 applies to the base and
breaks a test; step 2 applies to the base, step 3 on top of step 2, both keep the tests green
and the workload's return value unchanged. Everything runs in temporary copies so that no
cache or bytecode is ever written into examples/.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
EXAMPLES = ("logstats", "textsearch")

SEARCH_MARK = "<<<<<<< SEARCH"
DIVIDER_MARK = "======="
REPLACE_MARK = ">>>>>>> REPLACE"

# Runs a project's workload in a fresh process: prints the repr of its return value for
# each seed, and the median CPU seconds per call for the first seed when timing is asked for
# (CPU time suffers less than wall time from other load on the machine).
_WORKLOAD_RUNNER = """
import importlib.util, json, os, statistics, sys, time
sys.path.insert(0, os.getcwd())
spec = importlib.util.spec_from_file_location("bench_workload", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
calls = int(sys.argv[2])
out = {"values": {}, "median_s": None}
for seed in sys.argv[3:]:
    os.environ["PERFSMITH_SEED"] = seed
    module.setup()
    out["values"][seed] = repr(module.workload())
    if calls and out["median_s"] is None:
        samples = []
        for _ in range(calls):
            start = time.process_time()
            module.workload()
            samples.append(time.process_time() - start)
        out["median_s"] = statistics.median(samples)
print(json.dumps(out))
"""


@dataclass(frozen=True)
class Block:
    """One SEARCH/REPLACE block of a Coder reply."""

    path: str
    search: str
    replace: str


def parse_reply(text: str) -> list[Block]:
    """Split a Coder reply into its blocks (the path is the last non-blank line before one)."""
    lines = text.splitlines(keepends=True)
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        if lines[i].rstrip() != SEARCH_MARK:
            i += 1
            continue
        path = next(line.strip() for line in reversed(lines[:i]) if line.strip())
        divider = next(j for j in range(i + 1, len(lines)) if lines[j].rstrip() == DIVIDER_MARK)
        end = next(j for j in range(divider + 1, len(lines)) if lines[j].rstrip() == REPLACE_MARK)
        blocks.append(
            Block(path, "".join(lines[i + 1 : divider]), "".join(lines[divider + 1 : end]))
        )
        i = end + 1
    return blocks


def apply_reply(root: Path, text: str) -> None:
    """Apply a reply's blocks in order; each SEARCH text must occur exactly once."""
    blocks = parse_reply(text)
    assert blocks, "the reply has no SEARCH/REPLACE block"
    for number, block in enumerate(blocks, start=1):
        target = root / block.path
        content = target.read_text(encoding="utf-8")
        found = content.count(block.search)
        assert found == 1, f"block {number} ({block.path}): SEARCH text found {found} times"
        target.write_text(content.replace(block.search, block.replace), encoding="utf-8")


def load_demo(name: str) -> dict[str, Any]:
    data = yaml.safe_load((EXAMPLES_DIR / name / "demo.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def coder_texts(name: str) -> list[str]:
    return [item if isinstance(item, str) else item["text"] for item in load_demo(name)["coder"]]


def copy_example(name: str, dest: Path) -> Path:
    root = dest / name
    shutil.copytree(
        EXAMPLES_DIR / name, root, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache")
    )
    return root


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PERFSMITH_"))}
    # Plugins of unrelated installed packages can add seconds to every pytest start.
    env.update(
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONPATH=".",
        PYTHONHASHSEED="0",
        PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
    )
    return env


def run_tests(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=root,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def run_workload(root: Path, seeds: tuple[str, ...] = ("0", "1"), calls: int = 0) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", _WORKLOAD_RUNNER, "bench/workload.py", str(calls), *seeds],
        cwd=root,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_applier_is_strict(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("a = 1\nb = 1\n", encoding="utf-8")
    reply = "Why.\n\nm.py\n<<<<<<< SEARCH\na = 1\n=======\na = 2\n>>>>>>> REPLACE\n"
    apply_reply(tmp_path, reply)
    assert (tmp_path / "m.py").read_text(encoding="utf-8") == "a = 2\nb = 1\n"
    with pytest.raises(AssertionError, match="found 0 times"):
        apply_reply(tmp_path, reply)
    (tmp_path / "m.py").write_text("x = 0\nx = 0\n", encoding="utf-8")
    with pytest.raises(AssertionError, match="found 2 times"):
        apply_reply(tmp_path, reply.replace("a = 1", "x = 0"))


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_layout(name: str) -> None:
    root = EXAMPLES_DIR / name
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    assert config["project"]["name"] == name
    perfsmith = config["tool"]["perfsmith"]
    assert perfsmith["workload"] == "bench/workload.py"
    assert perfsmith["tests"] == ["tests"]
    assert perfsmith["target"] == "latency"
    for needed in ("README.md", "bench/workload.py", f"{name}/__init__.py", "demo.yaml"):
        assert (root / needed).is_file(), needed
    assert len(list((root / "tests").glob("test_*.py"))) >= 3
    assert not (root / ".git").exists(), "examples are plain folders tracked by the parent repo"
    workload = (root / "bench" / "workload.py").read_text(encoding="utf-8")
    assert 'os.environ.get("PERFSMITH_SEED", "0")' in workload
    assert "def setup()" in workload and "def workload()" in workload


@pytest.mark.parametrize("name", EXAMPLES)
def test_demo_script_shape(name: str) -> None:
    demo = load_demo(name)
    assert len(demo["coder"]) == 3
    for item in demo["coder"]:
        assert isinstance(item, dict)
        assert {"text", "prompt_tokens", "completion_tokens", "cost_usd"} <= set(item)
        rationale = item["text"].split(SEARCH_MARK, 1)[0]
        assert len(rationale.split()) > 20, "each reply explains itself before its blocks"
    decisions = [json.loads(reply)["decision"] for reply in demo["judge"]]
    assert decisions == ["discard", "keep", "stop"]
    for reply in demo["judge"]:
        assert set(json.loads(reply)) == {"decision", "bottleneck", "next_step", "suspicion"}


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_tests_pass(name: str, tmp_path: Path) -> None:
    done = run_tests(copy_example(name, tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert " passed" in done.stdout


@pytest.mark.parametrize("name", EXAMPLES)
def test_demo_first_edit_breaks_a_test(name: str, tmp_path: Path) -> None:
    root = copy_example(name, tmp_path)
    apply_reply(root, coder_texts(name)[0])
    done = run_tests(root)
    assert done.returncode == 1, done.stdout + done.stderr  # 1: tests ran and some failed
    assert " failed" in done.stdout


@pytest.mark.parametrize("name", EXAMPLES)
def test_demo_kept_edits_pass_and_keep_the_workload_value(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = copy_example(name, tmp_path / "base")
    step2 = copy_example(name, tmp_path / "step2")
    final = copy_example(name, tmp_path / "step3")
    texts = coder_texts(name)
    apply_reply(step2, texts[1])
    apply_reply(final, texts[1])
    apply_reply(final, texts[2])
    for root in (step2, final):
        done = run_tests(root)
        assert done.returncode == 0, done.stdout + done.stderr

    calls = 5
    before = run_workload(base, calls=calls)
    after2 = run_workload(step2, calls=calls)
    after3 = run_workload(final, calls=calls)
    assert after2["values"] == before["values"]
    assert after3["values"] == before["values"]
    assert before["values"]["0"] != before["values"]["1"], "the seed must change the inputs"

    # Reported, never asserted: this machine is too noisy for timing assertions.
    base_s, two_s, three_s = (float(r["median_s"]) for r in (before, after2, after3))
    with capsys.disabled():
        print(
            f"\n{name}: workload, median CPU time of {calls} calls: base {1000 * base_s:.1f} ms, "
            f"step 2 {1000 * two_s:.1f} ms ({base_s / two_s:.1f}x), "
            f"steps 2+3 {1000 * three_s:.1f} ms ({base_s / three_s:.1f}x)"
        )


@pytest.mark.parametrize("name", EXAMPLES)
def test_demo_edits_agree_with_perfsmith_edits(name: str) -> None:
    edits = pytest.importorskip("perfsmith.agents.edits")
    root = EXAMPLES_DIR / name
    base = {
        str(path.relative_to(root)): path.read_text(encoding="utf-8")
        for path in root.rglob("*.py")
        if "__pycache__" not in path.parts
    }
    texts = coder_texts(name)
    for chain in ((texts[0],), (texts[1], texts[2])):
        files = dict(base)
        for text in chain:
            parsed = edits.parse_blocks(text)
            ours = parse_reply(text)
            assert [(b.path, b.search, b.replace) for b in parsed.blocks] == [
                (b.path, b.search, b.replace) for b in ours
            ]
            assert parsed.rationale.split() == text.split(SEARCH_MARK)[0].split()[:-1]
            files = {**files, **edits.apply_blocks(files, parsed.blocks)}
        assert files != base
