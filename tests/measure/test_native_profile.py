"""The native profile of a C kernel: callgrind's format parsed by hand, lines mapped to C
functions, real valgrind on a compiled program and on a generated kernel repository, and
every way it can be unavailable without stopping a run."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from perfsmith.core import Profile, Task, Workload
from perfsmith.loop.state import profile_from_dict, profile_to_dict
from perfsmith.measure import hardware
from perfsmith.measure.callgrind import kernel_cost, parse_callgrind
from perfsmith.measure.evaluator import PipelineEvaluator
from perfsmith.measure.hardware import CacheLevel, CpuSpec
from perfsmith.measure.native_profile import (
    HEADER,
    NO_AVX512_CC,
    RAW_NAME,
    TEXT_NAME,
    CFunction,
    _hotspots,
    annotate,
    c_functions,
    describe,
    native_profile,
    unavailable,
    valgrind_cache_args,
)
from perfsmith.measure.timing import TimingConfig
from tests.kernels.kernel_fixtures import make_repo
from tests.measure.boxes import Box

PY = sys.executable
SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "callgrind"
needs_valgrind = pytest.mark.skipif(
    not hardware.valgrind_status()[0] or shutil.which("gcc") is None,
    reason="valgrind or gcc not installed",
)


def in_kernel(path: str) -> bool:
    return path.endswith("/kernel.c")


# -- the format, on text with known numbers ------------------------------------------------


def test_handmade_sample_gives_own_costs_calls_and_totals() -> None:
    data = parse_callgrind((SAMPLES / "handmade.callgrind").read_text())
    kernel = "/w/.kernel-build/abc/kernel.c"
    assert data.events == ("Ir", "Dr", "Dw", "D1mr", "D1mw", "DLmr", "DLmw")
    assert "D1 cache: 32768 B, 64 B, 8-way associative" in data.desc
    # `+2` then `*` add to one line; missing trailing events are zeros.
    assert data.lines[(kernel, 10)] == (100, 10, 5, 2, 1, 0, 0)
    assert data.lines[(kernel, 12)] == (1050, 200, 0, 50, 0, 0, 0)
    assert data.lines[(kernel, 11)] == (7, 0, 0, 0, 0, 0, 0)
    # fi= switches the file for inlined code, fe= switches back.
    assert data.lines[("/w/include/helper.h", 20)] == (30, 3, 0, 0, 0, 0, 0)
    assert data.lines[(kernel, 15)] == (5, 0, 0, 0, 0, 0, 0)
    assert data.functions[("/lib/libk.so", "work", kernel)][0] == 1162
    assert data.functions[("/lib/libm.so.6", "expf", "???")][0] == 380
    # The cost line after calls= is inclusive and not anyone's own cost.
    arcs = {(a.caller, a.callee): a for a in data.calls}
    expf = arcs[("work", "expf")]
    assert (expf.file, expf.line, expf.count) == (kernel, 15, 40)
    assert expf.callee_object == "/lib/libm.so.6" and expf.inclusive == (400, 40, 0, 4, 0, 0, 0)
    assert arcs[("work", "GOMP_parallel")].line == 18  # `calls=1 -15` does not move the line
    back = arcs[("GOMP_parallel", "work._omp_fn.0")]
    assert back.callee_file == kernel and back.callee_object == "/lib/libk.so"
    assert data.totals == (1652, 257, 11, 56, 2, 1, 1)  # the file's own totals: line


def test_kernel_cost_counts_own_lines_and_calls_out_but_not_the_openmp_runtime() -> None:
    cost = kernel_cost(parse_callgrind((SAMPLES / "handmade.callgrind").read_text()), in_kernel)
    assert cost.lines == {
        10: (100, 10, 5, 2, 1, 0, 0),
        11: (7, 0, 0, 0, 0, 0, 0),
        12: (1050, 200, 0, 50, 0, 0, 0),
        15: (5, 0, 0, 0, 0, 0, 0),
        16: (60, 6, 6, 1, 1, 1, 1),  # the outlined region, run by GOMP_parallel
    }
    assert cost.calls == {15: (("expf", "/lib/libm.so.6", 40, (400, 40, 0, 4, 0, 0, 0)),)}
    # GOMP_parallel's 80 would count line 16's 60 twice: it is left out.
    assert cost.total == (1622, 256, 11, 57, 2, 1, 1)
    assert cost.instructions == 1622
    assert cost.value(cost.total, "D1mr", "D1mw") == 59
    assert cost.share(cost.lines[12]) == pytest.approx(1050 / 1622)


def test_real_sample_files_the_kernel_under_libffi() -> None:
    # One naive matmul call (448^3) dumped after ffi_call, compressed as callgrind writes.
    data = parse_callgrind((SAMPLES / "matmul.callgrind").read_text())
    assert data.totals == (497755959, 134876451, 201827, 267, 91393429, 12545, 21, 0, 0)
    cost = kernel_cost(data, in_kernel)
    assert cost.lines[11] == (404619264, 134873088, 0, 0, 91392841, 0, 0, 0, 0)
    assert cost.lines[10][0] == 91521024
    assert sum(v[0] for v in cost.lines.values()) == 497754473
    filed = [k for k in data.functions if in_kernel(k[2])]
    assert [k[:2] for k in filed] == [
        ("/usr/lib/x86_64-linux-gnu/libffi.so.8.1.2", "0x0000000000006250")
    ]
    entry = next(a for a in data.calls if a.callee == "ffi_call")
    assert entry.inclusive[0] == 497755658 and entry.count == 0  # entered before the zeroing


def test_instruction_positions_and_subposition_compression() -> None:
    text = (
        "positions: instr line\nevents: Ir\nfl=(1) a.c\nfn=(1) f\n"
        "0x400 3 7\n+4 +1 2\n* * 1\n-2 -1 4\n"
    )
    assert parse_callgrind(text).lines == {("a.c", 3): (11,), ("a.c", 4): (3,)}


@pytest.mark.parametrize(
    "text",
    ["positions: line\n10 5\n", "events: Ir\nfl=a.c\nfn=f\n10 five\n", "hello\n", ""],
)
def test_malformed_text_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        parse_callgrind(text)


# -- C functions and annotation ------------------------------------------------------------

SOURCE = """#include <stdint.h>
/* helper(int x) { not code } */
#define SQUARE(x) ((x) * (x)) \\
    /* continued */
enum { MR = 6, NR = 16 };
static const float table[2] = {1.0f, 2.0f};
typedef struct { int a; } pair;

static inline int
helper(int x)
{
    const char *s = "}{ not a brace";
    return x + (int)s[0]; // }
}

__attribute__((noinline)) void kernel(const float *restrict a, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        if (a[i] > 0) { helper(1); }
    }
}
"""


def test_c_functions_span_their_definitions_and_skip_other_braces() -> None:
    assert c_functions(SOURCE) == (
        CFunction("helper", 9, 14),
        CFunction("kernel", 16, 20),
    )
    assert c_functions("int x;\nstruct s { int y; };\n") == ()


def test_annotation_shows_every_line_with_its_share_and_misses() -> None:
    cost = kernel_cost(parse_callgrind((SAMPLES / "handmade.callgrind").read_text()), in_kernel)
    source = "\n".join(f"line{n}" for n in range(1, 21)) + "\n"
    text = annotate(source, CFunction("work", 9, 16), cost)
    rows = text.splitlines()
    assert rows[0] == HEADER
    assert rows[1] == f"    9 | {' ' * 24} | line9"
    assert rows[4] == "   12 |  64.7%       50        0 | line12"
    assert rows[7].startswith(
        "   15 |   0.3%        0        0 | line15    <- calls expf x40 = 24.7%"
    )
    assert len(rows) == 1 + 8


def test_long_functions_keep_their_hot_lines_with_context() -> None:
    cost = kernel_cost(parse_callgrind((SAMPLES / "handmade.callgrind").read_text()), in_kernel)
    source = "\n".join(f"line{n}" for n in range(1, 101)) + "\n"
    text = annotate(source, CFunction("work", 1, 100), cost, max_lines=10)
    numbers = [
        int(r.split("|")[0]) for r in text.splitlines()[1:] if r.split("|")[0].strip().isdigit()
    ]
    assert numbers[0] == 1 and 12 in numbers and 15 in numbers
    assert len(numbers) <= 10 and 60 not in numbers
    assert "cold lines of work not shown" in text.splitlines()[-1]


# -- cache geometry ------------------------------------------------------------------------


def spec(*caches: CacheLevel, simd: tuple[str, ...] = ()) -> CpuSpec:
    return CpuSpec("Test CPU", "x86_64", 4, simd, caches)


def test_cache_options_use_sysfs_geometry_rounded_to_power_of_two_sets() -> None:
    cpu = spec(
        CacheLevel(1, "Data", 48 * 1024, 64, 12),
        CacheLevel(1, "Instruction", 32 * 1024, 64, 8),
        CacheLevel(2, "Unified", 2 * 1024 * 1024, 64, 16),
        CacheLevel(3, "Unified", 30 * 1024 * 1024, 64, 20),  # 24576 sets
    )
    assert valgrind_cache_args(cpu) == [
        "--I1=32768,8,64",
        "--D1=49152,12,64",
        f"--LL={16384 * 20 * 64},20,64",
    ]
    assert valgrind_cache_args(spec(CacheLevel(1, "Data", 32768, 0, 0))) == []


# -- real valgrind -------------------------------------------------------------------------

PROGRAM = """#include <math.h>
#include <stdlib.h>

float column_sum(const float *m, int n)
{
    float s = 0.0f;
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++)
            s += m[(size_t)i * n + j];
    return s;
}

float exp_sum(const float *x, int n)
{
    float s = 0.0f;
    for (int i = 0; i < n; i++)
        s += expf(x[i]);
    return s;
}

int main(void)
{
    int n = 256;
    float *m = calloc((size_t)n * n, sizeof *m);
    float r = column_sum(m, n) + exp_sum(m, n);
    free(m);
    return r > 1e9f;
}
"""


@needs_valgrind
def test_real_callgrind_output_of_a_compiled_program(tmp_path: Path) -> None:
    (tmp_path / "work.c").write_text(PROGRAM)
    subprocess.run(
        ["gcc", "-g", "-O1", "-fno-builtin", "work.c", "-o", "work", "-lm"],
        cwd=tmp_path, check=True,
    )  # fmt: skip
    out = tmp_path / "callgrind.out"
    subprocess.run(
        ["valgrind", "--tool=callgrind", "-q", "--cache-sim=yes", "--D1=32768,8,64",
         "--LL=1048576,16,64", "--I1=32768,8,64", f"--callgrind-out-file={out}", "./work"],
        cwd=tmp_path, check=True, capture_output=True,
    )  # fmt: skip
    data = parse_callgrind(out.read_text())
    cost = kernel_cost(data, lambda path: Path(path).name == "work.c")
    lines = PROGRAM.splitlines()
    body = lines.index("            s += m[(size_t)i * n + j];") + 1
    # The inner loop (its increment and test, and its body) is nearly all of the work.
    assert cost.share(cost.lines[body - 1]) + cost.share(cost.lines[body]) > 0.9
    # A column walk of a 256 KiB matrix through a 32 KiB L1: every access misses.
    assert max(cost.lines, key=lambda n: cost.value(cost.lines[n], "D1mr")) == body
    assert cost.value(cost.lines[body], "D1mr") >= 256 * 256 * 0.9
    expf_line = lines.index("        s += expf(x[i]);") + 1
    (callee, _obj, count, _incl) = cost.calls[expf_line][0]
    assert "expf" in callee and count == 256
    own = sum(v[0] for v in cost.lines.values())
    out_calls = sum(c[3][0] for calls in cost.calls.values() for c in calls)
    assert own + out_calls == cost.instructions
    assert cost.instructions < data.totals[0]  # the C runtime's start-up is not the program's
    names = {f.name for f in c_functions(PROGRAM)}
    assert names == {"column_sum", "exp_sum", "main"}


@pytest.fixture(scope="module")
def rowsum_profile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Profile, Path]:
    tmp = tmp_path_factory.mktemp("native")
    repo = make_repo(tmp, "rowsum")
    box = Box(repo, tmp / "private")
    box.private.mkdir()
    out = tmp / "out"
    return native_profile(box, PY, "perfsmith_workload.py", pythonpath=["."], out_dir=out), out


@needs_valgrind
@pytest.mark.slow
def test_rowsum_kernel_profile_points_at_its_inner_loop(
    rowsum_profile: tuple[Profile, Path],
) -> None:
    profile, out = rowsum_profile
    assert not profile.summary.startswith("Native profile unavailable"), profile.summary
    top = profile.hotspots[0]
    assert (top.function, top.location, top.calls) == ("rowsum", "kernel.c:3", 1)
    # The kernel calls nothing: nearly all of the call is its own code (its return into
    # libffi is filed as a call of a few instructions).
    assert top.own_share == pytest.approx(1.0, abs=1e-3) and top.cum_share == 1.0
    rows = [r for r in top.source.splitlines()[1:] if "%" in r.split("|")[1]]
    shares = {int(r.split("|")[0]): float(r.split("|")[1].split("%")[0]) for r in rows}
    hottest = max(shares, key=lambda n: shares[n])
    assert "acc += x[r * cols + c];" in top.source.splitlines()[hottest - 2]
    assert sum(shares.values()) == pytest.approx(100.0, abs=0.5)
    assert "one rowsum call at rows=256, cols=4096" in profile.summary
    assert "simulated by valgrind with this machine's cache geometry" in profile.summary
    assert (out / RAW_NAME).is_file() and profile.raw_path == str(out / RAW_NAME)
    assert top.source in (out / TEXT_NAME).read_text()
    assert describe(profile).startswith(profile.summary)


# -- unavailable, never a crash -------------------------------------------------------------


@pytest.fixture
def vadd_box(tmp_path: Path) -> Box:
    box = Box(make_repo(tmp_path, "vadd"), tmp_path / "private")
    box.private.mkdir()
    return box


def profile(box: Box, tmp_path: Path, **kwargs: object) -> Profile:
    return native_profile(
        box,
        PY,
        "perfsmith_workload.py",
        pythonpath=["."],
        out_dir=tmp_path / "out",
        **kwargs,  # type: ignore[arg-type]
    )


def test_missing_valgrind_gives_an_unavailable_profile(vadd_box: Box, tmp_path: Path) -> None:
    got = profile(vadd_box, tmp_path, valgrind=str(tmp_path / "no-valgrind"))
    assert got.hotspots == ()
    assert got.summary.startswith("Native profile unavailable: ")
    assert "no-valgrind is not installed" in got.summary
    assert got.as_text() == got.summary


def test_valgrind_off_the_path_gives_an_unavailable_profile(
    vadd_box: Box, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    got = profile(vadd_box, tmp_path)
    assert (
        got.summary == unavailable("valgrind is not installed (apt-get install valgrind)").summary
    )


def fake_valgrind(tmp_path: Path, stderr: str, code: int) -> str:
    script = tmp_path / "valgrind"
    script.write_text(f"#!/bin/sh\necho '{stderr}' >&2\nexit {code}\n")
    script.chmod(0o755)
    return str(script)


def test_a_failing_valgrind_gives_the_reason(vadd_box: Box, tmp_path: Path) -> None:
    tool = fake_valgrind(tmp_path, "valgrind: the tool cannot start here", 1)
    got = profile(vadd_box, tmp_path, valgrind=tool)
    assert got.hotspots == () and "exited with code 1" in got.summary
    assert "the tool cannot start here" in got.summary


def test_an_instruction_valgrind_cannot_run_is_named(vadd_box: Box, tmp_path: Path) -> None:
    tool = fake_valgrind(tmp_path, "vex amd64->IR: unhandled instruction bytes: 0x62", 132)
    got = profile(vadd_box, tmp_path, valgrind=tool)
    assert "valgrind cannot execute an instruction" in got.summary


def test_output_without_kernel_lines_is_unavailable(vadd_box: Box, tmp_path: Path) -> None:
    # A "valgrind" that runs the program natively writes no profile at all.
    script = tmp_path / "valgrind"
    script.write_text('#!/bin/sh\nwhile [ "${1#-}" != "$1" ]; do shift; done\nexec "$@"\n')
    script.chmod(0o755)
    got = profile(vadd_box, tmp_path, valgrind=str(script))
    assert "no instruction on a line of kernel.c" in got.summary


@needs_valgrind
def test_a_timeout_gives_an_unavailable_profile(vadd_box: Box, tmp_path: Path) -> None:
    got = profile(vadd_box, tmp_path, timeout_s=0.5)
    assert got.hotspots == () and "timed out" in got.summary


def test_a_folder_without_a_kernel_spec_is_unavailable(tmp_path: Path) -> None:
    box = Box(tmp_path, tmp_path / "private")
    got = profile(box, tmp_path)
    assert got.summary.startswith("Native profile unavailable: not a kernel repository")


def test_avx512_machines_profile_a_build_without_it(vadd_box: Box, tmp_path: Path) -> None:
    # The fake valgrind records the environment the profiled process would get.
    seen = tmp_path / "env.txt"
    script = tmp_path / "valgrind"
    script.write_text(f'#!/bin/sh\nenv > {seen}\necho "$@" >> {seen}\nexit 1\n')
    script.chmod(0o755)
    cpu = spec(CacheLevel(1, "Data", 49152, 64, 12), simd=("avx2", "avx512f"))
    profile(vadd_box, tmp_path, valgrind=str(script), cpu=cpu)
    env = seen.read_text()
    assert f"CC={NO_AVX512_CC}" in env and "OMP_NUM_THREADS=1" in env
    assert "--D1=49152,12,64" in env and "--cache-sim=yes" in env
    profile(vadd_box, tmp_path, valgrind=str(script), cpu=spec(simd=("avx2",)))
    assert "CC=" not in seen.read_text()


def test_the_evaluator_profiles_a_kernel_task_natively(
    vadd_box: Box, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = Task(
        repo=str(vadd_box.root),
        workload=Workload(file="perfsmith_workload.py"),
        tests=("tests",),
        mode="kernel",
    )
    ev = PipelineEvaluator(
        vadd_box,  # type: ignore[arg-type]
        task,
        python=PY,
        timing=TimingConfig(),
        test_timeout_s=60,
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # no valgrind: the cheapest native answer
    got = ev.profile(vadd_box, tmp_path / "out")  # type: ignore[arg-type]
    assert got.summary.startswith("Native profile unavailable: valgrind is not installed")


def test_the_summary_survives_the_state_round_trip() -> None:
    got = Profile((), 0.0, summary="Native profile unavailable: valgrind is not installed")
    assert profile_from_dict(profile_to_dict(got)) == got
    assert profile_from_dict({"hotspots": [], "total_s": 1.0}) == Profile((), 1.0)


def test_hot_spots_are_the_kernels_functions_and_what_they_call() -> None:
    data = parse_callgrind((SAMPLES / "handmade.callgrind").read_text())
    cost = kernel_cost(data, in_kernel)
    source = "static int tiny(int x)\n{\n    return x;\n}\n" + "\n" * 4
    source += "void work(float *x)\n{\n" + "    x[0] = 1;\n" * 8 + "}\n"
    spots = _hotspots(cost, data, source, "work", in_kernel)
    assert [(h.function, h.location, h.calls) for h in spots] == [
        ("work", "kernel.c:9", 1),  # the entry: one call, though no arc reaches it
        ("expf", "libm.so.6", 40),  # outside kernel.c: only what the kernel's calls cost
    ]  # tiny costs nothing and is left out
    work, expf = spots
    assert work.own_share == pytest.approx(1222 / 1622)
    assert work.cum_share == pytest.approx(1.0)
    assert expf.own_share == expf.cum_share == pytest.approx(400 / 1622)
    assert work.source.splitlines()[0] == HEADER and expf.source == ""
