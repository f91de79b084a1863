"""Static gates: what a candidate may touch, whether it changes anything, what smells.

Pure functions over patch text and file contents; nothing here runs candidate code.
"""

from __future__ import annotations

import ast
import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from perfsmith.diffs import touched_paths

MAX_PATCH_BYTES = 512_000


@dataclass(frozen=True)
class GuardFinding:
    """Why the static gate refused a patch."""

    status: str  # "rejected" or "format_error"
    reason: str


def is_protected(path: str, patterns: Iterable[str]) -> bool:
    """Whether ``path`` matches one of the glob ``patterns``.

    ``**/`` at the start of a pattern also matches at the top level, so
    ``**/conftest.py`` covers ``conftest.py`` and ``pkg/conftest.py``.
    """
    for pattern in patterns:
        if fnmatch.fnmatchcase(path, pattern):
            return True
        if pattern.startswith("**/") and fnmatch.fnmatchcase(path, pattern[3:]):
            return True
        if pattern.endswith("/**") and (path == pattern[:-3] or path.startswith(pattern[:-2])):
            return True
    return False


def check_patch(patch: str, protected: Sequence[str]) -> GuardFinding | None:
    """The parse and static-policy gates. ``None`` means the patch may run."""
    if not patch.strip():
        return GuardFinding("format_error", "the patch is empty")
    if len(patch.encode("utf-8")) > MAX_PATCH_BYTES:
        return GuardFinding(
            "rejected", f"the patch is larger than {MAX_PATCH_BYTES // 1000} kB; make smaller edits"
        )
    paths = touched_paths(patch)
    if not paths:
        return GuardFinding("format_error", "the patch names no file")
    for path in paths:
        pure = PurePosixPath(path)
        if pure.is_absolute() or ".." in pure.parts or path.startswith(".git/") or path == ".git":
            return GuardFinding("rejected", f"{path} is outside the repository")
    hit = [p for p in paths if is_protected(p, protected)]
    if hit:
        return GuardFinding(
            "rejected",
            "the patch edits protected files (tests, test config, the workload or CI): "
            + ", ".join(hit)
            + "; change only the code under test",
        )
    return None


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                node.body = body[1:] or [ast.Pass()]
    return tree


def _same_python(old: str, new: str) -> bool:
    try:
        a = _strip_docstrings(ast.parse(old))
        b = _strip_docstrings(ast.parse(new))
    except SyntaxError:
        return False
    return ast.dump(a) == ast.dump(b)


def is_noop(old: Mapping[str, str], new: Mapping[str, str]) -> bool:
    """Whether ``new`` changes nothing that runs compared with ``old``.

    Both map paths to contents; a path missing from ``old`` is a new file. Python files
    compare by AST without docstrings (comments and formatting never count); other files
    compare byte for byte.
    """
    for path, content in new.items():
        before = old.get(path)
        if before is None:
            if content.strip():
                return False
            continue
        if before == content:
            continue
        if not (path.endswith(".py") and _same_python(before, content)):
            return False
    return True


# Added lines that inspect the harness, patch timers or sniff the benchmark. Flags only:
# the Judge sees them; later gates may turn them into rejections.
_SMELLS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "stack_inspection",
        re.compile(r"\binspect\.(stack|currentframe|getouterframes)|sys\._getframe|\bf_back\b"),
    ),
    ("tracing_hook", re.compile(r"sys\.(settrace|setprofile)|threading\.(settrace|setprofile)")),
    ("gc_introspection", re.compile(r"gc\.(get_objects|get_referrers)")),
    ("timer_patching", re.compile(r"\b(time|timeit|statistics|pyperf)\.\w+\s*=[^=]")),
    (
        "benchmark_sniffing",
        re.compile(r"PYTEST_CURRENT_TEST|PERFSMITH_|pyperf|sys\.modules\[.pytest.\]|sys\.argv"),
    ),
    ("disk_cache", re.compile(r"(/tmp/|/dev/shm|\.cache|tempfile\.|shelve|pickle\.dump)")),
)


def smells(patch: str) -> tuple[str, ...]:
    """Names of suspicious patterns found in the lines a patch adds."""
    added = [
        line[1:]
        for line in patch.splitlines()
        if line.startswith("+") and not line.startswith("+++")
    ]
    text = "\n".join(added)
    return tuple(name for name, rx in _SMELLS if rx.search(text))
