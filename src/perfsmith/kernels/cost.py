"""The work one kernel call must do: arithmetic over the task's sizes (``cost`` in task.yaml).

A kernel task may say how many floating-point operations and how many bytes of memory
traffic one call needs at least, as expressions such as ``2*m*n*k`` over its ``size``
arguments. The timing shape's values become the roofline bound of gate 6
(``perfsmith.measure.roofline``): a time per call below what the machine's measured peak
allows for that much work is not believed.

The expressions come from task files, so they are never handed to ``eval``: they are parsed
with ``ast`` and only numbers, size names, ``+ - * / // **``, unary minus, parentheses and
calls of ``min`` and ``max`` are accepted. Values are computed in floating point, so a
huge power overflows into an error instead of building an enormous integer.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

__all__ = ["COST_KEYS", "MAX_EXPRESSION", "KernelCost", "check_cost", "evaluate_cost"]

COST_KEYS = ("flops", "bytes")
MAX_EXPRESSION = 500  # characters: a cost is a short formula, never a program
_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Pow: operator.pow,
}
_CALLS: dict[str, Callable[..., float]] = {"min": min, "max": max}


@dataclass(frozen=True)
class KernelCost:
    """The least work of one kernel call at one shape (None: not declared).

    Attributes:
        flops: floating-point operations the algorithm needs (a fused multiply-add is 2,
            an ``exp``, division or square root 1).
        bytes: memory traffic in bytes: every input read once plus every output written
            once.
    """

    flops: float | None = None
    bytes: float | None = None


def _parse(expression: str) -> ast.expr:
    if not isinstance(expression, str) or not expression.strip():
        raise ValueError("is empty; give an arithmetic expression such as 2*m*n*k")
    if len(expression) > MAX_EXPRESSION:
        raise ValueError(f"is longer than {MAX_EXPRESSION} characters")
    try:
        return ast.parse(expression.strip(), mode="eval").body
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        raise ValueError(f"is not an arithmetic expression ({exc})") from None


def _check(node: ast.expr, names: Collection[str]) -> None:
    """Raise ValueError at the first construct that is not allowed."""
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{value!r} is not a number")
        return
    if isinstance(node, ast.Name):
        if node.id not in names:
            shown = ", ".join(sorted(names)) or "none"
            raise ValueError(f"{node.id!r} is not a size name (sizes: {shown})")
        return
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _BINARY:
            raise ValueError(f"the operator {type(node.op).__name__} is not allowed")
        _check(node.left, names)
        _check(node.right, names)
        return
    if isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, ast.USub | ast.UAdd):
            raise ValueError(f"the operator {type(node.op).__name__} is not allowed")
        _check(node.operand, names)
        return
    if isinstance(node, ast.Call):
        func = node.func
        if not isinstance(func, ast.Name) or func.id not in _CALLS:
            raise ValueError(f"calls other than min and max are not allowed ({ast.unparse(func)})")
        if node.keywords or len(node.args) < 2:
            raise ValueError(f"{func.id}() takes two or more plain arguments")
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise ValueError(f"{func.id}() takes two or more plain arguments")
            _check(arg, names)
        return
    raise ValueError(
        f"{ast.unparse(node)!r} is not allowed (only numbers, size names, + - * / // **, "
        "parentheses, min and max)"
    )


def _value(node: ast.expr, sizes: Mapping[str, int]) -> float:
    if isinstance(node, ast.Constant):
        assert isinstance(node.value, int | float)  # _check let only numbers through
        try:
            return float(node.value)
        except OverflowError:
            raise ValueError(f"{node.value!r} is too large") from None
    if isinstance(node, ast.Name):
        return float(sizes[node.id])
    if isinstance(node, ast.BinOp):
        left, right = _value(node.left, sizes), _value(node.right, sizes)
        try:
            result = _BINARY[type(node.op)](left, right)
        except ZeroDivisionError:
            raise ValueError(f"divides by zero in {ast.unparse(node)}") from None
        except OverflowError:
            raise ValueError(f"overflows in {ast.unparse(node)}") from None
        if isinstance(result, complex):  # a negative number to a fractional power
            raise ValueError(f"{ast.unparse(node)} is not a real number")
        if not math.isfinite(result):
            raise ValueError(f"overflows in {ast.unparse(node)}")
        return result
    if isinstance(node, ast.UnaryOp):
        value = _value(node.operand, sizes)
        return -value if isinstance(node.op, ast.USub) else value
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    return float(_CALLS[node.func.id](*(_value(a, sizes) for a in node.args)))


def check_cost(expression: str, names: Collection[str]) -> None:
    """Check that ``expression`` is a cost expression over ``names``, without evaluating it.

    Args:
        expression: the text from task.yaml.
        names: the task's size names.

    Raises:
        ValueError: what is wrong, as a phrase that follows the expression ("is empty",
            "'os' is not a size name", ...).
    """
    _check(_parse(expression), names)


def evaluate_cost(expression: str, sizes: Mapping[str, int]) -> float:
    """The value of a cost expression at one shape.

    Args:
        expression: e.g. ``"4*(m*k + k*n + m*n)"``.
        sizes: each size name's value.

    Returns:
        The value, a finite float >= 0.

    Raises:
        ValueError: the expression is not allowed (see ``check_cost``), divides by zero,
            overflows, or its value is negative or not finite at ``sizes``.
    """
    node = _parse(expression)
    _check(node, sizes)
    try:
        value = _value(node, sizes)
    except RecursionError:
        raise ValueError("is nested too deeply") from None
    if not math.isfinite(value):
        raise ValueError(f"is not a finite number ({value})")
    if value < 0:
        raise ValueError(f"is negative ({value:g}); wrap differences in max(..., 0)")
    return value
