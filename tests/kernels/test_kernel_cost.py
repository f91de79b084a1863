"""A kernel task's ``cost``: the safe expression evaluator, its validation in task.yaml, the
suite's declarations, and the roofline settings kernel mode derives from them."""

from __future__ import annotations

import copy
import math
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from perfsmith.bench.score import merge_settings
from perfsmith.config import resolve
from perfsmith.errors import ConfigError
from perfsmith.kernels.cost import MAX_EXPRESSION, KernelCost, check_cost, evaluate_cost
from perfsmith.kernels.mode import KERNEL_SETTINGS, bench_task, kernel_overrides
from perfsmith.kernels.spec import load_kernel_task
from tests.kernels.kernel_fixtures import FIXTURES, fixture_task

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "benchmarks" / "kernels-lite"
SUITE_TASKS = sorted(p.name for p in SUITE.iterdir() if (p / "task.yaml").is_file())
SIZES = {"m": 3, "n": 5, "k": 7}


# ------------------------------------------------------------------ the evaluator
@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("2*m*n*k", 210.0),
        ("4*(m*k + k*n + m*n)", 4.0 * (21 + 35 + 15)),
        ("m + n * k", 38.0),  # precedence
        ("(m + n) * k", 56.0),
        ("n - m", 2.0),
        ("n / 2", 2.5),
        ("n // 2", 2.0),
        ("2**m", 8.0),
        ("2 ** 3 ** 2", 512.0),  # right-associative, as in Python
        ("-m + 2*n", 7.0),
        ("+k", 7.0),
        ("min(m, n)", 3.0),
        ("max(m - n, 0)", 0.0),
        ("max(m, n, k, 1)", 7.0),
        ("min(max(m, n), k) * 2", 10.0),
        ("1.5e3", 1500.0),
        ("0", 0.0),
        ("1000", 1000.0),
        ("  m  ", 3.0),
    ],
)
def test_cost_expressions_evaluate(expression: str, value: float) -> None:
    assert evaluate_cost(expression, SIZES) == value
    check_cost(expression, SIZES)  # the same expression passes the check alone


def test_cost_values_are_floats_even_for_integer_arithmetic() -> None:
    result = evaluate_cost("2*m*n*k", {"m": 448, "n": 448, "k": 448})
    assert isinstance(result, float) and result == 2 * 448**3


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("m.real", "not allowed"),
        ("().__class__", "not allowed"),
        ("m.__class__.__bases__", "not allowed"),
        ("abs(m)", "calls other than min and max"),
        ("__import__('os')", "calls other than min and max"),
        ("m(1, 2)", "calls other than min and max"),
        ("min.__call__(m, n)", "calls other than min and max"),
        ("max(m, n, key=abs)", "two or more plain arguments"),
        ("min(m)", "two or more plain arguments"),
        ("min(*[m, n])", "two or more plain arguments"),
        ("q * 2", "'q' is not a size name"),
        ("alpha * n", "'alpha' is not a size name"),
        ("min(m, nn)", "'nn' is not a size name"),
        ("m % 2", "Mod"),
        ("m & n", "BitAnd"),
        ("m << 2", "LShift"),
        ("~m", "Invert"),
        ("not m", "Not"),
        ("m < n", "not allowed"),
        ("m and n", "not allowed"),
        ("m if n else k", "not allowed"),
        ("[m, n]", "not allowed"),
        ("{'a': 1}", "not allowed"),
        ("m[0]", "not allowed"),
        ("lambda: 1", "not allowed"),
        ("(x := 3)", "not allowed"),
        ("f'{m}'", "not allowed"),
        ("'m'", "is not a number"),
        ("True", "is not a number"),
        ("None", "is not a number"),
        ("1j", "is not a number"),
        ("", "is empty"),
        ("   ", "is empty"),
        ("2 *", "not an arithmetic expression"),
        ("import os", "not an arithmetic expression"),
        ("m; n", "not an arithmetic expression"),
        ("m" + " + m" * (MAX_EXPRESSION // 4), "longer than"),
    ],
)
def test_cost_expressions_outside_the_grammar_are_refused(expression: str, fragment: str) -> None:
    with pytest.raises(ValueError) as info:
        check_cost(expression, SIZES)
    assert fragment in str(info.value)
    with pytest.raises(ValueError) as again:
        evaluate_cost(expression, SIZES)
    assert fragment in str(again.value)


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("n / (m - m)", "divides by zero"),
        ("n // (k - k)", "divides by zero"),
        ("0 ** -1", "divides by zero"),
        ("10 ** 400", "overflows"),
        ("k ** k ** k ** k", "overflows"),
        ("1e308 * 10", "overflows"),
        ("1" + "0" * 400, "is too large"),
        ("(m - n) ** 0.5", "not a real number"),
        ("m - n", "is negative"),
        ("-k", "is negative"),
    ],
)
def test_cost_values_that_are_not_a_work_amount_are_refused(expression: str, fragment: str) -> None:
    check_cost(expression, SIZES)  # the grammar is fine: only the value at SIZES is wrong
    with pytest.raises(ValueError) as info:
        evaluate_cost(expression, SIZES)
    assert fragment in str(info.value)


def test_an_expression_never_runs_code(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    payload = f"__import__('pathlib').Path({str(marker)!r}).touch() or 1"
    with pytest.raises(ValueError):
        evaluate_cost(payload, SIZES)
    assert not marker.exists()


# ------------------------------------------------------------------ task.yaml
def _copy(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / "suite" / name
    shutil.copytree(FIXTURES / name, folder)
    return folder


def _with_cost(tmp_path: Path, cost: Any) -> Path:
    folder = _copy(tmp_path, "rowsum")
    path = folder / "task.yaml"
    meta = yaml.safe_load(path.read_text(encoding="utf-8"))
    meta["cost"] = cost
    path.write_text(yaml.safe_dump(meta, sort_keys=False), encoding="utf-8")
    return folder


def test_fixture_cost_is_evaluated_at_the_timing_shape_and_at_any_other() -> None:
    task = fixture_task("rowsum")
    assert (task.cost_flops, task.cost_bytes) == ("rows*(cols - 1)", "4*rows*cols + 4*rows")
    assert task.cost() == KernelCost(flops=256.0 * 4095, bytes=4.0 * 256 * 4096 + 4 * 256)
    assert task.cost({"rows": 2, "cols": 3}) == KernelCost(flops=4.0, bytes=32.0)


def test_a_task_without_cost_declares_nothing(tmp_path: Path) -> None:
    folder = _copy(tmp_path, "rowsum")
    path = folder / "task.yaml"
    meta = yaml.safe_load(path.read_text(encoding="utf-8"))
    meta.pop("cost")
    path.write_text(yaml.safe_dump(meta, sort_keys=False), encoding="utf-8")
    task = load_kernel_task(folder)
    assert (task.cost_flops, task.cost_bytes) == (None, None)
    assert task.cost() == KernelCost(None, None)


def test_cost_may_declare_one_term_or_a_plain_number(tmp_path: Path) -> None:
    task = load_kernel_task(_with_cost(tmp_path, {"bytes": 4096}))
    assert (task.cost_flops, task.cost_bytes) == (None, "4096")
    assert task.cost() == KernelCost(flops=None, bytes=4096.0)


@pytest.mark.parametrize(
    ("cost", "expected"),
    [
        ("2*rows", ["cost:", "is not a mapping"]),
        ({}, ["cost:", "is not a mapping"]),
        ({"flops": "rows", "time": "1"}, ["cost.time:", "not flops or bytes"]),
        ({"flops": ["rows"]}, ["cost.flops:", "is not an expression"]),
        ({"bytes": True}, ["cost.bytes:", "is not an expression"]),
        ({"flops": "rows.bit_length()"}, ["cost.flops:", "'rows.bit_length()'", "not allowed"]),
        ({"flops": "open('x')"}, ["cost.flops:", "open", "calls other than min and max"]),
        ({"bytes": "4*rows*depth"}, ["cost.bytes:", "'depth' is not a size name"]),
        ({"bytes": "4*rows / (cols - 4096)"}, ["cost.bytes:", "divides by zero"]),
        ({"bytes": "rows - cols"}, ["cost.bytes:", "'rows - cols'", "is negative"]),
    ],
    ids=[
        "scalar",
        "empty",
        "unknown-key",
        "list",
        "bool",
        "attribute",
        "call",
        "name",
        "zero-division-at-timing",
        "negative-at-timing",
    ],
)
def test_malformed_cost_names_the_task_key_and_expression(
    tmp_path: Path, cost: Any, expected: list[str]
) -> None:
    folder = _with_cost(tmp_path, cost)
    with pytest.raises(ConfigError) as info:
        load_kernel_task(folder)
    message = info.value.message
    assert str(folder / "task.yaml") in message
    for part in expected:
        assert part in message, message
    assert info.value.hint and "cost" in info.value.hint


def test_cost_that_fails_at_another_shape_names_the_task_and_expression(tmp_path: Path) -> None:
    # Fine at the timing shape (cols = 4096), a division by zero where cols == 16.
    task = load_kernel_task(_with_cost(tmp_path, {"flops": "rows * 64 / (cols - 16)"}), "s")
    assert task.cost().flops == 256 * 64 / 4080
    with pytest.raises(ConfigError) as info:
        task.cost({"rows": 64, "cols": 16})
    message = info.value.message
    assert task.instance_id in message and "'rows * 64 / (cols - 16)'" in message
    assert "divides by zero" in message and "cols=16" in message


@pytest.mark.parametrize("name", SUITE_TASKS)
def test_every_suite_task_declares_its_traffic(name: str) -> None:
    task = load_kernel_task(SUITE / name)
    assert task.cost_bytes is not None
    for shape in (task.timing, *task.visible, *task.hidden):
        cost = task.cost(shape)
        assert cost.bytes is not None and cost.bytes > 0
        assert cost.flops is None or cost.flops >= 0


def test_suite_costs_are_the_minimum_traffic() -> None:
    """Inputs read once plus outputs written once, from the timing shape's array sizes."""
    expected = {
        "matmul": 4 * 3 * 448 * 448,
        "softmax": 2 * 4 * 2048 * 2048,
        "reduction": 4 * 2**25 + 4,
        "histogram": 2**26 + 4 * 256,
        "prefix_scan": 2 * 8 * 2**25,
        "stencil": 2 * 4 * 6144 * 4096,
        "layernorm": 2 * 4 * 4096 * 3072 + 2 * 4 * 3072,
        "conv1d": 4 * (2**20 + 63 + 2**20 - 62),
        "conv2d": 4 * (1024 * 1024 + 49 + 1018 * 1018),
    }
    assert set(expected) == set(SUITE_TASKS)
    for name, nbytes in expected.items():
        assert load_kernel_task(SUITE / name).cost().bytes == nbytes, name
    assert load_kernel_task(SUITE / "matmul").cost().flops == 2 * 448**3


# ------------------------------------------------------------------ kernel mode settings
def test_bench_task_carries_the_timing_shape_work_without_touching_the_shared_settings(
    tmp_path: Path,
) -> None:
    before = copy.deepcopy(KERNEL_SETTINGS)
    task = bench_task(SUITE / "matmul", "kernels-lite", tmp_path)
    cost = load_kernel_task(SUITE / "matmul").cost()
    assert task.config["checks"] == {
        **KERNEL_SETTINGS["checks"],
        "roofline_flops": cost.flops,
        "roofline_bytes": cost.bytes,
    }
    assert {k: v for k, v in task.config.items() if k != "checks"} == {
        k: v for k, v in KERNEL_SETTINGS.items() if k != "checks"
    }
    assert before == KERNEL_SETTINGS  # shared: copied, never mutated
    task.config["protected"].append("x")
    assert before == KERNEL_SETTINGS
    only_bytes = bench_task(SUITE / "histogram", "kernels-lite", tmp_path).config["checks"]
    assert only_bytes["roofline_bytes"] == 2**26 + 1024 and "roofline_flops" not in only_bytes


def test_a_task_without_cost_gets_the_plain_kernel_settings(tmp_path: Path) -> None:
    folder = _copy(tmp_path, "rowsum")
    path = folder / "task.yaml"
    meta = yaml.safe_load(path.read_text(encoding="utf-8"))
    meta.pop("cost")
    path.write_text(yaml.safe_dump(meta, sort_keys=False), encoding="utf-8")
    assert bench_task(folder, "s", tmp_path / "cache").config == KERNEL_SETTINGS


def test_bench_merge_keeps_the_runs_checks_beside_the_roofline(tmp_path: Path) -> None:
    task = bench_task(SUITE / "softmax", "kernels-lite", tmp_path)
    merged = merge_settings({"checks": {"hidden_variants": 1, "rel_tol": 0.5}}, task.config)
    assert merged["checks"]["hidden_variants"] == 1
    assert merged["checks"]["rel_tol"] == KERNEL_SETTINGS["checks"]["rel_tol"]
    assert merged["checks"]["roofline_bytes"] == 8 * 2048 * 2048
    assert merged["checks"]["roofline_flops"] == 2048 * (3 * 2048 - 1)


def test_kernel_overrides_reach_the_run_configuration(tmp_path: Path) -> None:
    repo, overrides = kernel_overrides(SUITE / "reduction", tmp_path)
    cfg = resolve(repo, overrides=overrides)
    assert cfg.checks.roofline_flops == 2**25 - 1
    assert cfg.checks.roofline_bytes == 4 * 2**25 + 4
    assert math.isclose(cfg.checks.rel_tol, KERNEL_SETTINGS["checks"]["rel_tol"])
