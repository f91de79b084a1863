"""Kernel-mode prompts: the Coder and the Judge see the CPU, the native profile with the
annotated kernel source, and the Judge is asked for one bottleneck kind and one method.
Python-mode prompts say none of it."""

from __future__ import annotations

from dataclasses import replace

from perfsmith.agents.coder import LLMCoder, select_files
from perfsmith.agents.judge import LLMJudge, profile_text
from perfsmith.core import (
    CoderContext,
    Comparison,
    Grade,
    HotSpot,
    Interval,
    JudgeContext,
    Measurement,
    Message,
    Profile,
    Proposal,
    Reply,
    Task,
    Workload,
)
from perfsmith.measure.hardware import cpu_spec
from tests.unit.test_coder import context as python_coder_context
from tests.unit.test_judge import judge_context, measurement

KERNEL = """#include <stdint.h>

void rowsum(const float *x, float *out, int64_t rows, int64_t cols) {
    for (int64_t r = 0; r < rows; r++) {
        float acc = 0.0f;
        for (int64_t c = 0; c < cols; c++) {
            acc += x[r * cols + c];
        }
        out[r] = acc;
    }
}
"""
ANNOTATED = """ line |     Ir  D1 miss  LL miss | source
    6 |  18.2%        0        0 |         for (int64_t c = 0; c < cols; c++) {
    7 |  81.6%    65.5k        0 |             acc += x[r * cols + c];"""
SUMMARY = (
    "Native profile of one rowsum call at rows=256, cols=4096, under valgrind (callgrind, one "
    "OpenMP thread).\nD1 misses: 65.6k, 6.3% of data accesses.\nCache misses are simulated "
    "by valgrind with this machine's cache geometry."
)
PROFILE = Profile(
    hotspots=(HotSpot("rowsum", "kernel.c:3", 1.0, 1.0, 1, ANNOTATED),),
    total_s=0.0,
    summary=SUMMARY,
)
MACHINE = "CPU: Example CPU (x86_64), 8 logical CPUs available to the kernel\nSIMD: avx2, fma"
TASK = Task(
    repo="/nonexistent/kernels__rowsum",
    workload=Workload(file="perfsmith_workload.py"),
    tests=("tests",),
    protected=("*", "!kernel.c"),
    name="kernels__rowsum",
    brief="Row sums of a float32 matrix.\n\nEdit kernel.c. It must define:\n\n"
    "    void rowsum(const float *x, float *out, int64_t rows, int64_t cols);\n",
    mode="kernel",
)
PATCH = (
    "diff --git a/kernel.c b/kernel.c\n--- a/kernel.c\n+++ b/kernel.c\n"
    "@@ -1 +1 @@\n-#include <stdint.h>\n+#include <stdint.h>  \n"
)
KINDS = ("memory-bound", "compute-bound", "latency-bound", "parallelism")
METHODS = ("loop interchange", "tiling for L1/L2", "vectorisation with SIMD", "OpenMP parallel for")


def coder_messages(task: Task = TASK, machine: str | None = MACHINE) -> tuple[Message, ...]:
    ctx = CoderContext(
        task=task,
        files={"kernel.c": KERNEL},
        profile=PROFILE,
        baseline_s=0.0012,
        best_speedup=None,
        history=(),
        base_files={"kernel.c": KERNEL},
    )
    return LLMCoder(model=None, machine=machine).messages(ctx)  # type: ignore[arg-type]


def judge_messages(
    machine: str | None = MACHINE, after: Profile | None = PROFILE
) -> tuple[Message, ...]:
    m = Measurement(
        status="faster",
        reason="1.9x faster",
        patch=PATCH,
        grade=Grade(ok=True),
        comparison=Comparison(
            baseline_s=(0.010, 0.011),
            candidate_s=(0.005, 0.006),
            speedup=Interval(1.9, 1.7, 2.1),
            threshold=1.05,
            significant=True,
            slower=False,
            processes=4,
        ),
        profile=after,
    )
    ctx = JudgeContext(
        task=TASK,
        measurement=m,
        proposal=Proposal(patch=PATCH, rationale="Four accumulators.", reply=Reply("...")),
        profile=PROFILE,
        history=("#1 faster 1.90x: four accumulators",),
    )
    return LLMJudge(model=None, machine=machine).messages(ctx)  # type: ignore[arg-type]


def test_kernel_judge_sees_the_machine_the_native_profile_and_the_annotated_source() -> None:
    user = judge_messages()[1]
    assert MACHINE in user.content
    assert "# Native profile before this candidate" in user.content
    assert "# Native profile of this candidate" in user.content
    assert user.content.count(SUMMARY) == 2
    assert user.content.count("    7 |  81.6%    65.5k        0 |             acc += x") == 2
    assert "void rowsum(const float *x" in user.content  # the task's brief: signature, shapes
    assert "Four accumulators." in user.content and PATCH.strip() in user.content


def test_kernel_judge_is_asked_for_one_bottleneck_kind_and_one_method() -> None:
    system = judge_messages()[0].content
    assert "compute kernel" in system and "Python" not in system
    assert "Name ONE bottleneck" in system and "Name ONE method" in system
    for kind in KINDS:
        assert f"- {kind}:" in system
    for method in METHODS:
        assert method in system
    assert "simulated by valgrind" in system
    # The answer format is the same JSON object.
    for key in ('"decision"', '"bottleneck"', '"next_step"', '"suspicion"'):
        assert key in system
    user = judge_messages()[1].content
    assert user.rstrip().endswith('"suspicion": "..."}')
    assert "<memory-bound | compute-bound | latency-bound | parallelism>" in user


def test_kernel_judge_without_a_profile_says_so() -> None:
    user = judge_messages(after=None)[1].content
    assert "# Native profile of this candidate\nNo profile is available." in user


def test_an_unavailable_native_profile_shows_its_reason() -> None:
    gone = Profile((), 0.0, summary="Native profile unavailable: valgrind is not installed")
    assert profile_text(gone, "kernel") == gone.summary
    assert (
        "Native profile unavailable: valgrind is not installed"
        in judge_messages(after=gone)[1].content
    )


def test_kernel_prompts_default_to_this_machines_cpu() -> None:
    real = cpu_spec().describe()
    assert real in judge_messages(machine=None)[1].content
    assert real in coder_messages(machine=None)[1].content


def test_kernel_coder_edits_kernel_c_sees_the_cpu_and_the_annotated_profile() -> None:
    system, user = (m.content for m in coder_messages())
    for text in ("kernel.c", "C11", "-O3 -march=native -fopenmp", "pure function",
                 "hidden shapes and seeds", "static or global writable data"):  # fmt: skip
        assert text in system, text
    assert "kernel.c\n<<<<<<< SEARCH" in system and "path/to/module.py" not in system
    assert f"Machine:\n{MACHINE}" in user
    assert "# Native profile of the current best kernel" in user
    assert SUMMARY in user and f"```\n{ANNOTATED}\n```" in user  # no python fence
    assert "kernel.c\n<<<<<<< SEARCH" in user and "path/to/module.py" not in user
    # ["*", "!kernel.c"]: the last match wins, so kernel.c is the editable file.
    assert "## kernel.c (read-only)" not in user and "## kernel.c\n" in user


def test_select_files_reads_protected_patterns_in_order() -> None:
    files = {"kernel.c": KERNEL, "tests/kernel_harness.py": "x = 1\n"}
    view = select_files(files, PROFILE, TASK, 10_000)
    assert {f.path: f.readonly for f in view.shown} == {
        "kernel.c": False,
        "tests/kernel_harness.py": True,
    }


def test_python_prompts_say_nothing_of_kernels() -> None:
    coder = LLMCoder(model=None).messages(python_coder_context())  # type: ignore[arg-type]
    judge = LLMJudge(model=None).messages(  # type: ignore[arg-type]
        judge_context(measurement("faster"))
    )
    for message in (*coder, *judge):
        for text in ("Machine", "Native profile", "memory-bound", "kernel.c", "valgrind"):
            assert text not in message.content, (message.role, text)
    assert "```python\n" in coder[1].content  # hot spots are shown as Python source
    assert "You review one candidate optimization of a Python repository" in judge[0].content


def test_a_kernel_profile_as_the_judge_reads_it() -> None:
    text = profile_text(PROFILE, "kernel")
    assert text.startswith(SUMMARY + "\n100.0% own")
    assert f"rowsum (kernel.c:3):\n```\n{ANNOTATED}\n```" in text
    assert profile_text(PROFILE, "python") == PROFILE.as_text()
    assert profile_text(replace(PROFILE, summary=""), "python").startswith("100.0% own")
    assert profile_text(None, "kernel") == ""
