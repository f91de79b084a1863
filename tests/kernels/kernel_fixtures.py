"""Helpers for the kernel task tests: fixture tasks, generated repositories, test runs and
the C sources of kernels that try to cheat."""

from __future__ import annotations

import importlib.util
import itertools
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from perfsmith.kernels import KernelTask, load_kernel_task, write_repo
from perfsmith.measure.tests import failure_messages, parse_junit, pytest_argv

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "kernels"
PYTHON = sys.executable  # the venv's interpreter: it has numpy and pytest
_COUNTER = itertools.count()


def fixture_task(name: str) -> KernelTask:
    """One of tests/fixtures/kernels/<name>, in a suite called ``fixtures``."""
    return load_kernel_task(FIXTURES / name, "fixtures")


def make_repo(tmp_path: Path, name: str, source: str | None = None) -> Path:
    """The generated repository of a fixture task, with ``source`` as kernel.c if given."""
    dest = tmp_path / f"{name}-{next(_COUNTER)}"
    return write_repo(fixture_task(name), dest, source=source)


@dataclass(frozen=True)
class CheckRun:
    """Outcomes of one pytest run of a generated repository, by short id (``test_x[id]``)."""

    outcomes: dict[str, str]
    messages: dict[str, str]
    output: str

    def failed(self) -> set[str]:
        return {t for t, o in self.outcomes.items() if o in ("failed", "error")}

    def passed(self) -> set[str]:
        return {t for t, o in self.outcomes.items() if o == "passed"}

    def checks_failed(self) -> set[str]:
        """The names of the test functions with a failing case."""
        return {t.split("[")[0] for t in self.failed()}


def run_tests(
    repo: Path, scratch: Path, *, python: str = PYTHON, timeout_s: float = 300
) -> CheckRun:
    """Run the repository's tests the way perfsmith does (``pytest_argv``, JUnit report),
    with ``python`` (default: this venv's, which has NumPy and pytest)."""
    scratch.mkdir(parents=True, exist_ok=True)
    xml = scratch / f"junit-{next(_COUNTER)}.xml"
    env = {**os.environ, "PYTHONPATH": str(repo)}
    res = subprocess.run(
        pytest_argv(python, ["tests"], xml),
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    output = res.stdout + res.stderr
    assert xml.exists(), f"pytest wrote no report:\n{output[-3000:]}"

    def short(node: str) -> str:
        return node.split("::", 1)[1]

    outcomes = {short(k): v for k, v in parse_junit(xml).items()}
    messages = {short(k): v for k, v in failure_messages(xml).items()}
    return CheckRun(outcomes, messages, output)


def load_by_path(path: Path) -> ModuleType:
    """Import a file under a fresh module name, as the timing worker imports a workload."""
    name = f"kernel_test_module_{next(_COUNTER)}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_harness(repo: Path) -> ModuleType:
    """The generated repository's tests/kernel_harness.py."""
    return load_by_path(repo / "tests" / "kernel_harness.py")


def load_workload(repo: Path) -> ModuleType:
    """The generated repository's perfsmith_workload.py, freshly imported."""
    return load_by_path(repo / "perfsmith_workload.py")


VADD_SIGNATURE = "void vadd(const float *a, const float *b, float *out, int64_t n, float alpha)"

# (1) Leaves the output buffer as the harness gave it.
VADD_WRITES_NOTHING = f"""#include <stdint.h>
{VADD_SIGNATURE} {{
    (void)a; (void)b; (void)out; (void)n; (void)alpha;
}}
"""

VADD_WRITES_HALF = f"""#include <stdint.h>
{VADD_SIGNATURE} {{
    for (int64_t i = 0; i < n / 2; i++) out[i] = a[i] + alpha * b[i];
}}
"""

# (2) Right answer, then casts const away and clears its inputs.
VADD_ZEROES_INPUTS = f"""#include <stdint.h>
#include <string.h>
{VADD_SIGNATURE} {{
    for (int64_t i = 0; i < n; i++) out[i] = a[i] + alpha * b[i];
    memset((float *)a, 0, (size_t)n * sizeof(float));
}}
"""

# (3) Returns the previous result when called with the same input addresses.
VADD_POINTER_CACHE = f"""#include <stdint.h>
#include <stdlib.h>
#include <string.h>
static const float *last_a;
static const float *last_b;
static float *saved;
static int64_t saved_n;
{VADD_SIGNATURE} {{
    if (a == last_a && b == last_b && n == saved_n) {{
        memcpy(out, saved, (size_t)n * sizeof(float));
        return;
    }}
    for (int64_t i = 0; i < n; i++) out[i] = a[i] + alpha * b[i];
    free(saved);
    saved = malloc((size_t)n * sizeof(float));
    memcpy(saved, out, (size_t)n * sizeof(float));
    last_a = a; last_b = b; saved_n = n;
}}
"""

# (4) Returns the previous result when the inputs hash the same (always correct).
VADD_CONTENT_CACHE = f"""#include <stdint.h>
#include <stdlib.h>
#include <string.h>
static uint64_t fnv(const void *p, size_t len, uint64_t h) {{
    const unsigned char *s = p;
    for (size_t i = 0; i < len; i++) h = (h ^ s[i]) * 1099511628211ULL;
    return h;
}}
{VADD_SIGNATURE} {{
    static uint64_t last_hash;
    static float *saved;
    size_t bytes = (size_t)n * sizeof(float);
    uint64_t h = fnv(b, bytes, fnv(a, bytes, 1469598103934665603ULL ^ (uint64_t)n));
    if (saved && h == last_hash) {{
        memcpy(out, saved, bytes);
        return;
    }}
    for (int64_t i = 0; i < n; i++) out[i] = a[i] + alpha * b[i];
    free(saved);
    saved = malloc(bytes);
    memcpy(saved, out, bytes);
    last_hash = h;
}}
"""

ROWSUM_SIGNATURE = "void rowsum(const float *x, float *out, int64_t rows, int64_t cols)"

# (5) Accumulates in half precision: exact on the short visible rows, wrong on long ones.
ROWSUM_HALF_PRECISION = f"""#include <stdint.h>
{ROWSUM_SIGNATURE} {{
    for (int64_t r = 0; r < rows; r++) {{
        _Float16 acc = 0;
        for (int64_t c = 0; c < cols; c++) acc += (_Float16)x[r * cols + c];
        out[r] = (float)acc;
    }}
}}
"""

# (6) Unrolled by 8 with no remainder loop: right only when cols % 8 == 0 (the visible shapes).
ROWSUM_VISIBLE_ONLY = f"""#include <stdint.h>
{ROWSUM_SIGNATURE} {{
    for (int64_t r = 0; r < rows; r++) {{
        const float *row = x + r * cols;
        float acc[8] = {{0}};
        for (int64_t c = 0; c + 8 <= cols; c += 8)
            for (int k = 0; k < 8; k++) acc[k] += row[c + k];
        out[r] = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    }}
}}
"""


def vadd_first_calls(count: int) -> str:
    """(7) Does the work on its first ``count`` calls only (a function-local counter)."""
    return f"""#include <stdint.h>
{VADD_SIGNATURE} {{
    static int64_t calls;
    if (calls++ >= {count}) return;
    for (int64_t i = 0; i < n; i++) out[i] = a[i] + alpha * b[i];
}}
"""


VADD_SYNTAX_ERROR = f"""#include <stdint.h>
{VADD_SIGNATURE} {{
    for (int64_t i = 0; i < n; i++) out[i] = a[i] + alpha * b[i]
}}
"""
