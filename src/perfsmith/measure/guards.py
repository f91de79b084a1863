"""Static gates: what a candidate may touch, whether it changes anything, what it may add.

Pure functions over patch text and file contents; nothing here runs candidate code.

Every refusal carries a machine-readable code (``GuardFinding.code``): ``protected_path``,
``outside_repo``, ``too_large``, ``empty_patch`` (from ``check_patch``), and
``introspection``, ``timer_patching``, ``benchmark_sniffing`` (from ``scan_added``, an AST
scan of the lines a candidate adds). Caching is legitimate for pure functions, so
``memoisation`` and ``disk_cache`` are only flags (``flags_added``, ``smells``); the dynamic
cold-versus-warm check decides about them.
"""

from __future__ import annotations

import ast
import difflib
import fnmatch
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from perfsmith.diffs import touched_paths

MAX_PATCH_BYTES = 512_000


@dataclass(frozen=True)
class GuardFinding:
    """Why the static gate refused a patch.

    Attributes:
        status: ``"rejected"`` or ``"format_error"``.
        reason: one line the Coder can act on.
        code: machine-readable reason (see the module docs).
        path: the file the finding is about, where there is one.
        line: its line in the new file (1-based), 0 when not about a line.
    """

    status: str
    reason: str
    code: str
    path: str = ""
    line: int = 0


def is_protected(path: str, patterns: Iterable[str]) -> bool:
    """Whether ``path`` matches the glob ``patterns``, read in order as in .gitignore.

    ``**/`` at the start of a pattern also matches at the top level, so
    ``**/conftest.py`` covers ``conftest.py`` and ``pkg/conftest.py``. A pattern starting
    with ``!`` makes matching paths editable again, and the last pattern that matches
    decides: ``["*", "!kernel.c"]`` protects everything but ``kernel.c``.
    """
    protected = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        glob = pattern[1:] if negated else pattern
        if _matches(path, glob):
            protected = not negated
    return protected


def _matches(path: str, pattern: str) -> bool:
    if fnmatch.fnmatchcase(path, pattern):
        return True
    if pattern.startswith("**/") and fnmatch.fnmatchcase(path, pattern[3:]):
        return True
    return pattern.endswith("/**") and (path == pattern[:-3] or path.startswith(pattern[:-2]))


def check_patch(patch: str, protected: Sequence[str]) -> GuardFinding | None:
    """The parse and path-policy gates on the patch text. ``None`` means the patch may run."""
    if not patch.strip():
        return GuardFinding("format_error", "the patch is empty", "empty_patch")
    if len(patch.encode("utf-8")) > MAX_PATCH_BYTES:
        return GuardFinding(
            "rejected",
            f"the patch is larger than {MAX_PATCH_BYTES // 1000} kB; make smaller edits",
            "too_large",
        )
    paths = touched_paths(patch)
    if not paths:
        return GuardFinding("format_error", "the patch names no file", "empty_patch")
    for path in paths:
        pure = PurePosixPath(path)
        if pure.is_absolute() or ".." in pure.parts or path.startswith(".git/") or path == ".git":
            return GuardFinding(
                "rejected", f"{path} is outside the repository", "outside_repo", path=path
            )
    hit = [p for p in paths if is_protected(p, protected)]
    if hit:
        return GuardFinding(
            "rejected",
            "the patch edits protected files (tests, test config, the workload or CI): "
            + ", ".join(hit)
            + "; change only the code under test",
            "protected_path",
            path=hit[0],
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


# ---------------------------------------------------------------- added-code scan
_INTROSPECTION = frozenset(
    {f"inspect.{n}" for n in ("stack", "currentframe", "getouterframes", "getinnerframes",
                              "getframeinfo", "trace")}
    | {f"sys.{n}" for n in ("_getframe", "_getframemodulename", "_current_frames", "settrace",
                            "setprofile", "call_tracing", "monitoring", "addaudithook")}
    | {f"threading.{n}" for n in ("settrace", "setprofile", "settrace_all_threads",
                                  "setprofile_all_threads")}
    | {f"traceback.{n}" for n in ("extract_stack", "walk_stack", "format_stack", "print_stack")}
    | {"gc.get_referrers", "gc.get_referents", "gc.get_objects"}
)  # fmt: skip
_NATIVE_ROOTS = frozenset({"ctypes", "_ctypes", "cffi"})
_FRAME_ATTRS = frozenset(
    {"f_back", "f_locals", "f_globals", "f_builtins", "f_code", "f_lasti", "f_lineno",
     "f_trace", "tb_frame", "gi_frame", "cr_frame", "ag_frame"}
)  # fmt: skip
# Modules whose attributes the harness relies on; none of them may be reassigned.
_TIMER_ROOTS = frozenset({"time", "timeit", "statistics", "pyperf", "builtins"})
_TIMER_FUNCS = frozenset(
    {"perf_counter", "perf_counter_ns", "monotonic", "monotonic_ns", "process_time",
     "process_time_ns", "thread_time", "thread_time_ns", "default_timer"}
)  # fmt: skip
_SNIFF_NAMES = frozenset(
    {"sys.argv", "sys.orig_argv", "socket.gethostname", "platform.node", "os.getppid"}
)  # fmt: skip
_SNIFF_MODULES = frozenset({"pytest", "_pytest", "pyperf", "perfsmith", "__main__"})
_CWD_CALLS = frozenset({"os.getcwd", "os.getcwdb", "pathlib.Path.cwd"})
_HARNESS_TEXT = re.compile(
    r"PYTEST_|PERFSMITH|perfsmith|^_?pytest(\.|$)|\bpyperf\b|/proc/(self|\d)|/cmdline", re.I
)
_MEMO_NAME = re.compile(r"cache|memo|lru|lookup|store", re.I)
_MEMO_CALLS = frozenset({"functools.lru_cache", "functools.cache"})
_CONTAINER_CALLS = frozenset(
    {"dict", "list", "set", "collections.defaultdict", "collections.OrderedDict",
     "collections.Counter", "weakref.WeakValueDictionary", "weakref.WeakKeyDictionary"}
)  # fmt: skip
_DISK_CALLS = frozenset(
    {"pickle.dump", "pickle.load", "marshal.dump", "marshal.load", "shelve.open", "dbm.open",
     "sqlite3.connect", "os.path.expanduser", "pathlib.Path.home", "joblib.Memory"}
)  # fmt: skip
_DISK_ROOTS = frozenset({"tempfile", "diskcache"})
_DISK_TEXT = re.compile(r"^/tmp\b|/dev/shm|\.cache\b|^~")
_WHY = {
    "introspection": "inspects the interpreter's frames, tracers or native memory",
    "timer_patching": "replaces a timer or a module the harness relies on",
    "benchmark_sniffing": "checks whether it runs under the benchmark or the tests",
}
_HINT = "the same code must run, unobserved, everywhere; remove it"

_Resolved = tuple[str, frozenset[int]]  # dotted name, lines of the aliases it went through


class _Scan:
    """One parsed file: import aliases, parents, and the nodes on added lines."""

    def __init__(self, tree: ast.Module, added: frozenset[int]) -> None:
        self.tree, self.added = tree, added
        self.alias: dict[str, _Resolved] = {}
        self.from_timer: set[str] = set()  # names bound by `from time import ...`
        self.parent: dict[ast.AST, ast.AST] = {}
        for node in ast.walk(tree):
            for child in ast.iter_child_nodes(node):
                self.parent[child] = node
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for name, dotted, decides in _bindings(node):
                    lines = frozenset({node.lineno}) if decides else frozenset()
                    self.alias[name] = (dotted, lines)
                    if dotted.split(".")[0] in _TIMER_ROOTS and isinstance(node, ast.ImportFrom):
                        self.from_timer.add(name)
        assigns = sorted(
            (n for n in ast.walk(tree) if isinstance(n, ast.Assign)), key=lambda n: n.lineno
        )
        for _ in range(2):  # twice, so aliases of aliases resolve
            for node in assigns:
                got = self.resolve(node.value)
                for target in node.targets:
                    if got and isinstance(target, ast.Name) and target.id not in self.alias:
                        self.alias[target.id] = (got[0], got[1] | {node.lineno})

    def resolve(self, node: ast.AST) -> _Resolved | None:
        """The dotted name an expression stands for, seen through imports and aliases."""
        if isinstance(node, ast.Name):
            if node.id in self.alias:
                return self.alias[node.id]
            if node.id == "__builtins__":
                return ("builtins", frozenset())
            return None
        if isinstance(node, ast.Attribute):
            base = self.resolve(node.value)
            return (f"{base[0]}.{node.attr}", base[1]) if base else None
        if isinstance(node, ast.Subscript):
            base = self.resolve(node.value)
            key = _const_str(node.slice)
            if base and key and base[0] == "sys.modules":
                return (key, base[1])
            if base and key and base[0].endswith(".__dict__"):  # vars(m)[k], m.__dict__[k]
                return (f"{base[0][: -len('.__dict__')]}.{key}", base[1])
            return None
        if isinstance(node, ast.Call) and node.args:
            func = self.resolve(node.func)
            name = func[0] if func else getattr(node.func, "id", "")
            first = _const_str(node.args[0])
            if name in ("__import__", "importlib.import_module", "sys.modules.get") and first:
                return (first, func[1] if func else frozenset())
            if name == "vars" and (inner := self.resolve(node.args[0])):
                return (f"{inner[0]}.__dict__", inner[1])
            if name == "getattr" and len(node.args) >= 2:
                base, attr = self.resolve(node.args[0]), _const_str(node.args[1])
                return (f"{base[0]}.{attr}", base[1]) if base and attr else None
        return None

    def is_added(self, node: ast.AST, via: frozenset[int] = frozenset()) -> bool:
        start = getattr(node, "lineno", 0)
        end = getattr(node, "end_lineno", start) or start
        return any(n in self.added for n in range(start, end + 1)) or bool(via & self.added)

    def in_condition(self, node: ast.AST) -> bool:
        child, up = node, self.parent.get(node)
        while up is not None and not isinstance(up, ast.stmt):
            if isinstance(up, ast.Compare | ast.BoolOp):
                return True
            child, up = up, self.parent.get(up)
        return isinstance(up, ast.If | ast.While | ast.Assert) and child is up.test


def _bindings(node: ast.Import | ast.ImportFrom) -> Iterator[tuple[str, str, bool]]:
    """(local name, dotted name, whether the line decides what the name means)."""
    if isinstance(node, ast.Import):
        for a in node.names:
            if a.asname:
                yield a.asname, a.name, True
            else:  # `import x` never changes what `x` means, so editing it is no alias trick
                yield a.name.split(".")[0], a.name.split(".")[0], False
    elif node.level == 0 and node.module:
        for a in node.names:
            yield a.asname or a.name, f"{node.module}.{a.name}", True


def _const_str(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _root(dotted: str) -> str:
    return dotted.split(".")[0]


def _introspective(dotted: str) -> bool:
    return (
        dotted in _INTROSPECTION
        or _root(dotted) in _NATIVE_ROOTS
        or dotted.startswith("sys.monitoring.")
    )


def _inert_strings(tree: ast.AST) -> set[int]:
    """ids of string constants that cannot steer anything: docstrings and bare strings."""
    return {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and _const_str(node.value) is not None
    }


def _rejections(scan: _Scan) -> Iterator[tuple[str, int, str]]:
    """(code, line, detail) for each dangerous thing on an added line."""
    inert = _inert_strings(scan.tree)
    for node in ast.walk(scan.tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Import | ast.ImportFrom) and scan.is_added(node):
            for _, dotted, _ in _bindings(node):
                if _introspective(dotted):
                    yield "introspection", line, f"import of {dotted}"
                elif _root(dotted) in _SNIFF_MODULES or dotted in _SNIFF_NAMES:
                    yield "benchmark_sniffing", line, f"import of {dotted}"
            if isinstance(node, ast.ImportFrom) and _root(node.module or "") in _NATIVE_ROOTS:
                yield "introspection", line, f"import from {node.module}"
        if isinstance(node, ast.Name | ast.Attribute | ast.Call | ast.Subscript):
            got = scan.resolve(node)
            if got and scan.is_added(node, got[1]):
                dotted = got[0]
                if _introspective(dotted):
                    yield "introspection", line, dotted
                elif dotted in _SNIFF_NAMES or dotted in _SNIFF_MODULES:
                    yield "benchmark_sniffing", line, dotted
                elif dotted in _CWD_CALLS and scan.in_condition(node):
                    yield "benchmark_sniffing", line, f"a condition on {dotted}()"
        if not scan.is_added(node):
            continue
        if isinstance(node, ast.Attribute) and node.attr in _FRAME_ATTRS:
            yield "introspection", line, f"frame attribute .{node.attr}"
        if isinstance(node, ast.Constant) and id(node) not in inert:
            text = _const_str(node)
            if text and _HARNESS_TEXT.search(text):
                yield "benchmark_sniffing", line, repr(text[:40])
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Delete):
            targets = node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target]
            for target in targets:
                if what := _patched_target(scan, target, node):
                    yield "timer_patching", line, what
        if isinstance(node, ast.Call):
            yield from _call_rejections(scan, node, line)


def _patched_target(scan: _Scan, target: ast.AST, stmt: ast.stmt) -> str | None:
    if isinstance(target, ast.Tuple | ast.List):
        return next((w for t in target.elts if (w := _patched_target(scan, t, stmt))), None)
    if isinstance(target, ast.Attribute | ast.Subscript):
        got = scan.resolve(target.value)
        if got and _root(got[0]) in _TIMER_ROOTS:
            return f"assignment into {got[0]}"
        if isinstance(target, ast.Subscript):
            key = _const_str(target.slice) or ""
            if got and got[0] == "sys.modules" and _root(key) in _TIMER_ROOTS:
                return f"sys.modules[{key!r}] replaced"
    if isinstance(target, ast.Name) and target.id in scan.from_timer:
        value = getattr(stmt, "value", None)
        same = value is not None and scan.resolve(value) == scan.alias.get(target.id)
        if not same:
            return f"{target.id} (imported from {scan.alias[target.id][0]}) rebound"
    return None


def _call_rejections(scan: _Scan, node: ast.Call, line: int) -> Iterator[tuple[str, int, str]]:
    func = scan.resolve(node.func)
    name = func[0] if func else getattr(node.func, "id", getattr(node.func, "attr", ""))
    args = node.args
    first = scan.resolve(args[0]) if args else None
    second = _const_str(args[1]) if len(args) > 1 else None
    tail = name.rsplit(".", 1)[-1]
    if tail in ("setattr", "delattr", "__setattr__") or name.endswith("patch.object"):
        if first and _root(first[0]) in _TIMER_ROOTS:
            yield "timer_patching", line, f"{tail}({first[0]}, ...)"
        elif second in _TIMER_FUNCS:
            yield "timer_patching", line, f"{tail}(..., {second!r})"
    text = _const_str(args[0]) if args else None
    if tail in ("patch", "setattr") and text and _root(text) in _TIMER_ROOTS and "." in text:
        yield "timer_patching", line, f"{tail}({text!r})"
    # vars(time).update(...), time.__dict__.setdefault(...) and the like
    namespace = func[0] if func and func[0].endswith(f".__dict__.{tail}") else ""
    if tail in ("update", "__setitem__", "setdefault") and _root(namespace) in _TIMER_ROOTS:
        yield "timer_patching", line, f"{namespace}(...)"
    if name in ("eval", "exec", "compile") and text:  # code hidden in a string
        for code, rx in _SMELLS[:3]:
            if rx.search(text):
                yield code, line, f"{name}() of code that does"
    if name == "getattr" and args:
        if second in _FRAME_ATTRS:
            yield "introspection", line, f"getattr(..., {second!r})"
        elif first and first[0] in ("sys", "inspect", "gc", "traceback") and second is None:
            yield "introspection", line, f"getattr({first[0]}, <computed name>)"


def _flags(scan: _Scan) -> Iterator[str]:
    for node in ast.walk(scan.tree):
        if isinstance(node, ast.arguments):  # no line of its own: look at each default
            params = [*node.posonlyargs, *node.args, *node.kwonlyargs]
            defaults = [*node.defaults, *node.kw_defaults]
            for p, d in zip(params[len(params) - len(defaults) :], defaults, strict=False):
                memo_arg = d is not None and _MEMO_NAME.search(p.arg) is not None
                if memo_arg and d is not None and scan.is_added(d) and _is_container(scan, d):
                    yield "memoisation"
        if not scan.is_added(node):
            continue
        if isinstance(node, ast.Name | ast.Attribute):
            got = scan.resolve(node)
            dotted = got[0] if got else ""
            if dotted in _MEMO_CALLS:
                yield "memoisation"
            if dotted in _DISK_CALLS or _root(dotted) in _DISK_ROOTS:
                yield "disk_cache"
        if isinstance(node, ast.Constant) and _DISK_TEXT.search(_const_str(node) or ""):
            yield "disk_cache"
        if isinstance(node, ast.Call) and node.args and _const_str(node.args[0]) is None:
            got = scan.resolve(node.func)
            if getattr(node.func, "id", "") == "__import__" or (
                got and got[0] == "importlib.import_module"
            ):
                yield "dynamic_import"
            if getattr(node.func, "id", "") in ("eval", "exec", "compile"):
                yield "dynamic_code"
        owner = scan.parent.get(node)
        if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(
            owner, ast.Module | ast.ClassDef
        ):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            named = any(isinstance(t, ast.Name) and _MEMO_NAME.search(t.id) for t in targets)
            if named and node.value is not None and _is_container(scan, node.value):
                yield "memoisation"


def _is_container(scan: _Scan, node: ast.AST) -> bool:
    if isinstance(node, ast.Dict | ast.List | ast.Set | ast.DictComp):
        return True
    if isinstance(node, ast.Call):
        got = scan.resolve(node.func)
        name = got[0] if got else getattr(node.func, "id", "")
        return name in _CONTAINER_CALLS or name.rsplit(".", 1)[-1] in _CONTAINER_CALLS
    return False


def _added_lines(old: str | None, new: str) -> frozenset[int]:
    """1-based line numbers of ``new`` that are not in ``old`` (all of them for a new file)."""
    b = new.splitlines()
    if old is None:
        return frozenset(range(1, len(b) + 1))
    matcher = difflib.SequenceMatcher(None, old.splitlines(), b, autojunk=False)
    lines: set[int] = set()
    for tag, _, _, j1, j2 in matcher.get_opcodes():
        if tag in ("replace", "insert"):
            lines.update(range(j1 + 1, j2 + 1))
    return frozenset(lines)


def _changed_python(
    old_files: Mapping[str, str], new_files: Mapping[str, str]
) -> Iterator[tuple[str, str, frozenset[int]]]:
    for path in sorted(new_files):
        new, old = new_files[path], old_files.get(path)
        if path.endswith((".py", ".pyw")) and new != old:
            added = _added_lines(old, new)
            if added:
                yield path, new, added


def scan_added(
    old_files: Mapping[str, str], new_files: Mapping[str, str]
) -> tuple[GuardFinding, ...]:
    """Reject added Python code that inspects, patches or sniffs the harness.

    Each changed ``.py`` file in ``new_files`` is parsed whole (so imports and aliases
    anywhere in it count), and only nodes on lines that ``old_files`` did not have are
    reported. A file that does not parse falls back to a text scan of its added lines.

    Args:
        old_files: path -> content before (the base); a missing path is a new file.
        new_files: path -> content after, for every file the patch touches (deleted files
            left out).

    Returns:
        Findings with status ``"rejected"`` and code ``introspection``, ``timer_patching``
        or ``benchmark_sniffing``, ordered by path and line; () when nothing was found.
    """
    found: dict[tuple[str, int, str], GuardFinding] = {}
    for path, new, added in _changed_python(old_files, new_files):
        try:
            hits = list(_rejections(_Scan(ast.parse(new), added)))
        except (SyntaxError, ValueError, RecursionError):
            lines = new.splitlines()
            text = "\n".join(lines[n - 1].split("#", 1)[0] for n in sorted(added))
            hits = [(code, 0, "text scan") for code, rx in _SMELLS[:3] if rx.search(text)]
        for code, line, detail in hits:
            where = f"{path}:{line}" if line else path
            reason = f"{where}: added code {_WHY[code]} ({detail}); {_HINT}"
            found.setdefault((path, line, code), GuardFinding("rejected", reason, code, path, line))
    return tuple(found[k] for k in sorted(found))


def flags_added(old_files: Mapping[str, str], new_files: Mapping[str, str]) -> tuple[str, ...]:
    """Suspicions that do not reject by themselves, from the same scan as ``scan_added``.

    ``memoisation`` (functools caches, module- or class-level containers named like a
    cache, memo-named mutable defaults), ``disk_cache`` (pickle/shelve/tempfile, paths
    under /tmp, /dev/shm, ~ or .cache), ``dynamic_import`` (imports by computed name) and
    ``dynamic_code`` (eval/exec/compile of computed text).
    """
    names: set[str] = set()
    for _, new, added in _changed_python(old_files, new_files):
        try:
            names.update(_flags(_Scan(ast.parse(new), added)))
        except (SyntaxError, ValueError, RecursionError):
            continue  # scan_added's text fallback covers files that do not parse
    return tuple(sorted(names))


# Text patterns over added lines: flags on the raw patch (before it is applied), and the
# fallback of scan_added for files that do not parse. The first three are rejection codes.
_SMELLS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "introspection",
        re.compile(
            r"\binspect\.(stack|currentframe|getouterframes|getinnerframes|getframeinfo|trace)\b"
            r"|\bsys\.(_getframe|_current_frames|settrace|setprofile|monitoring)"
            r"|\bthreading\.(settrace|setprofile)|\btraceback\.(extract|walk|format|print)_stack"
            r"|\bgc\.get_(referrers|referents|objects)|\b(f_back|f_locals|f_globals|tb_frame)\b"
            r"|^\s*(import|from)\s+(ctypes|_ctypes|cffi)\b|__import__\(\s*['\"](inspect|ctypes)",
            re.M,
        ),
    ),
    (
        "timer_patching",
        re.compile(
            r"\b(time|timeit|statistics|pyperf|builtins|__builtins__)\.\w+\s*=[^=]"
            r"|\bsetattr\(\s*(time|timeit|statistics|pyperf|builtins)\b"
            r"|sys\.modules\[\s*['\"](time|timeit|statistics|pyperf)['\"]\s*\]\s*=[^=]",
            re.M,
        ),
    ),
    (
        "benchmark_sniffing",
        re.compile(
            r"PYTEST_|PERFSMITH|['\"]_?pytest['\"]|['\"]pyperf['\"]|\bsys\.(orig_)?argv\b"
            r"|^\s*import\s+(pytest|pyperf|__main__)\b|gethostname\(|/proc/self",
            re.M,
        ),
    ),
    ("disk_cache", re.compile(r"(/tmp/|/dev/shm|\.cache|tempfile\.|shelve|pickle\.dump)")),
    (
        "memoisation",
        re.compile(
            r"\blru_cache\b|\bfunctools\.cache\b|^\s*@cache\b"
            r"|^\w*(cache|memo)\w*\s*(:[^=]*)?=\s*(\{|dict\(|defaultdict\()",
            re.M | re.I,
        ),
    ),
)


def smells(patch: str) -> tuple[str, ...]:
    """Codes of suspicious text patterns in the lines a patch adds (flags, not verdicts).

    Comments are not ignored here: this runs on the raw patch before it is applied. The
    verdicts come from ``scan_added`` on the applied files.
    """
    added = [
        line[1:]
        for line in patch.splitlines()
        if line.startswith("+") and not line.startswith("+++")
    ]
    text = "\n".join(added)
    return tuple(name for name, rx in _SMELLS if rx.search(text))
