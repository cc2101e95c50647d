"""Memory planning: annotations, arena sizes, the no-overlap guarantee (property test)."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.compiler.passes._helpers import build, check_pass
from webnnc.compiler.errors import PassError
from webnnc.compiler.passes import PassManager, PlanMemoryPass
from webnnc.compiler.passes.memory_planning import Buffer, MemoryPlan, check_plan, plan_memory


def _chain(b: Any) -> dict[str, Any]:
    x = b.input("x", [256], "float32")
    return {"y": b.neg(b.exp(b.relu(x)))}


def test_a_chain_needs_two_scratch_buffers_and_one_output() -> None:
    g = check_pass(_chain, PlanMemoryPass(alignment=64))
    assert [n.annotations["memory"] for n in g.nodes] == [
        (("scratch", 0, 1024),),
        (("scratch", 1024, 1024),),
        (("outputs", 0, 1024),),
    ]
    plan = g.meta["memory_plan"]
    assert isinstance(plan, MemoryPlan)
    assert plan.arena_bytes == {"scratch": 2048, "outputs": 1024}
    assert plan.peak_live_bytes == 2048  # a value and its consumer's result
    assert plan.to_json()["outputs"] == {"y": [0, 1024]}


def test_buffers_are_reused_once_dead() -> None:
    def make(b: Any) -> dict[str, Any]:
        x = b.input("x", [1000], "float32")
        for _ in range(10):
            x = b.relu(b.exp(x))
        return {"y": x}

    plan = plan_memory(build(make), alignment=64)
    assert plan.unplanned_bytes == 20 * 4000
    assert plan.arena_bytes["scratch"] == 2 * 4032  # ping-pong between two aligned buffers
    assert check_plan(plan) == []


def test_outputs_are_pooled_back_to_back_and_aligned() -> None:
    def make(b: Any) -> dict[str, Any]:
        x = b.input("x", [3], "float32")
        return {"b": b.exp(x), "a": b.relu(x), "c": b.neg(x)}

    plan = plan_memory(build(make), alignment=64)
    assert plan.outputs == {"b": (0, 12), "a": (64, 12), "c": (128, 12)}  # in node order
    assert plan.arena_bytes["outputs"] == 192


def test_ensures_rejects_an_overlapping_plan() -> None:
    bad = MemoryPlan(64, [Buffer("a", "scratch", 0, 100, 0, 3), Buffer("b", "scratch", 64, 100, 2, 5)])
    assert len(check_plan(bad)) == 1

    class BrokenPlanner(PlanMemoryPass):
        def call(self, graph: Any) -> Any:
            result = super().call(graph)
            graph.meta["memory_plan"] = bad
            return result

    with pytest.raises(PassError, match=r"BrokenPlanner.*overlapping"):
        PassManager([BrokenPlanner()])(build(_chain))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 99), st.integers(0, 99), st.sampled_from([1, 7, 64, 300])),
             min_size=1, max_size=25),
    st.sampled_from([1, 16, 64]),
)
def test_property_planner_never_overlaps_live_buffers(
    steps: list[tuple[int, int, int]], alignment: int
) -> None:
    def make(b: Any) -> dict[str, Any]:
        pool = [b.input("x", [1], "float32")]
        for i, j, size in steps:
            a, c = pool[i % len(pool)], pool[j % len(pool)]
            grown = b.add(b.reduce_mean(a), b.constant(np.ones([size], np.float32)))
            pool.append(b.relu(b.add(grown, b.reduce_mean(c))))
        return {"y": pool[-1], "z": pool[len(pool) // 2] if len(pool) > 2 else b.exp(pool[0])}

    g = build(make)
    plan = plan_memory(g, alignment=alignment)
    assert check_plan(plan) == []
    # independent brute-force check: at every step, live scratch buffers are disjoint
    for t in range(len(g.nodes)):
        live = sorted((b.offset, b.offset + b.nbytes) for b in plan.buffers
                      if b.arena == "scratch" and b.first <= t <= b.last)
        assert all(prev_end <= start for (_, prev_end), (start, _) in itertools.pairwise(live))
    assert all(b.offset % alignment == 0 for b in plan.buffers)
    assert plan.peak_live_bytes <= plan.unplanned_bytes
