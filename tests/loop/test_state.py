from __future__ import annotations

import json

from perfsmith.core import (
    Comparison,
    Grade,
    HotSpot,
    Interval,
    Measurement,
    MetricResult,
    Profile,
    TestReport,
)
from perfsmith.loop.state import measurement_from_dict, measurement_to_dict


def test_measurement_survives_a_json_round_trip() -> None:
    m = Measurement(
        status="quarantined",
        reason="warm gain vanishes cold",
        patch="diff --git a/x b/x\n",
        gate="plausibility",
        code="cache_suspected",
        grade=Grade(ok=True),
        tests=TestReport(outcomes={"t::a": "passed"}, returncode=0, duration_s=0.5),
        comparison=Comparison(
            baseline_s=(1.0, 1.1),
            candidate_s=(0.5, 0.6),
            speedup=Interval(1.9, 1.7, 2.1),
            threshold=1.05,
            significant=True,
            slower=False,
            processes=2,
            p_value=0.03,
            decided=False,
        ),
        profile=Profile((HotSpot("f", "a.py:1", 0.5, 0.6, 3, "def f(): ..."),), 1.0),
        metrics=(
            MetricResult("instructions", "instr", 2e6, 1e6, Interval(2.0, 2.0, 2.0), 1),
            MetricResult("energy", "J", 0.0, 0.0, None, 0, available=False, note="n/a"),
        ),
        flags=("memoisation",),
        artifacts={"baseline.json": "steps/001/baseline.json"},
        duration_s=3.0,
        inner_s=2.5,
    )
    back = measurement_from_dict(json.loads(json.dumps(measurement_to_dict(m))))
    assert back == m
