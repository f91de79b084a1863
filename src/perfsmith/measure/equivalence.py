"""Compare two canonical trees (see ``_canonical``) and say where and why they differ.

Pure: no I/O. ``compare`` walks both trees and returns the first ``Difference`` (a
path inside the value such as ``[2]['total']``, both sides in short, and why), or
None when they match. A float tolerance applies to floats only: ints, strings, the
structure and the types must match exactly. Set elements and dict keys are matched
exactly too, since pairing near-equal floats across two sets has no single answer.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

__all__ = ["Difference", "compare", "describe"]

SHORT = 60  # characters of a value shown in a difference


@dataclass(frozen=True)
class Difference:
    """Where two values differ.

    Attributes:
        path: Python-like path from the top of the value (``""`` for the top),
            e.g. ``[2]['total']`` or ``.items[0]``.
        baseline: The baseline's part there, in short.
        candidate: The candidate's part there, in short.
        reason: Why they differ, e.g. ``type differs: int vs float``.
    """

    path: str
    baseline: str
    candidate: str
    reason: str

    def __str__(self) -> str:
        where = f"at {self.path}" if self.path else "at the top"
        return f"{where}: {self.reason} (baseline {self.baseline}, candidate {self.candidate})"


def _tag(tree: Any) -> str:
    """The kind of a tree node: a JSON type name or the node's ``$`` tag."""
    if isinstance(tree, dict):
        return next((k for k in tree if k.startswith("$")), "object")
    if isinstance(tree, bool):  # before int: bool is an int in Python
        return "bool"
    return {int: "int", float: "float", str: "str", list: "list", type(None): "None"}.get(
        type(tree), type(tree).__name__
    )


_KIND = {"$tuple": "tuple", "$dict": "dict", "$set": "set", "$frozenset": "frozenset",
         "$bytes": "bytes", "$complex": "complex", "$float": "float", "$int": "int",
         "$list": "list"}  # fmt: skip


def _kind(tree: Any) -> str:
    """A readable type name for a tree node, for messages."""
    tag = _tag(tree)
    if not tag.startswith("$"):
        return tag
    node = tree
    for key in ("class", "$object", "$value", "$enum", "$opaque", "$cycle", "$depth"):
        if isinstance(node.get(key), str):
            return str(node[key])
    if tag in ("$ndarray", "$numpy"):
        return f"numpy {tag[1:]} of {node[tag]}"
    if tag == "$ref":
        return str(node["$ref"])
    return _KIND.get(tag, tag[1:])


def describe(tree: Any, limit: int = SHORT) -> str:
    """Render a tree as short Python-like text (at most ``limit`` characters)."""
    text = _render(tree, limit + 1)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _render(tree: Any, budget: int) -> str:
    tag = _tag(tree)
    if tag == "int" and tree.bit_length() > 256:
        return f"<int of {tree.bit_length()} bits>"
    if tag in ("None", "bool", "int", "float", "str"):
        return repr(tree)

    def items(seq: list[Any]) -> str:
        parts: list[str] = []
        used = 0
        for x in seq:
            if used > budget:
                parts.append("...")
                break
            parts.append(_render(x, budget - used))
            used += len(parts[-1]) + 2
        return ", ".join(parts)

    if tag == "list":
        return f"[{items(tree)}]"
    node = tree[tag]
    if tag == "$tuple":
        return f"({items(node)}{',' if len(node) == 1 else ''})"
    if tag == "$dict":
        pairs = [f"{_render(k, budget)}: {_render(v, budget)}" for k, v in node[:20]]
        return "{" + ", ".join(pairs) + (", ..." if len(node) > 20 else "") + "}"
    if tag in ("$set", "$frozenset"):
        return ("{" + items(node) + "}") if node else "set()"
    if tag == "$int":
        return f"<int of {int(node, 16).bit_length()} bits>"
    if tag == "$float":
        return str(node)
    if tag == "$scalar":
        return f"{_kind(tree)}({_render(node, budget)})"
    if tag == "$value":
        return str(tree["repr"])
    if tag == "$enum":
        return f"{node.rsplit('.', 1)[-1]}.{tree['name']}"
    if tag == "$ndarray":
        return f"array({_render(tree['values'], budget)}, dtype={node})"
    if tag == "$numpy":
        return f"{node}({_render(tree['value'], budget)})"
    if tag == "$object":
        attrs = ", ".join(f"{k}={_render(v, budget)}" for k, v in tree["attrs"][:8])
        return f"{node.rsplit('.', 1)[-1]}({attrs})"
    if tag == "$bytes":
        return f"bytes.fromhex({node[:budget]!r})"
    return f"<{_kind(tree)}>"


def _key_path(key: Any) -> str:
    return f"[{describe(key, 30)}]"


def compare(
    baseline: Any, candidate: Any, *, rel_tol: float = 0.0, abs_tol: float = 0.0
) -> Difference | None:
    """Return where ``candidate``'s tree first differs from ``baseline``'s, or None.

    Args:
        baseline: A canonical tree (``_canonical.canonical``, or its JSON reloaded).
        candidate: The other tree.
        rel_tol: Relative tolerance for floats (``math.isclose``).
        abs_tol: Absolute tolerance for floats.

    Raises:
        ValueError: If a tolerance is negative.
    """
    if rel_tol < 0 or abs_tol < 0:
        raise ValueError(f"tolerances must be >= 0, got rel_tol={rel_tol}, abs_tol={abs_tol}")
    return _Walk(rel_tol, abs_tol).diff(baseline, candidate, "")


class _Walk:
    def __init__(self, rel_tol: float, abs_tol: float) -> None:
        self.rel_tol, self.abs_tol = rel_tol, abs_tol

    def differ(self, a: Any, b: Any, path: str, reason: str) -> Difference:
        return Difference(path, describe(a), describe(b), reason)

    def diff(self, a: Any, b: Any, path: str) -> Difference | None:
        if _kind(a) != _kind(b):
            return self.differ(a, b, path, f"type differs: {_kind(a)} vs {_kind(b)}")
        ta, tb = _tag(a), _tag(b)
        if ta != tb:  # the same type in two encodings: 1.0 and nan, 5 and a huge int
            return self.differ(a, b, path, "value differs")
        if ta == "float":
            if a == b or math.isclose(a, b, rel_tol=self.rel_tol, abs_tol=self.abs_tol):
                return None
            tol = f" beyond rel_tol={self.rel_tol:g}, abs_tol={self.abs_tol:g}"
            tolerance = tol if (self.rel_tol or self.abs_tol) else ""
            return self.differ(a, b, path, f"float differs by {abs(a - b):.3g}{tolerance}")
        if ta == "list":
            return self.sequence(a, b, path)
        if not ta.startswith("$"):  # None, bool, int, str
            return None if a == b else self.differ(a, b, path, "value differs")
        return self.node(ta, a, b, path)

    def sequence(self, a: list[Any], b: list[Any], path: str) -> Difference | None:
        if len(a) != len(b):
            return self.differ(a, b, path, f"length differs: {len(a)} vs {len(b)} items")
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = self.diff(x, y, f"{path}[{i}]")
            if found is not None:
                return found
        return None

    def node(self, tag: str, a: dict[str, Any], b: dict[str, Any], path: str) -> Difference | None:
        if tag in ("$tuple", "$list"):
            return self.sequence(a[tag], b[tag], path)
        if tag == "$scalar":
            return self.diff(a[tag], b[tag], path)
        if tag == "$dict":
            return self.mapping(
                {_canon_key(k): (k, v) for k, v in a[tag]},
                {_canon_key(k): (k, v) for k, v in b[tag]},
                (a, b), path, "keys", _key_path,
            )  # fmt: skip
        if tag == "$object":
            return self.mapping(
                {k: (k, v) for k, v in a["attrs"]}, {k: (k, v) for k, v in b["attrs"]},
                (a, b), path, "attributes", lambda k: f".{k}",
            )  # fmt: skip
        if tag == "$complex":
            return self.sequence(a[tag], b[tag], path)
        if tag == "$ndarray":
            if a["shape"] != b["shape"]:
                return self.differ(a, b, path, f"shape differs: {a['shape']} vs {b['shape']}")
            return self.diff(a["values"], b["values"], path)
        if tag == "$numpy":
            return self.diff(a["value"], b["value"], path)
        if tag in ("$set", "$frozenset"):
            only_a = [x for x in a[tag] if x not in b[tag]]
            only_b = [x for x in b[tag] if x not in a[tag]]
            if only_a or only_b:
                why = _only("elements", only_a, only_b)
                return self.differ(a, b, path, why)
            return None
        return None if a == b else self.differ(a, b, path, "value differs")

    def mapping(
        self,
        a: dict[str, tuple[Any, Any]],
        b: dict[str, tuple[Any, Any]],
        whole: tuple[Any, Any],
        path: str,
        what: str,
        step: Any,
    ) -> Difference | None:
        only_a = [a[k][0] for k in a if k not in b]
        only_b = [b[k][0] for k in b if k not in a]
        if only_a or only_b:
            return self.differ(*whole, path, _only(what, only_a, only_b))
        for k in sorted(a):
            found = self.diff(a[k][1], b[k][1], path + step(a[k][0]))
            if found is not None:
                return found
        return None


def _canon_key(tree: Any) -> str:
    return json.dumps(tree, sort_keys=True, separators=(",", ":"))


def _only(what: str, only_a: list[Any], only_b: list[Any]) -> str:
    def show(xs: list[Any]) -> str:
        text = ", ".join(x if isinstance(x, str) and what == "attributes" else describe(x, 30)
                         for x in xs[:5])  # fmt: skip
        return text + (f" and {len(xs) - 5} more" if len(xs) > 5 else "")

    parts = []
    if only_a:
        parts.append(f"only in baseline: {show(only_a)}")
    if only_b:
        parts.append(f"only in candidate: {show(only_b)}")
    return f"{what} differ: " + "; ".join(parts)
