"""Canonical trees and their comparison: types kept apart, order ignored, paths named."""

from __future__ import annotations

import collections
import dataclasses
import datetime
import decimal
import enum
import fractions
import json
import math
import pathlib
from typing import Any

import pytest

from perfsmith.measure import _canonical, equivalence
from perfsmith.measure._canonical import canonical, digest
from perfsmith.measure.equivalence import Difference, compare, describe


def tree(value: Any) -> Any:
    """The tree as the harness sees it: written as JSON and read back."""
    return json.loads(_canonical.dumps(canonical(value)))


def same(a: Any, b: Any, **tol: float) -> bool:
    return compare(tree(a), tree(b), **tol) is None


@dataclasses.dataclass
class Point:
    x: float
    y: float


@dataclasses.dataclass
class Order:
    items: list[Any]
    total: float
    tags: set[str]


class Slotted:
    __slots__ = ("a", "b")

    def __init__(self, a: Any, b: Any = None) -> None:
        self.a = a
        if b is not None:
            self.b = b


class Colour(enum.Enum):
    RED = 1
    BLUE = 2


class Level(enum.IntEnum):
    LOW = 1


class Node:
    def __init__(self, value: int) -> None:
        self.value = value
        self.next: Node | None = None


# -- the canonical tree -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (1, 1.0), (1, True), (0, False), (1, "1"), (None, 0), (None, ""), ("a", b"a"),
        ([1, 2], (1, 2)), ([], ()), ({1, 2}, frozenset({1, 2})), ({1: 2}, [(1, 2)]),
        ({"a": 1}, collections.OrderedDict(a=1)), ({"a": 1}, collections.Counter(a=1)),
        ((1, 2), collections.namedtuple("P", "x y")(1, 2)), (b"ab", bytearray(b"ab")),
        (1, Level.LOW), (Colour.RED, 1), (Colour.RED, Colour.BLUE), (1.5, decimal.Decimal("1.5")),
        (0.5, fractions.Fraction(1, 2)), (1 + 0j, 1.0), ([1, [2]], [1, (2,)]),
        (Point(1.0, 2.0), (1.0, 2.0)), (Point(1.0, 2.0), Point(1.0, 3.0)),
        (Slotted(1), Slotted(2)), (Slotted(1), Slotted(1, 2)), (float("inf"), float("-inf")),
        (float("nan"), float("inf")), (0.1 + 0.2, 0.3), (10**5000, 10**5000 + 1),
        (datetime.date(2020, 1, 2), datetime.date(2020, 1, 3)), (len, print),
    ],
    ids=lambda v: type(v).__name__,
)  # fmt: skip
def test_different_values_give_different_trees_and_digests(a: Any, b: Any) -> None:
    assert digest(canonical(a)) != digest(canonical(b))
    assert compare(tree(a), tree(b)) is not None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}), ({3, 1, 2}, {2, 3, 1}),
        ({"x": {1: "a", 2: "b"}}, {"x": {2: "b", 1: "a"}}),
        (Order([1, 2], 3.0, {"p", "q"}), Order([1, 2], 3.0, {"q", "p"})),
        ({frozenset({1, 2}): [1.0]}, {frozenset({2, 1}): [1.0]}),
        (float("nan"), float("nan")), (Slotted(1, [2]), Slotted(1, [2])),
        (10**5000, 10**5000), (Colour.RED, Colour.RED),
        (pathlib.PurePosixPath("a/b"), pathlib.PurePosixPath("a/b")),
    ],
    ids=lambda v: type(v).__name__,
)  # fmt: skip
def test_equal_values_give_equal_trees_whatever_the_order(a: Any, b: Any) -> None:
    assert digest(canonical(a)) == digest(canonical(b))
    assert compare(tree(a), tree(b)) is None


def test_tree_is_plain_json_with_tagged_nodes() -> None:
    value = {"n": [1, 2.5, None, True], "t": (1,), "s": {2, 1}, "nan": float("nan")}
    t = canonical(value)
    text = _canonical.dumps(t)  # allow_nan=False: would raise on a bare NaN
    assert json.loads(text) == t
    assert t == {
        "$dict": [
            ["n", [1, 2.5, None, True]],
            ["nan", {"$float": "nan"}],
            ["s", {"$set": [1, 2]}],
            ["t", {"$tuple": [1]}],
        ]
    }


def test_objects_keep_class_and_state_but_no_address() -> None:
    t = canonical(Point(1.0, 2.0))
    assert t == {"$object": f"{__name__}.Point", "attrs": [["x", 1.0], ["y", 2.0]]}
    assert "0x" not in _canonical.dumps(canonical(Node(1)))


def test_cycles_and_deep_nesting_are_cut_the_same_way_on_both_sides() -> None:
    loop: list[Any] = [1]
    loop.append(loop)
    assert canonical(loop) == [1, {"$cycle": "builtins.list"}]
    head = node = Node(0)
    for i in range(1, 500):  # a linked list far deeper than MAX_DEPTH
        node.next = Node(i)
        node = node.next
    deep = _canonical.dumps(canonical(head))
    assert '"$depth"' in deep
    assert same(head, head)


def test_unpicklable_and_custom_objects_are_compared_by_type_or_pickle() -> None:
    gen = canonical(x for x in [1])
    assert gen["$ref"] == "generator" and gen["name"].endswith("<genexpr>")
    lock_tree = canonical(__import__("threading").Lock())
    assert lock_tree["$opaque"].endswith("lock") and lock_tree["sha256"] is None
    when = canonical(datetime.datetime(2020, 1, 2, 3, 4))
    assert when == {"$value": "datetime.datetime", "repr": "datetime.datetime(2020, 1, 2, 3, 4)"}


def test_numpy_arrays_keep_dtype_shape_and_values() -> None:
    np = pytest.importorskip("numpy")
    a = np.arange(6, dtype=np.int64).reshape(2, 3)
    t = canonical(a)
    assert t == {"$ndarray": "int64", "shape": [2, 3], "values": [[0, 1, 2], [3, 4, 5]]}
    assert not same(a, a.astype(np.float64))
    assert not same(a, a.reshape(3, 2))
    assert same(np.float64(1.5), np.float64(1.5))
    assert not same(np.float64(1.5), 1.5)
    diff = compare(tree(np.array([1.0, 2.0])), tree(np.array([1.0, 2.5])))
    assert diff is not None and diff.path == "[1]"


# -- compare: paths and reasons ---------------------------------------------------------


def test_difference_names_the_path_inside_the_value() -> None:
    a = [1, 2, {"total": 10, "name": "x"}]
    b = [1, 2, {"total": 11, "name": "x"}]
    diff = compare(tree(a), tree(b))
    assert diff == Difference("[2]['total']", "10", "11", "value differs")
    assert str(diff) == "at [2]['total']: value differs (baseline 10, candidate 11)"


def test_paths_through_objects_tuples_and_int_keys() -> None:
    a = {"orders": (Order([Point(1.0, 2.0)], 3.0, set()),), 7: "seven"}
    b = {"orders": (Order([Point(1.0, 2.5)], 3.0, set()),), 7: "seven"}
    diff = compare(tree(a), tree(b))
    assert diff is not None
    assert diff.path == "['orders'][0].items[0].y"
    assert diff.baseline == "2.0" and diff.candidate == "2.5"
    assert "float differs by 0.5" in diff.reason
    c = {"orders": a["orders"], 7: "SEVEN"}
    other = compare(tree(a), tree(c))
    assert other is not None and other.path == "[7]"


@pytest.mark.parametrize(
    ("a", "b", "reason"),
    [
        (1, 1.0, "type differs: int vs float"),
        ([1], (1,), "type differs: list vs tuple"),
        (True, 1, "type differs: bool vs int"),
        ({"a": 1}, collections.OrderedDict(a=1), "type differs: dict vs collections.OrderedDict"),
        (Point(1, 2), Order([], 0.0, set()), f"type differs: {__name__}.Point vs {__name__}.Order"),
        ([1, 2, 3], [1, 2], "length differs: 3 vs 2 items"),
        ({"a": 1, "b": 2}, {"a": 1, "c": 2},
         "keys differ: only in baseline: 'b'; only in candidate: 'c'"),
        ({1, 2}, {1, 3}, "elements differ: only in baseline: 2; only in candidate: 3"),
        (Slotted(1), Slotted(1, 2), "attributes differ: only in candidate: b"),
        (float("nan"), 1.0, "value differs"),
        ("abc", "abd", "value differs"),
    ],
)  # fmt: skip
def test_reasons_say_why(a: Any, b: Any, reason: str) -> None:
    diff = compare(tree(a), tree(b))
    assert diff is not None
    assert diff.reason == reason


def test_float_tolerance_applies_to_floats_only() -> None:
    assert not same(0.1 + 0.2, 0.3)
    assert same(0.1 + 0.2, 0.3, rel_tol=1e-9)
    assert same([1.0, {"x": 100.0}], [1.0, {"x": 100.0001}], rel_tol=1e-5)
    assert not same([1.0, {"x": 100.0}], [1.0, {"x": 100.1}], rel_tol=1e-5)
    assert same(0.0, 1e-12, abs_tol=1e-9)
    assert not same(0.0, 1e-12, rel_tol=0.5)  # relative to zero is nothing
    assert not same(1, 2, rel_tol=1.0)  # ints stay exact
    assert not same(1, 1.0, rel_tol=1.0)  # and types stay apart
    assert not same("1.0", "1.00", rel_tol=1.0)
    assert not same(float("nan"), 1.0, rel_tol=1.0)
    assert same(complex(1, 2), complex(1, 2 + 1e-12), rel_tol=1e-9)
    assert same(-0.0, 0.0)  # numerically equal, though the digests differ
    diff = compare(tree(1.0), tree(1.1), rel_tol=0.01)
    assert diff is not None and "beyond rel_tol=0.01" in diff.reason


def test_negative_tolerance_is_rejected() -> None:
    with pytest.raises(ValueError, match="tolerances"):
        compare(1.0, 1.0, rel_tol=-1)


def test_describe_is_short_and_python_like() -> None:
    assert describe(tree([1, (2,), {"a": {1, 2}}, None])) == "[1, (2,), {'a': {1, 2}}, None]"
    assert describe(tree(Point(1.0, 2.0))) == "Point(x=1.0, y=2.0)"
    assert describe(tree(Colour.RED)) == "Colour.RED"
    long = describe(tree(list(range(1000))))
    assert len(long) <= equivalence.SHORT and long.endswith("...")
    assert describe(tree(10**5000)).startswith("<int of")
    assert describe(tree(float("inf"))) == "inf"


def test_random_nested_values_match_themselves_and_not_a_changed_leaf() -> None:
    import random

    rng = random.Random(7)

    def build(depth: int) -> Any:
        kind = rng.randrange(6 if depth < 4 else 3)
        if kind == 0:
            return rng.randrange(100)
        if kind == 1:
            return rng.random()
        if kind == 2:
            return rng.choice(["a", "b", "c"])
        if kind == 3:
            return [build(depth + 1) for _ in range(rng.randrange(4))]
        if kind == 4:
            return tuple(build(depth + 1) for _ in range(rng.randrange(4)))
        return {f"k{i}": build(depth + 1) for i in range(rng.randrange(4))}

    for _ in range(200):
        value = {"root": build(0), "leaf": rng.random()}
        assert same(value, json.loads(json.dumps(value)) | {"root": value["root"]})
        changed = dict(value, leaf=value["leaf"] + 1.0)
        diff = compare(tree(value), tree(changed))
        assert diff is not None and diff.path == "['leaf']"
        assert not math.isnan(float(diff.baseline))
