"""Common-subexpression elimination: structure, numerics, idempotence."""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.compiler.passes._helpers import build, check_pass, ops
from webnnc.compiler.ir import print_graph
from webnnc.compiler.passes import CommonSubexpressionEliminationPass, DeadCodeEliminationPass


def _duplicates(b: Any) -> dict[str, Any]:
    x = b.input("x", [2, 3], "float32")
    c1 = b.constant(np.full([2, 3], 0.5, np.float32))
    c2 = b.constant(np.full([2, 3], 0.5, np.float32))  # same bytes as c1
    left = b.relu(b.add(x, c1))
    right = b.relu(b.add(x, c2))
    return {"y": b.mul(left, right)}


def test_identical_constants_and_nodes_are_computed_once() -> None:
    g = check_pass(_duplicates, CommonSubexpressionEliminationPass(), DeadCodeEliminationPass())
    assert ops(g) == ["add", "relu", "mul"]
    assert len(g.constants) == 1
    mul = g.nodes[-1]
    assert mul.inputs[0] is mul.inputs[1]


def test_different_attributes_or_constants_are_kept_apart() -> None:
    def make(b: Any) -> dict[str, Any]:
        x = b.input("x", [2, 3], "float32")
        lo = b.clamp(x, min_value=0.0, max_value=1.0)
        hi = b.clamp(x, min_value=0.0, max_value=2.0)
        a = b.add(x, b.constant(np.full([2, 3], 1.0, np.float32)))
        c = b.add(x, b.constant(np.full([2, 3], 2.0, np.float32)))
        return {"y": b.add(b.add(lo, hi), b.add(a, c))}

    g = check_pass(make, CommonSubexpressionEliminationPass())
    assert ops(g).count("clamp") == 2 and ops(g).count("add") == 5


def test_a_value_exported_twice_stays_exported_under_both_names() -> None:
    def make(b: Any) -> dict[str, Any]:
        x = b.input("x", [4], "float32")
        return {"a": b.exp(x), "b": b.exp(x)}

    g = check_pass(make, CommonSubexpressionEliminationPass())
    assert ops(g) == ["exp"]
    assert g.outputs["a"] is g.outputs["b"]


def test_idempotent() -> None:
    g = build(_duplicates)
    assert CommonSubexpressionEliminationPass()(g).modified
    text = print_graph(g)
    assert not CommonSubexpressionEliminationPass()(g).modified
    assert print_graph(g) == text
