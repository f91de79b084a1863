"""The optimization loop as a LangGraph StateGraph (the only module importing langgraph).

    setup -> baseline -> propose -> evaluate -> judge -> propose ... -> finalize

A SQLite checkpointer in the run folder saves the state after every node, so
``optimize --resume RUN_ID`` continues where a crash or Ctrl-C left off.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph

from perfsmith.loop import steps
from perfsmith.loop.runtime import Runtime
from perfsmith.loop.state import LoopState, initial_state

CHECKPOINTS = "checkpoints.sqlite"
Step = Callable[[Runtime, LoopState], LoopState]


def _node(rt: Runtime, fn: Step) -> Callable[[LoopState], LoopState]:
    """Wrap a step: account its wall-clock time and save the trajectory after it."""

    def run(state: LoopState) -> LoopState:
        t0 = rt.clock()
        update = fn(rt, state)
        update["elapsed_s"] = state.get("elapsed_s", 0.0) + (rt.clock() - t0)
        merged: LoopState = {**state, **update}
        rt.save(merged)
        return update

    run.__name__ = fn.__name__
    return run


def _after_propose(state: LoopState) -> str:
    if state.get("exit_status"):
        return "finalize"
    return "evaluate" if state.get("pending") else "propose"


def _after_judge(state: LoopState) -> str:
    return "finalize" if state.get("exit_status") else "propose"


def build(rt: Runtime, checkpointer: Any) -> Any:
    """Compile the loop for ``rt`` with ``checkpointer``."""
    g: StateGraph[LoopState] = StateGraph(LoopState)
    for name, fn in (
        ("setup", steps.setup),
        ("baseline", steps.baseline),
        ("propose", steps.propose),
        ("evaluate", steps.evaluate),
        ("judge", steps.judge),
        ("finalize", steps.finalize),
    ):
        g.add_node(name, _node(rt, fn))  # type: ignore[call-overload]
    g.add_edge(START, "setup")
    g.add_edge("setup", "baseline")
    g.add_edge("baseline", "propose")
    g.add_conditional_edges("propose", _after_propose, ["evaluate", "propose", "finalize"])
    g.add_edge("evaluate", "judge")
    g.add_conditional_edges("judge", _after_judge, ["propose", "finalize"])
    g.add_edge("finalize", END)
    return g.compile(checkpointer=checkpointer)


@contextmanager
def checkpointer(run_dir: Path) -> Iterator[Any]:
    conn = sqlite3.connect(str(run_dir / CHECKPOINTS), check_same_thread=False)
    try:
        saver = SqliteSaver(conn)
        saver.setup()
        yield saver
    finally:
        conn.close()


def _config(run_id: str) -> dict[str, Any]:
    # Each step is one super-step; the budget, not recursion, ends a run.
    return {"configurable": {"thread_id": run_id}, "recursion_limit": 100_000}


def run(rt: Runtime, run_id: str) -> LoopState:
    """Start a new run and drive it to the end."""
    with checkpointer(rt.run_dir) as saver:
        graph = build(rt, saver)
        result: LoopState = graph.invoke(initial_state(run_id), _config(run_id))
        return result


def saved_state(run_dir: Path, run_id: str) -> tuple[LoopState | None, tuple[str, ...]]:
    """The last checkpointed state of a run and the nodes still to run (empty: finished)."""
    if not (run_dir / CHECKPOINTS).is_file():
        return None, ()
    with checkpointer(run_dir) as saver:
        # Reading a checkpoint never calls a node, so the graph needs no runtime.
        snap = build(None, saver).get_state(_config(run_id))  # type: ignore[arg-type]
    if not snap.values:
        return None, ()
    values: LoopState = dict(snap.values)  # type: ignore[assignment]
    return values, tuple(snap.next)


def resume(rt: Runtime, run_id: str) -> LoopState:
    """Continue a run from its last checkpoint."""
    with checkpointer(rt.run_dir) as saver:
        graph = build(rt, saver)
        result: LoopState = graph.invoke(None, _config(run_id))
        return result
