"""Canonical form of a Python value: a JSON tree that is equal exactly when the values are.

This module runs inside the sandbox, next to the worker, with the target's Python: it
imports only the standard library (numpy is recognised by name, never imported).

The tree is made of JSON values. Plain ``None``, ``bool``, ``int``, ``float`` (finite)
and ``str`` stand for themselves and a JSON list stands for a Python list; everything
else is a JSON object with exactly one tag key starting with ``$``:

    {"$float": "nan" | "inf" | "-inf"}         non-finite floats (not valid JSON otherwise)
    {"$int": "0x..."}                           ints too long for a decimal string
    {"$tuple": [...]}                           tuples; ``"class"`` names a subclass
    {"$scalar": value, "class": ...}            subclasses of int, float and str
    {"$list": [...], "class": ...}              list subclasses (plain lists are JSON lists)
    {"$dict": [[key, value], ...]}              sorted by the key's tree; ``"class"`` for
                                                subclasses (OrderedDict, Counter, ...)
    {"$set": [...]}, {"$frozenset": [...]}      sorted by each element's tree
    {"$bytes": "hex"}, {"$complex": [re, im]}
    {"$ndarray": dtype, "shape": [...], "values": tree}   numpy arrays
    {"$numpy": dtype, "value": tree}                      numpy scalars
    {"$enum": "mod.Class", "name": member}
    {"$value": "mod.Class", "repr": "..."}       value types with a faithful repr (Decimal,
                                                 Fraction, datetime, UUID, paths, range)
    {"$object": "mod.Class", "attrs": [[name, tree], ...]}   plain objects: their
                                                 ``__dict__`` and ``__slots__``, sorted
    {"$ref": "function" | "type" | "module" | ..., "name": qualified name}
    {"$opaque": "mod.Class", "sha256": ...}      anything else: a digest of its pickle
                                                 (``"sha256": null`` if unpicklable)
    {"$cycle": "mod.Class"}, {"$depth": "mod.Class"}   a reference cycle, or nesting past
                                                 ``MAX_DEPTH`` (both sides cut alike)

So ``1``, ``1.0``, ``True`` and ``"1"`` differ, as do ``[1]`` and ``(1,)``; dict and set
order, hash seeds and object addresses do not matter. ``digest`` hashes the tree.
"""

from __future__ import annotations

import enum
import hashlib
import json
import math
import pickle
import types
from typing import Any

__all__ = ["MAX_DEPTH", "canonical", "digest", "dumps"]

MAX_DEPTH = 100
_BIG_INT_BITS = 12_000  # below Python's 4300-digit limit for int -> decimal str
_VALUE_TYPES = frozenset(
    {
        "decimal.Decimal",
        "fractions.Fraction",
        "datetime.datetime",
        "datetime.date",
        "datetime.time",
        "datetime.timedelta",
        "datetime.timezone",
        "uuid.UUID",
        "pathlib.PurePosixPath",
        "pathlib.PureWindowsPath",
        "pathlib.PosixPath",
        "pathlib.WindowsPath",
        "pathlib.Path",
        "builtins.range",
        "builtins.slice",
    }
)
_REF_TYPES: tuple[tuple[type, str], ...] = (
    (types.FunctionType, "function"),
    (types.BuiltinFunctionType, "function"),
    (types.MethodType, "method"),
    (types.GeneratorType, "generator"),
    (types.CoroutineType, "coroutine"),
    (types.ModuleType, "module"),
    (type, "type"),
)


def dumps(tree: Any) -> str:
    """Serialise a tree the same way every time (sorted keys, no spaces)."""
    return json.dumps(tree, sort_keys=True, separators=(",", ":"), allow_nan=False)


def digest(tree: Any) -> str:
    """Return the hex sha256 of a tree's canonical serialisation."""
    return hashlib.sha256(dumps(tree).encode("utf-8")).hexdigest()


def _name(obj: object) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _float(x: float) -> Any:
    if math.isfinite(x):
        return float(x)
    return {"$float": "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")}


def _sorted(trees: list[Any]) -> list[Any]:
    return sorted(trees, key=dumps)


def _attrs(obj: object) -> dict[str, Any] | None:
    """The instance state a default pickle would save, or None for custom pickling."""
    cls = type(obj)
    default = (
        cls.__reduce_ex__ is object.__reduce_ex__
        and cls.__reduce__ is object.__reduce__
        and getattr(cls, "__getstate__", object.__getstate__) is object.__getstate__
    )
    if not default:
        return None
    state: dict[str, Any] = {}
    has_slots = False
    for klass in reversed(cls.__mro__):
        slots = klass.__dict__.get("__slots__", ())
        for slot in (slots,) if isinstance(slots, str) else slots:
            has_slots = True
            if slot not in ("__dict__", "__weakref__") and hasattr(obj, slot):
                state[slot] = getattr(obj, slot)
    if not has_slots and not hasattr(obj, "__dict__"):
        return None  # state held in C (a lock, a socket): only pickling can see it
    state.update(getattr(obj, "__dict__", {}))
    return state


def canonical(value: Any, *, max_depth: int = MAX_DEPTH) -> Any:
    """Return the canonical tree of ``value`` (see the module docstring)."""
    return _Canon(max_depth).tree(value, 0)


class _Canon:
    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth
        self.path_ids: set[int] = set()

    def tree(self, obj: Any, depth: int) -> Any:
        cls = type(obj)
        if obj is None or cls is bool or cls is str:
            return obj
        if cls is int:
            return obj if obj.bit_length() < _BIG_INT_BITS else {"$int": hex(obj)}
        if cls is float:
            return _float(obj)
        if depth >= self.max_depth:
            return {"$depth": _name(obj)}
        if id(obj) in self.path_ids:
            return {"$cycle": _name(obj)}
        self.path_ids.add(id(obj))
        try:
            return self._compound(obj, depth + 1)
        finally:
            self.path_ids.discard(id(obj))

    def _compound(self, obj: Any, depth: int) -> Any:
        if type(obj) is list:
            return [self.tree(x, depth) for x in obj]
        name = _name(obj)
        if isinstance(obj, enum.Enum):  # before int/str: IntEnum and StrEnum are both
            return {"$enum": name, "name": obj.name}
        if type(obj).__module__ == "numpy" and hasattr(obj, "dtype") and hasattr(obj, "tolist"):
            dtype = str(obj.dtype)
            if hasattr(obj, "shape") and type(obj).__name__ == "ndarray":
                shape = [int(n) for n in obj.shape]
                return {"$ndarray": dtype, "shape": shape, "values": self.tree(obj.tolist(), depth)}
            return {"$numpy": dtype, "value": self.tree(obj.tolist(), depth)}
        tagged = self._builtin(obj, depth)
        if tagged is not None:
            if type(obj) not in (list, tuple, dict, set, frozenset, bytes, complex):
                tagged["class"] = name
            return tagged
        if name in _VALUE_TYPES:
            return {"$value": name, "repr": repr(obj)}
        for kind_type, kind in _REF_TYPES:
            if isinstance(obj, kind_type):
                label = getattr(obj, "__qualname__", getattr(obj, "__name__", ""))
                module = getattr(obj, "__module__", None)
                return {"$ref": kind, "name": f"{module}.{label}" if module else str(label)}
        state = _attrs(obj)
        if state is not None:
            attrs = [[k, self.tree(v, depth)] for k, v in sorted(state.items())]
            return {"$object": name, "attrs": attrs}
        try:
            data = pickle.dumps(obj, protocol=4)
        except Exception:  # unpicklable: compared by type only
            return {"$opaque": name, "sha256": None}
        return {"$opaque": name, "sha256": hashlib.sha256(data).hexdigest()}

    def _builtin(self, obj: Any, depth: int) -> dict[str, Any] | None:
        """Containers and scalars, subclasses included (the caller tags the class)."""
        for base in (int, float, str):  # subclasses: the plain value, tagged with the class
            if isinstance(obj, base):
                return {"$scalar": self.tree(base(obj), depth)}
        if isinstance(obj, (bytes, bytearray)):
            return {"$bytes": bytes(obj).hex()}
        if isinstance(obj, complex):
            return {"$complex": [_float(obj.real), _float(obj.imag)]}
        if isinstance(obj, list):
            return {"$list": [self.tree(x, depth) for x in obj]}
        if isinstance(obj, tuple):
            return {"$tuple": [self.tree(x, depth) for x in obj]}
        if isinstance(obj, dict):
            pairs = [[self.tree(k, depth), self.tree(v, depth)] for k, v in obj.items()]
            return {"$dict": sorted(pairs, key=lambda kv: dumps(kv[0]))}
        if isinstance(obj, frozenset):
            return {"$frozenset": _sorted([self.tree(x, depth) for x in obj])}
        if isinstance(obj, set):
            return {"$set": _sorted([self.tree(x, depth) for x in obj])}
        return None
