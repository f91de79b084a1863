"""Correctness checks of ModelNew in model_new.py (generated; see tests/kernelbench_harness.py).

Every reference result is computed before ``model_new.py`` is imported, so nothing the
candidate does at import or call time (patching torch functions, switching on TF32) can
change what it is compared with. Each check is its own test, and a parametrized one names
its case in the test id, e.g. ``test_matches_reference[problem-seed2]`` or
``test_matches_reference[hidden1-seed2]`` (hidden sizes go by number: test ids are
feedback the Coder reads):

- ``test_model_new_loads``: model_new.py imports, ModelNew builds with Model's
  constructor arguments and takes the reference's weights (same names and shapes);
- ``test_matches_reference``: every seed x every set of sizes: dtype, shape, finite and
  within tolerance of Model run in float64; inputs and parameters unchanged;
- ``test_same_address_new_content``: called again after another seed's weights and
  inputs were copied into the same tensors;
- ``test_repeat``: the same inputs twice, the allocator poisoned before each call.
"""

from __future__ import annotations

from typing import Any

import pytest

from . import kernelbench_harness as harness

SPEC = harness.load_spec()
SEEDS = [int(s) for s in SPEC["seeds"]]
REFERENCE = harness.load_reference()
SIZES = harness.size_cases(REFERENCE, SPEC)
CASE_IDS = [f"{size.label}-seed{seed}" for size in SIZES for seed in SEEDS]
SIZE_IDS = [size.label for size in SIZES]


def _fail(reason: str | None) -> None:
    if reason is not None:
        pytest.fail(reason, pytrace=False)


@pytest.fixture(scope="module")
def cases() -> dict[str, harness.Case]:
    """Every reference result, computed before the candidate is imported."""
    found = {}
    for size in SIZES:
        for seed in SEEDS:
            case = harness.make_case(REFERENCE, SPEC, size, seed)
            found[case.id] = case
    return found


@pytest.fixture(scope="module")
def candidate(cases: dict[str, harness.Case]) -> Any:
    """ModelNew, imported only after every reference result exists."""
    try:
        return harness.load_candidate()
    except harness.CandidateError as exc:
        pytest.fail(str(exc), pytrace=False)
    except Exception as exc:
        pytest.fail(f"importing model_new.py raised {type(exc).__name__}: {exc}", pytrace=False)


def _usable(case: harness.Case) -> harness.Case:
    if case.problem is None:
        return case
    if case.hidden:
        pytest.skip("the reference does not accept these sizes")
    pytest.fail(f"the reference itself fails at the problem's sizes: {case.problem}", pytrace=False)


def test_model_new_loads(cases: dict[str, harness.Case], candidate: Any) -> None:
    case = _usable(cases[CASE_IDS[0]])
    try:
        harness.build_candidate(candidate, case.init, case.state, case.seed, case.training)
    except harness.CandidateError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_matches_reference(cases: dict[str, harness.Case], candidate: Any, case_id: str) -> None:
    _fail(harness.check_case(candidate, _usable(cases[case_id]), SPEC))


@pytest.mark.parametrize("label", SIZE_IDS)
def test_same_address_new_content(
    cases: dict[str, harness.Case], candidate: Any, label: str
) -> None:
    first = _usable(cases[f"{label}-seed{SEEDS[0]}"])
    second = _usable(cases[f"{label}-seed{SEEDS[-1]}"])
    if len(SEEDS) < 2 or not harness.same_shapes(first, second):
        pytest.skip("needs two seeds whose inputs and weights have the same shapes")
    _fail(harness.check_same_address(candidate, first, second, SPEC))


@pytest.mark.parametrize("label", SIZE_IDS)
def test_repeat(cases: dict[str, harness.Case], candidate: Any, label: str) -> None:
    _fail(harness.check_repeat(candidate, _usable(cases[f"{label}-seed{SEEDS[-1]}"]), SPEC))
