"""Dead-code elimination: structure, numerics, idempotence (property test)."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.compiler.passes._helpers import build, check_pass, ops
from webnnc.compiler.ir import print_graph, verify
from webnnc.compiler.passes import DeadCodeEliminationPass


def test_unused_nodes_and_constants_are_removed() -> None:
    def make(b: Any) -> dict[str, Any]:
        x = b.input("x", [2, 3], "float32")
        b.relu(b.add(x, b.constant(np.ones([2, 3], np.float32))))  # never used
        return {"y": b.exp(x)}

    g = check_pass(make, DeadCodeEliminationPass())
    assert ops(g) == ["exp"]
    assert g.constants == []


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 99), st.integers(0, 99)), min_size=1, max_size=12),
       st.lists(st.integers(0, 99), min_size=1, max_size=3))
def test_property_idempotent_and_keeps_what_outputs_need(
    edges: list[tuple[int, int]], outputs: list[int]
) -> None:
    def make(b: Any) -> dict[str, Any]:
        pool = [b.input("x", [3], "float32")]
        for i, j in edges:
            pool.append(b.add(pool[i % len(pool)], pool[j % len(pool)]))
        return {f"y{k}": b.relu(pool[o % len(pool)]) for k, o in enumerate(outputs)}

    g = build(make)
    before = print_graph(g)  # the canonical form prints only what the outputs reach
    DeadCodeEliminationPass()(g)
    verify(g)
    assert print_graph(g) == before
    assert len(g.nodes) == before.count(" = ") - before.count("= constant")
    assert not DeadCodeEliminationPass()(g).modified
