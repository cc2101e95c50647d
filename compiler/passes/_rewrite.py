"""Small helpers the rewriting passes share: constants as arrays, node insertion, splicing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from webnnc.compiler.ir import Graph, Node, OperandDescriptor, Value

__all__ = [
    "constant_array",
    "insert_node",
    "only_use",
    "replace_node",
    "scalar_constant",
]


def constant_array(value: Value | None) -> np.ndarray[Any, Any] | None:
    """The value's data when it is a constant, else None."""
    if value is None:
        return None
    return value.const


def scalar_constant(value: Value | None) -> float | None:
    """The one number a constant holds in every element (a splat), else None.

    >>> g = Graph()
    >>> scalar_constant(g.add_constant(np.full([2, 2], 3.0, np.float32)))
    3.0
    >>> scalar_constant(g.add_constant(np.array([1.0, 2.0], np.float32))) is None
    True
    """
    arr = constant_array(value)
    if arr is None or arr.size == 0:
        return None
    first = arr.reshape(-1)[0]
    if not np.all(arr == first):
        return None
    return float(first)


def only_use(graph: Graph, value: Value) -> Node | None:
    """The single node using ``value`` when it has exactly one use and is not a graph output."""
    uses = value.uses
    if len(uses) != 1 or graph.is_output(value):
        return None
    return uses[0][0]


def insert_node(
    graph: Graph,
    anchor: Node,
    op_type: str,
    inputs: Sequence[Value | None],
    outputs: Sequence[OperandDescriptor],
    attributes: Mapping[str, Any] | None = None,
) -> Node:
    """Create a node and place it just before ``anchor`` (whose inputs are all defined there)."""
    node = Node(op_type, inputs, outputs, attributes)
    graph.insert_before(anchor, node)
    return node


def replace_node(graph: Graph, old: Node, new_outputs: Sequence[Value]) -> None:
    """Splice ``new_outputs`` in for ``old``'s outputs and drop ``old`` from the graph."""
    for before, after in zip(old.outputs, new_outputs, strict=True):
        graph.replace_value(before, after)
    graph.remove(old)
