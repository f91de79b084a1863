"""run_tests, parse_junit and grade: outcomes come from the JUnit report, never from stdout."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from perfsmith import core
from perfsmith.errors import ConfigError
from perfsmith.measure.tests import grade, parse_junit, run_tests
from perfsmith.sandbox.local import LocalSandbox

PY = sys.executable
# The venv's third-party pytest plugins (langsmith's above all) cost ~2 s per child run.
FAST = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}

TESTS = """\
import pytest
from pkg import add


def test_pass():
    assert add(1, 2) == 3


def test_fail():
    print("===== 9 passed in 0.01s =====")  # lies on stdout change nothing
    assert add(1, 2) == 4


@pytest.mark.skip(reason="not today")
def test_skip():
    pass


@pytest.mark.xfail(reason="known bug")
def test_xfail():
    assert False


@pytest.fixture
def broken():
    raise RuntimeError("fixture setup fails")


def test_error(broken):
    pass


class TestGroup:
    @pytest.mark.parametrize("x", [1, 2, "a::b"])
    def test_param(self, x):
        assert x != 2
"""

EXPECTED = {
    "tests/test_a.py::test_pass": "passed",
    "tests/test_a.py::test_fail": "failed",
    "tests/test_a.py::test_skip": "skipped",
    "tests/test_a.py::test_xfail": "xfailed",
    "tests/test_a.py::test_error": "error",
    "tests/test_a.py::TestGroup::test_param[1]": "passed",
    "tests/test_a.py::TestGroup::test_param[2]": "failed",
    "tests/test_a.py::TestGroup::test_param[a::b]": "passed",
}


def make_project(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[LocalSandbox]:
    repo = make_project(
        tmp_path / "repo",
        {"pkg/__init__.py": "def add(a, b):\n    return a + b\n", "tests/test_a.py": TESTS},
    )
    box = LocalSandbox.create(repo, tmp_path / "ws")
    yield box
    box.close()


def run(
    box: LocalSandbox, selection: tuple[str, ...] = ("tests",), **kw: object
) -> core.TestReport:
    kw.setdefault("timeout_s", 60)
    kw.setdefault("env", FAST)
    return run_tests(box, PY, selection, xml_path=box.private / "report.xml", **kw)  # type: ignore[arg-type]


def test_outcomes_come_from_the_report(workspace: LocalSandbox) -> None:
    report = run(workspace)
    assert dict(report.outcomes) == EXPECTED
    assert report.returncode == 1
    assert Path(report.xml_path).is_relative_to(workspace.private)
    assert not (workspace.root / ".pytest_cache").exists()
    assert workspace.diff_against_base() == ""
    # The same run twice gives the same ids.
    assert set(run(workspace).outcomes) == set(EXPECTED)


def test_collection_error_is_reported_as_an_error(workspace: LocalSandbox) -> None:
    workspace.write_file("tests/test_broken.py", "import not_a_module\n")
    report = run(workspace, ("tests/test_broken.py",))
    assert dict(report.outcomes) == {"tests/test_broken.py": "error"}


def test_exit_zero_at_import_gives_no_outcomes(workspace: LocalSandbox) -> None:
    workspace.write_file("tests/conftest.py", "import os\nos._exit(0)\n")
    report = run(workspace)
    assert report.returncode == 0
    assert report.outcomes == {}
    assert "no JUnit report" in report.output_tail
    assert not grade(["tests/test_a.py::test_pass"], report).ok


def test_stale_report_is_never_read(workspace: LocalSandbox) -> None:
    xml = workspace.private / "report.xml"
    xml.write_text('<testsuite><testcase classname="tests.test_a" name="test_pass"/></testsuite>')
    report = run_tests(workspace, "/bin/true", ["tests"], xml_path=xml, timeout_s=30, env=FAST)
    assert report.returncode == 0
    assert report.outcomes == {}


def test_timeout_gives_no_outcomes_and_says_so(workspace: LocalSandbox) -> None:
    workspace.write_file(
        "tests/test_slow.py", "import time\n\ndef test_slow():\n    time.sleep(60)\n"
    )
    report = run(workspace, ("tests/test_slow.py",), timeout_s=2)
    assert report.outcomes == {}
    assert "killed after 2 s" in report.output_tail


def test_project_addopts_are_kept(tmp_path: Path) -> None:
    repo = make_project(
        tmp_path / "repo",
        {
            "pyproject.toml": '[tool.pytest.ini_options]\naddopts = "-p helper_plugin"\n',
            "helper_plugin.py": "import pytest\n\n@pytest.fixture\ndef answer():\n    return 42\n",
            "tests/test_x.py": "def test_answer(answer):\n    assert answer == 42\n",
        },
    )
    box = LocalSandbox.create(repo, tmp_path / "ws")
    report = run(box)
    assert dict(report.outcomes) == {"tests/test_x.py::test_answer": "passed"}


def test_addopts_pytest_rejects_are_dropped_once(tmp_path: Path) -> None:
    repo = make_project(
        tmp_path / "repo",
        {
            "pyproject.toml": '[tool.pytest.ini_options]\naddopts = "--lf"\n',
            "tests/test_x.py": "def test_ok():\n    pass\n",
        },
    )
    box = LocalSandbox.create(repo, tmp_path / "ws")
    report = run(box)
    assert dict(report.outcomes) == {"tests/test_x.py::test_ok": "passed"}
    assert "ran again with -o addopts=" in report.output_tail


def test_pythonpath_entries_are_made_absolute(tmp_path: Path) -> None:
    repo = make_project(
        tmp_path / "repo",
        {
            "src/lib/__init__.py": "VALUE = 5\n",
            "tests/test_lib.py": "from lib import VALUE\n\ndef test_v():\n    assert VALUE == 5\n",
        },
    )
    box = LocalSandbox.create(repo, tmp_path / "ws")
    assert run(box, pythonpath=("src",)).outcomes == {"tests/test_lib.py::test_v": "passed"}
    assert run(box).outcomes == {"tests/test_lib.py": "error"}
    with pytest.raises(ConfigError):
        run(box, pythonpath=("../..",))


def test_report_inside_the_workspace_is_refused(workspace: LocalSandbox) -> None:
    with pytest.raises(ConfigError):
        run_tests(workspace, PY, [], xml_path=workspace.root / "r.xml", timeout_s=30)


# -- parse_junit on hand-written reports -------------------------------------------------


def write_xml(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "r.xml"
    path.write_text(f'<?xml version="1.0" encoding="utf-8"?><testsuites>{body}</testsuites>')
    return path


def test_parse_several_suites_and_worst_duplicate(tmp_path: Path) -> None:
    path = write_xml(
        tmp_path,
        '<testsuite name="a">'
        '<testcase classname="tests.test_m" name="test_one" file="tests/test_m.py"/>'
        '<testcase classname="tests.test_m.TestK" name="test_two[3]" file="tests/test_m.py">'
        '<failure message="boom"/><error message="teardown"/></testcase>'
        "</testsuite>"
        '<testsuite name="b">'
        '<testcase classname="tests.test_m" name="test_one" file="tests/test_m.py">'
        '<error message="again"/></testcase>'
        '<testcase classname="tests.test_m" name="test_strict" file="tests/test_m.py">'
        '<skipped message="xfail-marked test passes unexpectedly"/></testcase>'
        '<testcase classname="tests.test_m" name="test_xf" file="tests/test_m.py">'
        '<skipped type="pytest.xfail" message="bug"/></testcase>'
        "</testsuite>",
    )
    assert parse_junit(path) == {
        "tests/test_m.py::test_one": "error",
        "tests/test_m.py::TestK::test_two[3]": "failed",
        "tests/test_m.py::test_strict": "xpassed",
        "tests/test_m.py::test_xf": "xfailed",
    }


def test_parse_without_file_attributes_is_stable(tmp_path: Path) -> None:
    path = write_xml(
        tmp_path,
        '<testsuite><testcase classname="tests.test_m.TestK" name="test_a"/>'
        '<testcase classname="" name="tests.test_broken"><error message="collection"/>'
        "</testcase>"
        # a test inherited from a base class in another file: file and classname disagree
        '<testcase classname="tests.test_child.TestC" name="test_b" file="tests/base.py"/>'
        "</testsuite>",
    )
    assert parse_junit(path) == {
        "tests.test_m.TestK::test_a": "passed",
        "tests.test_broken": "error",
        "tests.test_child.TestC::test_b": "passed",
    }


def test_parse_bare_testsuite_root_and_garbage(tmp_path: Path) -> None:
    bare = tmp_path / "bare.xml"
    bare.write_text('<testsuite><testcase classname="m" name="t" file="m.py"/></testsuite>')
    assert parse_junit(bare) == {"m.py::t": "passed"}
    junk = tmp_path / "junk.xml"
    junk.write_text("<testsuite><testcase")
    with pytest.raises(ET.ParseError):
        parse_junit(junk)


# -- grade (pure) ------------------------------------------------------------------------


def report_of(outcomes: dict[str, core.Outcome]) -> core.TestReport:
    return core.TestReport(outcomes=outcomes, returncode=0, duration_s=0.0)


@pytest.mark.parametrize(
    ("expected", "outcomes", "ok", "failed", "missing"),
    [
        (["a", "b"], {"a": "passed", "b": "passed"}, True, (), ()),
        (["a"], {"a": "passed", "extra": "failed"}, True, (), ()),
        ([], {}, True, (), ()),
        ([], {"x": "failed"}, True, (), ()),
        (["a"], {}, False, (), ("a",)),
        (["a", "a"], {"a": "passed"}, True, (), ()),
        (["b", "a"], {"a": "failed", "b": "error"}, False, ("a", "b"), ()),
        (["a"], {"a": "skipped"}, False, ("a",), ()),
        (["a"], {"a": "xfailed"}, False, ("a",), ()),
        (["a"], {"a": "xpassed"}, False, ("a",), ()),
        (["c", "a", "b"], {"b": "failed"}, False, ("b",), ("a", "c")),
    ],
)
def test_grade(
    expected: list[str],
    outcomes: dict[str, core.Outcome],
    ok: bool,
    failed: tuple[str, ...],
    missing: tuple[str, ...],
) -> None:
    assert grade(expected, report_of(outcomes)) == core.Grade(ok=ok, failed=failed, missing=missing)


def test_grade_accepts_any_iterable() -> None:
    report = report_of({"a": "passed"})
    assert grade(iter(["a"]), report).ok
    assert grade(report.passed_ids(), report).ok
