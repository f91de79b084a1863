from __future__ import annotations

import pytest

from perfsmith.config import DEFAULT_PROTECTED
from perfsmith.measure.guards import (
    MAX_PATCH_BYTES,
    check_patch,
    flags_added,
    is_noop,
    is_protected,
    scan_added,
    smells,
)


def _patch(path: str, minus: str = "x = 1", plus: str = "x = 2") -> str:
    return (
        f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n"
        f"@@ -1 +1 @@\n-{minus}\n+{plus}\n"
    )


NEW_FILE = (
    "diff --git a/pkg/new.py b/pkg/new.py\n--- /dev/null\n+++ b/pkg/new.py\n@@ -0,0 +1 @@\n+y = 3\n"
)


def _codes(code: str, old: str | None = None, path: str = "pkg/a.py") -> list[str]:
    olds = {} if old is None else {path: old}
    return [f.code for f in scan_added(olds, {path: code})]


# ------------------------------------------------------------------ check_patch
def test_check_patch_sees_new_files() -> None:
    assert check_patch(NEW_FILE, DEFAULT_PROTECTED) is None
    finding = check_patch(NEW_FILE.replace("pkg/new.py", "conftest.py"), DEFAULT_PROTECTED)
    assert finding is not None and finding.code == "protected_path"


def test_check_patch_sees_binary_patches_without_file_headers() -> None:
    patch = (
        "diff --git a/tests/data.bin b/tests/data.bin\nindex 1234567..89abcde 100644\n"
        "GIT binary patch\nliteral 1\nIcmZpc00000\n\n"
    )
    finding = check_patch(patch, DEFAULT_PROTECTED)
    assert finding is not None and "tests/data.bin" in finding.reason
    assert finding.code == "protected_path" and finding.path == "tests/data.bin"


@pytest.mark.parametrize(
    "path",
    [
        "tests/test_x.py",
        "tests/data/input.txt",
        "conftest.py",
        "pkg/conftest.py",
        "pkg/test_inner.py",
        "pkg/inner_test.py",
        "pytest.ini",
        "tox.ini",
        "setup.cfg",
        "pyproject.toml",
        ".github/workflows/ci.yml",
        "sitecustomize.py",
        "pkg/sitecustomize.py",
        "lib/evil.pth",
    ],
)
def test_default_protected_paths(path: str) -> None:
    assert is_protected(path, DEFAULT_PROTECTED)
    finding = check_patch(_patch(path), DEFAULT_PROTECTED)
    assert finding is not None
    assert (finding.status, finding.code) == ("rejected", "protected_path")


@pytest.mark.parametrize("path", ["pkg/core.py", "pkg/testing_utils.py", "src/pkg/tests.py"])
def test_code_is_not_protected(path: str) -> None:
    assert not is_protected(path, DEFAULT_PROTECTED)


KERNEL_ONLY = (*DEFAULT_PROTECTED, "*", "!kernel.c")


@pytest.mark.parametrize(
    ("path", "protected"),
    [("kernel.c", False), ("kernel.h", True), ("numpy.py", True), (".gitignore", True),
     (".kernel-build/abc/kernel.so", True), ("tests/kernel_harness.py", True),
     ("sub/kernel.c", True), ("perfsmith_workload.py", True)],
)  # fmt: skip
def test_a_negated_pattern_leaves_one_file_editable(path: str, protected: bool) -> None:
    assert is_protected(path, KERNEL_ONLY) is protected


def test_the_last_matching_pattern_decides() -> None:
    assert not is_protected("tests/x.py", ["tests/**", "!tests/x.py"])
    assert is_protected("tests/x.py", ["!tests/x.py", "tests/**"])
    assert is_protected("tests/x.py", ["tests/**", "!tests/y.py"])
    assert not is_protected("x.py", ["!x.py"])  # re-allowing what nothing protected


def test_a_patch_touching_a_file_outside_the_allowed_one_is_rejected() -> None:
    finding = check_patch(_patch("helper.c"), KERNEL_ONLY)
    assert finding is not None and finding.code == "protected_path"
    assert check_patch(_patch("kernel.c"), KERNEL_ONLY) is None


def test_workload_pattern_is_exact() -> None:
    assert is_protected("bench/workload.py", ["bench/workload.py"])
    assert not is_protected("bench/other.py", ["bench/workload.py"])


def test_check_patch_accepts_code_edit() -> None:
    assert check_patch(_patch("pkg/core.py"), DEFAULT_PROTECTED) is None


def test_check_patch_rejects_test_edit_naming_the_file() -> None:
    finding = check_patch(_patch("pkg/core.py") + _patch("tests/test_core.py"), DEFAULT_PROTECTED)
    assert finding is not None
    assert finding.status == "rejected" and finding.code == "protected_path"
    assert "tests/test_core.py" in finding.reason
    assert "pkg/core.py" not in finding.reason


def test_check_patch_rejects_deleting_a_test() -> None:
    patch = (
        "diff --git a/tests/test_a.py b/tests/test_a.py\ndeleted file mode 100644\n"
        "--- a/tests/test_a.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-def test_a(): pass\n"
    )
    finding = check_patch(patch, DEFAULT_PROTECTED)
    assert finding is not None and finding.code == "protected_path"


@pytest.mark.parametrize("path", ["../outside.py", "/etc/passwd", ".git/config", "a/../../b.py"])
def test_check_patch_rejects_escapes(path: str) -> None:
    finding = check_patch(_patch(path), DEFAULT_PROTECTED)
    assert finding is not None
    assert (finding.status, finding.code) == ("rejected", "outside_repo")


def test_check_patch_empty_is_format_error() -> None:
    finding = check_patch("  \n", DEFAULT_PROTECTED)
    assert finding is not None
    assert (finding.status, finding.code) == ("format_error", "empty_patch")


def test_check_patch_without_paths_is_format_error() -> None:
    finding = check_patch("hello\n", DEFAULT_PROTECTED)
    assert finding is not None
    assert (finding.status, finding.code) == ("format_error", "empty_patch")


def test_check_patch_size_cap() -> None:
    big = _patch("pkg/a.py", plus="x = '" + "a" * (MAX_PATCH_BYTES + 1) + "'")
    finding = check_patch(big, DEFAULT_PROTECTED)
    assert finding is not None and finding.status == "rejected" and "larger" in finding.reason
    assert finding.code == "too_large"


# ---------------------------------------------------------------------- is_noop
def test_noop_comment_only() -> None:
    old = {"a.py": "def f(x):\n    return x + 1\n"}
    new = {"a.py": "def f(x):\n    # faster now\n    return x + 1  # yes\n"}
    assert is_noop(old, new)


def test_noop_docstring_and_formatting() -> None:
    old = {"a.py": "def f(x):\n    return x+1\n"}
    new = {"a.py": 'def f(x):\n    """Adds one."""\n    return (x + 1)\n'}
    assert is_noop(old, new)


def test_real_change_is_not_noop() -> None:
    assert not is_noop({"a.py": "x = 1\n"}, {"a.py": "x = 2\n"})


def test_syntax_error_is_not_noop() -> None:
    assert not is_noop({"a.py": "x = 1\n"}, {"a.py": "x = (\n"})


def test_new_file_is_not_noop_unless_empty() -> None:
    assert not is_noop({}, {"b.py": "y = 1\n"})
    assert is_noop({}, {"b.py": "\n"})


def test_non_python_change_counts() -> None:
    assert not is_noop({"data.txt": "a"}, {"data.txt": "b"})


# ------------------------------------------------------------------- scan_added
REJECTED = [
    # introspection: the stack, frames, tracers, the heap, native memory
    ("import inspect\ndef f():\n    return inspect.stack()\n", "introspection"),
    ("import inspect\nf = inspect.currentframe().f_back\n", "introspection"),
    ("import inspect\nx = inspect.getouterframes(None)\n", "introspection"),
    ("import inspect\nx = inspect.getframeinfo(None)\n", "introspection"),
    ("import sys\nframe = sys._getframe(1)\n", "introspection"),
    ("import sys\nsys.settrace(None)\n", "introspection"),
    ("import sys\nsys.setprofile(None)\n", "introspection"),
    ("import sys\nsys.monitoring.use_tool_id(2, 'x')\n", "introspection"),
    ("import threading\nthreading.settrace(None)\n", "introspection"),
    ("import traceback\ns = traceback.extract_stack()\n", "introspection"),
    ("import traceback\ns = list(traceback.walk_stack(None))\n", "introspection"),
    ("import gc\nobjs = gc.get_objects()\n", "introspection"),
    ("import gc\nrefs = gc.get_referrers(object)\n", "introspection"),
    ("def f(e):\n    return e.__traceback__.tb_frame\n", "introspection"),
    ("def f(fr):\n    return fr.f_locals\n", "introspection"),
    ("def f(fr):\n    return fr.f_globals['x']\n", "introspection"),
    ("import ctypes\n", "introspection"),
    ("from ctypes import pythonapi\n", "introspection"),
    ("import cffi\n", "introspection"),
    ("x = __import__('ctypes')\n", "introspection"),
    # dodges: aliases, from-imports, getattr, dynamic imports
    ("import inspect as i\ndef f():\n    return i.stack()\n", "introspection"),
    ("from inspect import stack\n", "introspection"),
    ("from inspect import stack as s\n", "introspection"),
    ("from sys import _getframe\n", "introspection"),
    ("import sys\ng = getattr(sys, '_getframe')\n", "introspection"),
    ("import sys\ng = getattr(sys, '_get' + 'frame')\n", "introspection"),
    ("def f(x):\n    return getattr(x, 'f_back')\n", "introspection"),
    ("f = __import__('inspect').stack\n", "introspection"),
    ("f = __import__('sys')._getframe\n", "introspection"),
    ("import importlib\nf = importlib.import_module('inspect').currentframe\n", "introspection"),
    ("import sys\nS = sys\nfr = S._getframe()\n", "introspection"),
    ("import sys\nfr = sys.__dict__['_getframe']\n", "introspection"),
    ("import sys\nfr = vars(sys)['_getframe']\n", "introspection"),
    ("import sys\nsys.addaudithook(print)\n", "introspection"),
    ("x = eval(\"__import__('inspect').stack()\")\n", "introspection"),
    ("exec('import ctypes')\n", "introspection"),
    ("exec('import time; time.perf_counter = lambda: 0')\n", "timer_patching"),
    ("x = eval('\"pytest\" in __import__(\"sys\").modules')\n", "benchmark_sniffing"),
    ("import sys as system\nfr = system._getframe()\n", "introspection"),
    # timer patching
    ("import time\ntime.perf_counter = lambda: 0.0\n", "timer_patching"),
    ("import time\ntime.time = lambda: 0.0\n", "timer_patching"),
    ("import time\ntime.sleep = lambda s: None\n", "timer_patching"),
    ("import timeit\ntimeit.default_timer = lambda: 0.0\n", "timer_patching"),
    ("import statistics\nstatistics.mean = min\n", "timer_patching"),
    ("import time as t\nt.perf_counter = t.process_time\n", "timer_patching"),
    ("import time\nsetattr(time, 'perf_counter', lambda: 0.0)\n", "timer_patching"),
    ("import time\nsetattr(time, name, value)\n", "timer_patching"),
    ("setattr(clock, 'perf_counter', fake)\n", "timer_patching"),
    ("import time\ndelattr(time, 'perf_counter')\n", "timer_patching"),
    ("import time\ndel time.perf_counter\n", "timer_patching"),
    ("from time import perf_counter\nperf_counter = lambda: 0.0\n", "timer_patching"),
    ("import builtins\nbuiltins.len = lambda x: 0\n", "timer_patching"),
    ("__builtins__['len'] = None\n", "timer_patching"),
    ("import sys\nsys.modules['time'] = object()\n", "timer_patching"),
    ("import time\nvars(time)['perf_counter'] = None\n", "timer_patching"),
    ("import time\ntime.__dict__.update(perf_counter=None)\n", "timer_patching"),
    ("import time\nvars(time).update(perf_counter=None)\n", "timer_patching"),
    ("import time\ntime.__dict__.setdefault('x', 1)\n", "timer_patching"),
    ("import time\ntime.__dict__['perf_counter'] = None\n", "timer_patching"),
    ("from unittest import mock\np = mock.patch('time.perf_counter')\n", "timer_patching"),
    ("import time\nfrom unittest import mock\np = mock.patch.object(time, 'time')\n",
     "timer_patching"),
    ("def f(monkeypatch):\n    monkeypatch.setattr('time.perf_counter', None)\n",
     "timer_patching"),
    ("import time\nobject.__setattr__(time, 'x', 1)\n", "timer_patching"),
    ("import time\nT = time\nT.monotonic = None\n", "timer_patching"),
    # benchmark sniffing
    ("import os\nX = os.environ.get('PYTEST_CURRENT_TEST')\n", "benchmark_sniffing"),
    ("import os\nX = 'PYTEST_CURRENT_TEST' in os.environ\n", "benchmark_sniffing"),
    ("import os\nX = os.getenv('PERFSMITH_SEED')\n", "benchmark_sniffing"),
    ("import sys\nX = 'pytest' in sys.modules\n", "benchmark_sniffing"),
    ("import sys\nX = sys.modules.get('_pytest')\n", "benchmark_sniffing"),
    ("import sys\nX = 'pyperf' in sys.modules\n", "benchmark_sniffing"),
    ("import sys\nX = sys.modules['__main__']\n", "benchmark_sniffing"),
    ("import sys\nX = sys.modules.get('__main__')\n", "benchmark_sniffing"),
    ("import sys\nX = sys.modules.get('__main__').__file__\n", "benchmark_sniffing"),
    ("import sys\nif sys.argv[0].endswith('x.py'):\n    pass\n", "benchmark_sniffing"),
    ("from sys import argv\n", "benchmark_sniffing"),
    ("import sys\nX = sys.orig_argv\n", "benchmark_sniffing"),
    ("import __main__\n", "benchmark_sniffing"),
    ("import pytest\n", "benchmark_sniffing"),
    ("import socket\nH = socket.gethostname()\n", "benchmark_sniffing"),
    ("import platform\nH = platform.node()\n", "benchmark_sniffing"),
    ("import os\nP = os.getppid()\n", "benchmark_sniffing"),
    ("import os\nif os.getcwd().endswith('bench'):\n    pass\n", "benchmark_sniffing"),
    ("from pathlib import Path\nX = 'work' in str(Path.cwd())\n", "benchmark_sniffing"),
    ("X = open('/proc/self/cmdline').read()\n", "benchmark_sniffing"),
]  # fmt: skip


@pytest.mark.parametrize(("code", "expected"), REJECTED)
def test_scan_added_rejects(code: str, expected: str) -> None:
    findings = scan_added({}, {"pkg/a.py": code})
    assert findings, "nothing found"
    assert {f.code for f in findings} == {expected}
    assert all(f.status == "rejected" and f.path == "pkg/a.py" for f in findings)
    assert all(f.line >= 1 and f"pkg/a.py:{f.line}" in f.reason for f in findings)


def test_patching_the_harness_library_is_timer_patching() -> None:
    old = "import pyperf\n\nx = 1\n"
    new = old.replace("x = 1", "pyperf.Runner.bench_time_func = None")
    # Naming the harness's library at all is sniffing; assigning into it is patching.
    assert set(_codes(new, old)) == {"benchmark_sniffing", "timer_patching"}


ALLOWED = [
    "import time\ndef f():\n    t0 = time.perf_counter()\n    return time.perf_counter() - t0\n",
    "import time\ntimer = time.perf_counter\n",
    "from time import perf_counter\nstart = perf_counter()\n",
    "import time\nX = time.time == time.monotonic\n",
    "import time\nX = time.perf_counter() == 0\n",
    "import inspect\ndef f(g):\n    return inspect.signature(g)\n",
    "import inspect\nX = inspect.isfunction(len), inspect.getdoc(len)\n",
    "import sys\nX = sys.version_info >= (3, 11), sys.maxsize, sys.getrecursionlimit()\n",
    "import sys\nsys.setrecursionlimit(10000)\n",
    "def f(xs):\n    cache = {}\n    for x in xs:\n        cache[x] = x\n    return cache\n",
    "import os\nX = os.environ.get('OMP_NUM_THREADS', '1')\n",
    "import os\nP = os.path.join(os.getcwd(), 'data')\n",
    'if __name__ == "__main__":\n    print("hi")\n',
    '"""Runs faster under pytest and pyperf; see PERFSMITH docs."""\n',
    'def f():\n    """Do not call under pytest."""\n    return 1\n',
    "# import inspect; inspect.stack(); time.perf_counter = 0\nx = 1\n",
    "import gc\ngc.collect()\ngc.disable()\n",
    "class C:\n    def __init__(self):\n        self.time = 0\n        self.perf_counter = 1\n",
    "def f(obj):\n    setattr(obj, 'time', 3)\n",
    "import traceback\ndef f(e):\n    return traceback.format_exception(e)\n",
    "import functools\n@functools.lru_cache(maxsize=None)\ndef f(x):\n    return x\n",
    "from . import stats\nX = stats.stack\n",
    "import numpy as np\nX = np.stack([1])\n",
    "def parse_cmdline(args):\n    return {'mode': 'cmdline'}\n",
    "import time\nX = vars(time)['perf_counter']()\n",
    "X = eval('1 + 2')\n",
    "def f(cls):\n    return cls.__module__ == '__main__'\n",
    "NS = {'__name__': '__main__'}\n",
    "import os, platform\nARCH = os.uname().machine, platform.machine()\n",
]


@pytest.mark.parametrize("code", ALLOWED)
def test_scan_added_allows(code: str) -> None:
    assert scan_added({}, {"pkg/a.py": code}) == ()


def test_only_added_lines_count() -> None:
    old = "import sys\n\ndef who():\n    return sys._getframe(1)\n\nx = 1\n"
    new = old.replace("x = 1", "x = 2")
    assert scan_added({"a.py": old}, {"a.py": new}) == ()
    added = old.replace("x = 1", "x = sys._getframe(0)")
    findings = scan_added({"a.py": old}, {"a.py": added})
    assert [(f.code, f.line) for f in findings] == [("introspection", 6)]


def test_existing_import_counts_for_an_added_use() -> None:
    old = "import inspect as i\n\nx = 1\n"
    assert _codes(old.replace("x = 1", "x = i.stack()"), old) == ["introspection"]


def test_an_alias_changed_under_an_unchanged_use_counts() -> None:
    old = "import mylib as i\n\ndef f():\n    return i.stack()\n"
    new = old.replace("import mylib as i", "import inspect as i")
    findings = scan_added({"a.py": old}, {"a.py": new})
    assert {f.line for f in findings} == {4}


def test_a_reordered_plain_import_does_not_flag_old_code() -> None:
    old = "import os\nimport sys\n\ndef who():\n    return sys._getframe(1)\n"
    new = "import sys\nimport os\n\ndef who():\n    return sys._getframe(1)\n"
    assert scan_added({"a.py": old}, {"a.py": new}) == ()


def test_new_files_are_scanned_whole_and_others_skipped() -> None:
    new = {
        "pkg/new.py": "import sys\nx = 1\ny = sys._getframe()\n",
        "pkg/notes.txt": "sys._getframe()\n",
        "pkg/same.py": "import inspect\ninspect.stack()\n",
    }
    old = {"pkg/same.py": new["pkg/same.py"], "pkg/gone.py": "import ctypes\n"}
    findings = scan_added(old, new)
    assert [(f.path, f.line) for f in findings] == [("pkg/new.py", 3)]


def test_findings_are_sorted_and_deduplicated() -> None:
    code = "import sys\nfrom sys import _getframe\nf = _getframe(1).f_back\ng = sys.settrace\n"
    findings = scan_added({}, {"b.py": code, "a.py": "import ctypes\n"})
    keys = [(f.path, f.line, f.code) for f in findings]
    assert keys == sorted(set(keys))
    assert keys[0] == ("a.py", 1, "introspection")
    assert {line for path, line, _ in keys if path == "b.py"} == {2, 3, 4}


def test_unparsable_file_falls_back_to_text_scan() -> None:
    findings = scan_added({}, {"a.py": "def f(:\n    return sys._getframe(1)\n"})
    assert [(f.code, f.line) for f in findings] == [("introspection", 0)]
    assert "a.py" in findings[0].reason
    assert scan_added({}, {"a.py": "def f(:\n    # sys._getframe\n    return 1\n"}) == ()
    assert _codes("def f(:\n  time.perf_counter = g\n") == ["timer_patching"]
    assert _codes("def f(:\n  if 'pytest' in sys.modules: pass\n") == ["benchmark_sniffing"]


# ------------------------------------------------------------------ flags_added
@pytest.mark.parametrize(
    ("code", "flag"),
    [
        ("import functools\n@functools.lru_cache(maxsize=None)\ndef f(x):\n    return x\n",
         "memoisation"),
        ("import functools\n@functools.cache\ndef f(x):\n    return x\n", "memoisation"),
        ("from functools import lru_cache as lc\n@lc()\ndef f(x):\n    return x\n",
         "memoisation"),
        ("_CACHE = {}\n", "memoisation"),
        ("_memo: dict[int, int] = dict()\n", "memoisation"),
        ("import collections\nRESULT_STORE = collections.defaultdict(list)\n", "memoisation"),
        ("class C:\n    _lookup = {}\n", "memoisation"),
        ("def f(x, _memo={}):\n    return x\n", "memoisation"),
        ("import pickle\ndef f(x, fh):\n    pickle.dump(x, fh)\n", "disk_cache"),
        ("import tempfile\nD = tempfile.gettempdir()\n", "disk_cache"),
        ("P = '/tmp/results.pkl'\n", "disk_cache"),
        ("P = '/dev/shm/x'\n", "disk_cache"),
        ("import os\nP = os.path.expanduser('~/.cache/x')\n", "disk_cache"),
        ("from pathlib import Path\nP = Path.home() / 'x'\n", "disk_cache"),
        ("import shelve\ndb = shelve.open('x')\n", "disk_cache"),
        ("import importlib\nm = importlib.import_module('ti' + 'me')\n", "dynamic_import"),
        ("m = __import__(name)\n", "dynamic_import"),
        ("x = eval(source)\n", "dynamic_code"),
    ],
)  # fmt: skip
def test_flags_added(code: str, flag: str) -> None:
    assert flag in flags_added({}, {"pkg/a.py": code})
    assert scan_added({}, {"pkg/a.py": code}) == (), "flags never reject"


@pytest.mark.parametrize(
    "code",
    [
        "def f(xs):\n    cache = {}\n    return cache\n",
        "CONFIG = {}\n",
        "_CACHE_SIZE = 128\n",
        "def f(x, memo=None):\n    return x\n",
        "import importlib\nm = importlib.import_module('json')\n",
        "P = 'results/tmp.txt'\n",
    ],
)
def test_no_flags(code: str) -> None:
    assert flags_added({}, {"pkg/a.py": code}) == ()


def test_flags_only_for_added_lines() -> None:
    old = "import functools\n\n@functools.lru_cache\ndef f(x):\n    return x\n"
    assert flags_added({"a.py": old}, {"a.py": old.replace("return x", "return x + 1")}) == ()


# ----------------------------------------------------------------------- smells
@pytest.mark.parametrize(
    ("line", "flag"),
    [
        ("frame = sys._getframe(1)", "introspection"),
        ("caller = inspect.stack()[1]", "introspection"),
        ("sys.settrace(None)", "introspection"),
        ("objs = gc.get_objects()", "introspection"),
        ("import ctypes", "introspection"),
        ("time.perf_counter = lambda: 0.0", "timer_patching"),
        ("setattr(time, 'perf_counter', f)", "timer_patching"),
        ("if os.environ.get('PYTEST_CURRENT_TEST'):", "benchmark_sniffing"),
        ("if 'pytest' in sys.modules:", "benchmark_sniffing"),
        ("name = sys.argv[0]", "benchmark_sniffing"),
        ("open('/tmp/cache.pkl', 'wb')", "disk_cache"),
        ("@functools.lru_cache(maxsize=None)", "memoisation"),
        ("_MEMO = {}", "memoisation"),
    ],
)
def test_smells_flag_added_lines(line: str, flag: str) -> None:
    assert flag in smells(_patch("pkg/a.py", plus=line))


def test_smells_ignore_removed_lines() -> None:
    assert smells(_patch("pkg/a.py", minus="frame = sys._getframe(1)", plus="x = 2")) == ()


def test_time_comparison_is_not_timer_patching() -> None:
    assert "timer_patching" not in smells(_patch("pkg/a.py", plus="if time.time == other:"))
    assert "timer_patching" not in smells(_patch("pkg/a.py", plus="t = time.perf_counter()"))
