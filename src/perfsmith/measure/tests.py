"""Run a repository's tests with pytest and grade them from the JUnit XML report.

Outcomes come only from the XML report, never from stdout or the exit code: a candidate
can print "5 passed" or call ``sys.exit(0)`` at import, but it cannot make an expected
test id appear as passed in a report it never wrote.

How pytest is invoked, and why:

- The project's own ``addopts`` are kept: they often carry what its tests need
  (``--import-mode``, plugins, markers). Our options come after them on the command
  line, and pytest keeps the last ``--junitxml``, so the report still lands where we
  ask. If pytest rejects the command line (exit code 4 and no report, e.g. the addopts
  use ``--lf``, which needs the cache plugin we switch off), the run is repeated once
  with ``-o addopts=`` and the output says so.
- ``-p no:cacheprovider``: no ``.pytest_cache`` in the workspace (it would show in diffs,
  and ``--lf``/``--ff`` would let one run steer the next).
- ``junit_family=xunit1``: unlike xunit2 it keeps each test's ``file`` attribute, which
  turns the report's dotted ``classname`` back into pytest's exact node id
  (``tests/test_x.py::TestC::test_a[1]``) without guessing where the module path ends.
- The report is written outside the workspace (under the sandbox's private folder or
  a run folder) and deleted before each run, so a stale report is never read.
"""

from __future__ import annotations

import re
import shutil
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath

from perfsmith.core import ExecResult, Grade, Outcome, TestReport, Workspace
from perfsmith.errors import ConfigError

TAIL_CHARS = 4000
USAGE_ERROR = 4  # pytest's exit code for a command-line usage error
XFAIL_STRICT_MESSAGE = "xfail-marked test passes unexpectedly"
# Worst first: when one id is reported twice (a test that fails and errors in teardown,
# or a duplicated id), the report keeps the worst outcome.
_RANK: dict[Outcome, int] = {
    "error": 5, "failed": 4, "xpassed": 3, "xfailed": 2, "skipped": 1, "passed": 0,
}  # fmt: skip


def pytest_argv(
    python: str, selection: Sequence[str], xml_path: Path, *, keep_addopts: bool = True
) -> list[str]:
    """Build the pytest command line ``run_tests`` uses (see the module docs)."""
    # langsmith (installed with langgraph) registers a pytest plugin that costs ~2 s per
    # run; it is perfsmith's dependency, not the target's, so it is switched off.
    argv = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:langsmith_plugin"]
    if not keep_addopts:
        argv += ["-o", "addopts="]
    argv += [f"--junitxml={xml_path}", "-o", "junit_family=xunit1", *selection]
    return argv


def run_tests(
    sandbox: Workspace,
    python: str,
    selection: Sequence[str],
    *,
    xml_path: Path,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
    pythonpath: Sequence[str] = (".",),
) -> TestReport:
    """Run pytest in the sandbox and read the outcomes from its JUnit XML report.

    Args:
        sandbox: the workspace (``root``) and a way to run commands in it.
        python: the interpreter that has pytest and the project's dependencies.
        selection: pytest arguments selecting tests, relative to the root; () = pytest's
            default collection.
        xml_path: where the report goes; must be outside the workspace.
        timeout_s: wall-clock limit for the whole run.
        env: extra environment variables.
        pythonpath: folders relative to the root, put first on PYTHONPATH.

    Returns:
        A TestReport. Its outcomes are empty when no readable report was written (pytest
        missing, killed by the timeout, crashed); ``output_tail`` then says why, and the
        caller decides what that means.

    Raises:
        ConfigError: a ``pythonpath`` entry leaves the workspace, or ``xml_path`` is inside it.
    """
    root = sandbox.root.resolve()
    xml_path = xml_path.resolve()
    if xml_path.is_relative_to(root):
        raise ConfigError(
            f"The JUnit report {xml_path} would be inside the workspace.",
            "Write it under the sandbox's private folder or the run folder.",
        )
    xml_path.parent.mkdir(parents=True, exist_ok=True)
    full_env = dict(env or {})
    paths = [str(_inside(root, p)) for p in pythonpath]
    if full_env.get("PYTHONPATH"):
        paths.append(full_env["PYTHONPATH"])
    full_env["PYTHONPATH"] = ":".join(paths)

    # pytest writes into the private folder (the one place outside the workspace a sandbox
    # can write to); the report is moved to ``xml_path`` afterwards.
    scratch = sandbox.private / "perfsmith-tests"
    scratch.mkdir(parents=True, exist_ok=True)
    report = scratch / f"{uuid.uuid4().hex}.xml"
    started = time.monotonic()
    note = ""
    xml_path.unlink(missing_ok=True)
    res = sandbox.exec(pytest_argv(python, selection, report), timeout_s=timeout_s, env=full_env)
    if res.returncode == USAGE_ERROR and not report.exists() and not res.timed_out:
        note = (
            "[perfsmith] pytest rejected the command line with the project's addopts; "
            "ran again with -o addopts=. First attempt said:\n" + _tail(res, 1000) + "\n"
        )
        left = max(timeout_s - (time.monotonic() - started), 1.0)
        argv = pytest_argv(python, selection, report, keep_addopts=False)
        res = sandbox.exec(argv, timeout_s=left, env=full_env)
    duration = time.monotonic() - started
    if report.exists():
        shutil.copyfile(report, xml_path)
        report.unlink()

    if res.timed_out:
        note += f"[perfsmith] the test run was killed after {timeout_s:g} s.\n"
    outcomes: dict[str, Outcome] = {}
    if not xml_path.exists():
        note += f"[perfsmith] pytest wrote no JUnit report (exit code {res.returncode}).\n"
    else:
        try:
            outcomes = parse_junit(xml_path)
        except (ET.ParseError, OSError) as exc:
            note += f"[perfsmith] the JUnit report is unreadable: {exc}.\n"
    return TestReport(
        outcomes=outcomes,
        returncode=res.returncode,
        duration_s=duration,
        xml_path=str(xml_path),
        output_tail=note + _tail(res, TAIL_CHARS),
    )


def parse_junit(path: Path) -> dict[str, Outcome]:
    """Read per-test outcomes from a pytest JUnit XML report.

    Test ids are pytest node ids (``tests/test_x.py::TestC::test_a[1]``) when the
    report carries ``file`` attributes (xunit1), else ``classname::name``. Every
    ``<testsuite>`` counts; an id reported twice keeps its worst outcome.

    Raises:
        xml.etree.ElementTree.ParseError: the file is not XML.
        OSError: the file cannot be read.
    """
    tree = ET.parse(path)
    outcomes: dict[str, Outcome] = {}
    for case in tree.getroot().iter("testcase"):
        test_id = _test_id(case.get("classname", ""), case.get("name", ""), case.get("file"))
        outcome = _outcome(case)
        old = outcomes.get(test_id)
        if old is None or _RANK[outcome] > _RANK[old]:
            outcomes[test_id] = outcome
    return outcomes


def failure_messages(path: Path, *, chars: int = 2000) -> dict[str, str]:
    """The failure or error text of every test that did not pass, by pytest node id.

    The text is the element's body (pytest's long report) or, failing that, its
    ``message`` attribute, cut to its last ``chars`` characters.

    Raises:
        xml.etree.ElementTree.ParseError: the file is not XML.
        OSError: the file cannot be read.
    """
    out: dict[str, str] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        bad = case.find("failure")
        if bad is None:
            bad = case.find("error")
        if bad is None:
            continue
        test_id = _test_id(case.get("classname", ""), case.get("name", ""), case.get("file"))
        text = (bad.text or "").strip() or bad.get("message", "")
        out[test_id] = text[-chars:]
    return out


def grade(expected: Iterable[str], report: TestReport) -> Grade:
    """Grade a run against the ids that passed at baseline.

    ``ok`` only when every expected id is reported and passed. Anything else an expected
    id can be (failed, error, skipped, xfailed, xpassed) lands in ``failed``; ids not in
    the report land in ``missing``. Ids the baseline did not expect are ignored. An empty
    ``expected`` grades ok: refusing a baseline without tests is the caller's call.
    """
    failed: list[str] = []
    missing: list[str] = []
    for test_id in set(expected):
        outcome = report.outcomes.get(test_id)
        if outcome is None:
            missing.append(test_id)
        elif outcome != "passed":
            failed.append(test_id)
    ok = not failed and not missing
    return Grade(ok=ok, failed=tuple(sorted(failed)), missing=tuple(sorted(missing)))


def _outcome(case: ET.Element) -> Outcome:
    if case.find("failure") is not None:
        return "failed"
    if case.find("error") is not None:
        return "error"
    skipped = case.find("skipped")
    if skipped is not None:
        if skipped.get("type") == "pytest.xfail":
            return "xfailed"
        if skipped.get("message") == XFAIL_STRICT_MESSAGE:
            return "xpassed"  # strict xfail that passed; non-strict ones look like passes
        return "skipped"
    return "passed"


def _test_id(classname: str, name: str, file: str | None) -> str:
    """Rebuild pytest's node id from a JUnit testcase (see ``mangle_test_address``)."""
    if file:
        file = file.replace("\\", "/")
        module = re.sub(r"\.py$", "", file).replace("/", ".")
        if classname == module:
            return f"{file}::{name}"
        if classname.startswith(module + "."):
            return "::".join([file, *classname[len(module) + 1 :].split("."), name])
        if not classname and name == module:  # a collection error: the id is the file
            return file
    # No file, or a test defined in another file than the one collecting it: stay stable.
    return f"{classname}::{name}" if classname else name


def _inside(root: Path, rel: str) -> Path:
    pure = PurePosixPath(rel)
    full = (root / pure).resolve()
    if pure.is_absolute() or not full.is_relative_to(root):
        raise ConfigError(
            f"PYTHONPATH entry {rel!r} is not inside the workspace.",
            "List folders relative to the repository root, e.g. 'src'.",
        )
    return full


def _tail(res: ExecResult, chars: int) -> str:
    text = res.stdout + ("\n" + res.stderr if res.stderr.strip() else "")
    return text[-chars:]
