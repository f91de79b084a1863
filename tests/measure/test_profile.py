"""Profiling a real workload down to its hot functions with their source."""

from __future__ import annotations

import json
import pstats
import sys
from pathlib import Path

import pytest

from perfsmith.core import Profile
from perfsmith.errors import WorkloadError
from perfsmith.measure.profile import (
    MAX_SOURCE_LINES,
    OUTSIDE_MIN_SHARE,
    function_source,
    profile_workload,
)
from tests.measure.boxes import Box

PY = sys.executable

CORE = """
import functools


def prepare(n):
    return [(i * 7919) % 1000 for i in range(n)]


class Cruncher:
    def crunch(self, data):
        total = 0
        for x in data:
            for _ in range(20):
                total += x % 7
        return total


def cheap(data):
    return len(data)


@functools.lru_cache(maxsize=None)
def decorated(k):
    return k + 1
"""

WORKLOAD = """
from pkg.core import Cruncher, cheap, decorated, prepare


def setup():
    global DATA
    DATA = prepare(200_000)  # heavy, but outside the profile


def workload():
    decorated(1)
    return Cruncher().crunch(DATA[:5000]) + cheap(DATA)
"""


def make_box(tmp: Path, workload: str = WORKLOAD) -> Box:
    root = tmp / "ws"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "core.py").write_text(CORE)
    (root / "bench").mkdir()
    (root / "bench" / "wl.py").write_text(workload)
    private = tmp / "ws.private"
    private.mkdir()
    return Box(root, private)


@pytest.fixture(scope="module")
def profiled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Profile, Path]:
    tmp = tmp_path_factory.mktemp("prof")
    box = make_box(tmp)
    prof = profile_workload(
        box, PY, "bench/wl.py", pythonpath=["."], out_dir=tmp / "out", min_time_s=0.1
    )
    return prof, tmp


def test_hot_method_comes_first_with_its_source(profiled: tuple[Profile, Path]) -> None:
    prof, _ = profiled
    hot = prof.hotspots[0]
    assert hot.function == "Cruncher.crunch"
    line = CORE.splitlines().index("    def crunch(self, data):") + 1
    assert hot.location == f"pkg/core.py:{line}"
    assert hot.source.startswith("    def crunch(self, data):")
    assert hot.source.rstrip().endswith("return total")
    assert hot.own_share > 0.5
    assert hot.calls >= 1


def test_shares_are_fractions_and_workload_is_the_whole(profiled: tuple[Profile, Path]) -> None:
    prof, _ = profiled
    assert prof.total_s > 0
    for h in prof.hotspots:
        assert 0 <= h.own_share <= h.cum_share <= 1.0
    entry = next(h for h in prof.hotspots if h.function == "workload")
    assert entry.location.startswith("bench/wl.py:")
    assert entry.cum_share == pytest.approx(1.0, abs=0.02)


def test_setup_and_harness_frames_stay_out(profiled: tuple[Profile, Path]) -> None:
    prof, _ = profiled
    names = {h.function for h in prof.hotspots}
    assert "prepare" not in names and "setup" not in names
    assert not any("perfsmith_worker" in h.location for h in prof.hotspots)
    assert not any("Profiler" in h.function for h in prof.hotspots)


def test_hotspots_are_ranked_by_own_time(profiled: tuple[Profile, Path]) -> None:
    prof, _ = profiled
    shares = [h.own_share for h in prof.hotspots]
    assert shares == sorted(shares, reverse=True)
    assert "Cruncher.crunch" in prof.as_text()


def test_raw_profile_is_kept_and_readable(profiled: tuple[Profile, Path]) -> None:
    prof, tmp = profiled
    assert prof.raw_path == str(tmp / "out" / "profile.pstats")
    assert pstats.Stats(prof.raw_path).total_tt > 0  # type: ignore[attr-defined]
    summary = json.loads((tmp / "out" / "profile.json").read_text())
    assert summary["calls"] >= 1


def test_top_limits_the_count(tmp_path: Path) -> None:
    box = make_box(tmp_path)
    prof = profile_workload(
        box, PY, "bench/wl.py", pythonpath=["."], out_dir=tmp_path / "o", top=1, min_time_s=0.01
    )
    assert len(prof.hotspots) == 1
    assert prof.hotspots[0].function == "Cruncher.crunch"


def test_a_heavy_builtin_is_reported_without_source(tmp_path: Path) -> None:
    wl = "DATA = list(range(300_000, 0, -1))\n\ndef workload():\n    return sorted(DATA)[0]\n"
    box = make_box(tmp_path, workload=wl)
    prof = profile_workload(
        box, PY, "bench/wl.py", pythonpath=["."], out_dir=tmp_path / "o", min_time_s=0.05
    )
    builtin = next(h for h in prof.hotspots if "sorted" in h.function)
    assert builtin.source == ""
    assert builtin.own_share > OUTSIDE_MIN_SHARE
    assert builtin.location == ""


def test_crash_raises_workload_error(tmp_path: Path) -> None:
    box = make_box(tmp_path, workload="def workload():\n    raise KeyError('prof-9')\n")
    with pytest.raises(WorkloadError, match="prof-9"):
        profile_workload(box, PY, "bench/wl.py", pythonpath=["."], out_dir=tmp_path / "o")


# -- function_source ------------------------------------------------------------------


def test_function_source_of_decorated_and_nested_functions(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text(
        CORE + "\n\ndef outer():\n    def inner():\n        return 1\n    return inner\n"
    )
    lines = path.read_text().splitlines()
    deco = lines.index("@functools.lru_cache(maxsize=None)") + 1
    name, src = function_source(path, deco)
    assert name == "decorated"
    assert src.splitlines()[0] == "@functools.lru_cache(maxsize=None)"
    assert "return k + 1" in src
    inner = lines.index("    def inner():") + 1
    assert function_source(path, inner)[0] == "outer.<locals>.inner"


def test_function_source_caps_long_functions(tmp_path: Path) -> None:
    path = tmp_path / "long.py"
    body = "".join(f"    x{i} = {i}\n" for i in range(100))
    path.write_text("def long():\n" + body)
    name, src = function_source(path, 1)
    assert name == "long"
    assert len(src.splitlines()) == MAX_SOURCE_LINES + 1
    assert "more lines" in src.splitlines()[-1]


def test_function_source_without_a_definition(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text("X = 1\n")
    assert function_source(path, 1) == ("", "")
    assert function_source(tmp_path / "missing.py", 1) == ("", "")
    (tmp_path / "bad.py").write_text("def (:\n")
    assert function_source(tmp_path / "bad.py", 1) == ("", "")
