"""Correctness checks of the kernel in kernel.c (generated; see tests/kernel_harness.py).

Every check is its own test, and a parametrized one names its case in the test id, e.g.
``test_matches_reference[visible-64x1000-seed2]`` or ``test_matches_reference[hidden3-seed2]``
(hidden shapes go by number: test ids are feedback the Coder reads):

- ``test_build``: kernel.c compiles and links and defines the function (a failure shows
  the compiler's output);
- ``test_no_mutable_state``: the object file defines no writable data;
- ``test_inputs_unchanged``: no call writes its inputs;
- ``test_matches_reference``: every seed x every shape, outputs NaN-poisoned before the
  call: dtype, shape, finite and within tolerance of the float64 reference;
- ``test_same_address_new_content``: inputs overwritten in place, called again;
- ``test_repeat``: the same inputs three times with differently poisoned outputs.
"""

from __future__ import annotations

from typing import Any

import pytest

from . import kernel_harness as harness

SPEC = harness.load_spec()
SEEDS = [int(s) for s in SPEC["seeds"]]
SHAPES = harness.shapes(SPEC)
CASES = [(sizes, seed) for _, sizes in SHAPES for seed in SEEDS]
# Test ids reach the Coder as feedback: hidden shapes are named by number, never by size.
VISIBLE = sum(kind == "visible" for kind, _ in SHAPES)
SHAPE_IDS = [
    f"hidden{k - VISIBLE}" if kind == "hidden" else f"visible-{harness.shape_id(SPEC, sizes)}"
    for k, (kind, sizes) in enumerate(SHAPES)
]
CASE_IDS = [f"{shape}-seed{seed}" for shape in SHAPE_IDS for seed in SEEDS]
SHAPE_CASES = [sizes for _, sizes in SHAPES]


def _fail(reason: str | None) -> None:
    if reason is not None:
        pytest.fail(reason, pytrace=False)


@pytest.fixture(scope="module")
def kernel() -> Any:
    try:
        # State has its own test below; the other checks still say what they see.
        return harness.load_kernel(harness.ROOT, check_state=False)
    except harness.BuildError as exc:
        pytest.fail(str(exc), pytrace=False)


def test_build() -> None:
    try:
        harness.load_kernel(harness.ROOT, check_state=False)  # compiles, links and binds
    except harness.BuildError as exc:
        pytest.fail(str(exc), pytrace=False)


def test_no_mutable_state() -> None:
    try:
        built = harness.build(harness.ROOT)
    except harness.BuildError as exc:
        pytest.fail(str(exc), pytrace=False)
    found = harness.mutable_state(built.obj)
    if found:
        pytest.fail(harness.state_message(found), pytrace=False)


@pytest.mark.parametrize(("sizes", "seed"), CASES, ids=CASE_IDS)
def test_inputs_unchanged(kernel: Any, sizes: dict[str, int], seed: int) -> None:
    _fail(harness.check_inputs_unchanged(kernel, sizes, seed))


@pytest.mark.parametrize(("sizes", "seed"), CASES, ids=CASE_IDS)
def test_matches_reference(kernel: Any, sizes: dict[str, int], seed: int) -> None:
    _fail(harness.check_case(kernel, sizes, seed))


@pytest.mark.parametrize("sizes", SHAPE_CASES, ids=SHAPE_IDS)
def test_same_address_new_content(kernel: Any, sizes: dict[str, int]) -> None:
    _fail(harness.check_same_address(kernel, sizes, SEEDS[0], harness.other_seed(SPEC, SEEDS[0])))


@pytest.mark.parametrize("sizes", SHAPE_CASES, ids=SHAPE_IDS)
def test_repeat(kernel: Any, sizes: dict[str, int]) -> None:
    _fail(harness.check_repeat(kernel, sizes, SEEDS[-1]))
