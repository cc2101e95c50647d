"""Compile work grows linearly with the graph (issue 20; issue 15 item 11), checked by
counting work, never by timing it.

A whole-graph operation (listing, copying or searching the node list: ``Graph.nodes``,
iteration, ``insert_before``'s index search, ``remove``, ``set_nodes``, ``clone``) costs
O(nodes); a compile stays linear only while it makes a bounded number of them, whatever the
graph's size. One such call per node (a pass that searches the list for each rewrite) is
what made long chains compile quadratically, so the count must not grow with the chain.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from webnnc.compiler.driver import compile_graph
from webnnc.compiler.importers import import_onnx
from webnnc.compiler.ir import Graph
from webnnc.compiler.options import CompileOptions


def _chain(n: int) -> onnx.ModelProto:
    nodes, prev = [], "x"
    for i in range(n):
        out = f"t{i}" if i < n - 1 else "y"
        op = helper.make_node("Add", [prev, "c"], [out]) if i % 2 == 0 else helper.make_node("Relu", [prev], [out])
        nodes.append(op)
        prev = out
    graph = helper.make_graph(
        nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])],
        [numpy_helper.from_array(np.full((1, 8), 0.5, np.float32), "c")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def _whole_graph_calls(n: int, monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    counts: Counter[str] = Counter()

    def counted(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            counts[name] += 1
            return fn(*args, **kwargs)
        return wrapper

    nodes_prop = Graph.__dict__["nodes"]
    with monkeypatch.context() as m:
        m.setattr(Graph, "nodes", property(counted("nodes", nodes_prop.fget)))
        for name in ("__iter__", "insert_before", "remove", "set_nodes", "clone"):
            m.setattr(Graph, name, counted(name, Graph.__dict__[name]))
        graph = import_onnx(_chain(n))
        compile_graph(graph, CompileOptions(optimization_level="none"), store=None)
    return counts


def test_whole_graph_operations_do_not_grow_with_the_graph(monkeypatch: pytest.MonkeyPatch) -> None:
    small = _whole_graph_calls(300, monkeypatch)
    large = _whole_graph_calls(900, monkeypatch)
    assert sum(small.values()) > 0  # the counters see the compile
    assert large == small, f"O(nodes) calls grew with the graph: {dict(small)} -> {dict(large)}"


def test_compile_pauses_the_cyclic_gc_and_restores_it(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []
    real = Graph.clone

    def clone(self: Graph) -> Graph:
        seen.append(gc.isenabled())
        return real(self)

    monkeypatch.setattr(Graph, "clone", clone)
    assert gc.isenabled()
    compile_graph(import_onnx(_chain(10)), CompileOptions(), store=None)
    assert seen and not any(seen)  # paused while the passes copied and rewrote the graph
    assert gc.isenabled()

