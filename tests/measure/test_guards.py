from __future__ import annotations

import pytest

from perfsmith.config import DEFAULT_PROTECTED
from perfsmith.measure.guards import check_patch, is_noop, is_protected, smells


def _patch(path: str, minus: str = "x = 1", plus: str = "x = 2") -> str:
    return (
        f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n"
        f"@@ -1 +1 @@\n-{minus}\n+{plus}\n"
    )


NEW_FILE = (
    "diff --git a/pkg/new.py b/pkg/new.py\n--- /dev/null\n+++ b/pkg/new.py\n@@ -0,0 +1 @@\n+y = 3\n"
)


def test_check_patch_sees_new_files() -> None:
    assert check_patch(NEW_FILE, DEFAULT_PROTECTED) is None
    assert check_patch(NEW_FILE.replace("pkg/new.py", "conftest.py"), DEFAULT_PROTECTED)


def test_check_patch_sees_binary_patches_without_file_headers() -> None:
    patch = (
        "diff --git a/tests/data.bin b/tests/data.bin\nindex 1234567..89abcde 100644\n"
        "GIT binary patch\nliteral 1\nIcmZpc00000\n\n"
    )
    finding = check_patch(patch, DEFAULT_PROTECTED)
    assert finding is not None and "tests/data.bin" in finding.reason


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
        "lib/evil.pth",
    ],
)
def test_default_protected_paths(path: str) -> None:
    assert is_protected(path, DEFAULT_PROTECTED)


@pytest.mark.parametrize("path", ["pkg/core.py", "pkg/testing_utils.py", "src/pkg/tests.py"])
def test_code_is_not_protected(path: str) -> None:
    assert not is_protected(path, DEFAULT_PROTECTED)


def test_workload_pattern_is_exact() -> None:
    assert is_protected("bench/workload.py", ["bench/workload.py"])
    assert not is_protected("bench/other.py", ["bench/workload.py"])


def test_check_patch_accepts_code_edit() -> None:
    assert check_patch(_patch("pkg/core.py"), DEFAULT_PROTECTED) is None


def test_check_patch_rejects_test_edit_naming_the_file() -> None:
    finding = check_patch(_patch("pkg/core.py") + _patch("tests/test_core.py"), DEFAULT_PROTECTED)
    assert finding is not None
    assert finding.status == "rejected"
    assert "tests/test_core.py" in finding.reason
    assert "pkg/core.py" not in finding.reason


@pytest.mark.parametrize("path", ["../outside.py", "/etc/passwd", ".git/config"])
def test_check_patch_rejects_escapes(path: str) -> None:
    finding = check_patch(_patch(path), DEFAULT_PROTECTED)
    assert finding is not None and finding.status == "rejected"


def test_check_patch_empty_is_format_error() -> None:
    finding = check_patch("  \n", DEFAULT_PROTECTED)
    assert finding is not None and finding.status == "format_error"


def test_check_patch_without_paths_is_format_error() -> None:
    finding = check_patch("hello\n", DEFAULT_PROTECTED)
    assert finding is not None and finding.status == "format_error"


def test_check_patch_size_cap() -> None:
    big = _patch("pkg/a.py", plus="x = '" + "a" * 600_000 + "'")
    finding = check_patch(big, DEFAULT_PROTECTED)
    assert finding is not None and finding.status == "rejected" and "larger" in finding.reason


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


@pytest.mark.parametrize(
    ("line", "flag"),
    [
        ("frame = sys._getframe(1)", "stack_inspection"),
        ("caller = inspect.stack()[1]", "stack_inspection"),
        ("sys.settrace(None)", "tracing_hook"),
        ("objs = gc.get_objects()", "gc_introspection"),
        ("time.perf_counter = lambda: 0.0", "timer_patching"),
        ("if os.environ.get('PYTEST_CURRENT_TEST'):", "benchmark_sniffing"),
        ("open('/tmp/cache.pkl', 'wb')", "disk_cache"),
    ],
)
def test_smells_flag_added_lines(line: str, flag: str) -> None:
    assert flag in smells(_patch("pkg/a.py", plus=line))


def test_smells_ignore_removed_lines() -> None:
    assert smells(_patch("pkg/a.py", minus="frame = sys._getframe(1)", plus="x = 2")) == ()


def test_time_comparison_is_not_timer_patching() -> None:
    assert "timer_patching" not in smells(_patch("pkg/a.py", plus="if time.time == other:"))
