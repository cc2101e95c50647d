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
    "sweep",
    "unlink",
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


def unlink(graph: Graph, node: Node) -> None:
    """Take out a node whose results are no longer used; :func:`sweep` drops it from the list.

    Passes unlink as they go (so use counts stay exact) and sweep once at the end: removing
    from the node list one by one would make a pass quadratic in the graph's size.
    """
    for out in node.outputs:
        if out.uses or graph.is_output(out):
            raise ValueError(f"cannot remove {node!r}: output {out!r} is still used")
    node.detach()
    node.graph = None


def sweep(graph: Graph) -> None:
    """Drop the unlinked nodes from the node list (one pass over it)."""
    graph.set_nodes(n for n in graph.nodes if n.graph is graph)


def replace_node(graph: Graph, old: Node, new_outputs: Sequence[Value]) -> None:
    """Splice ``new_outputs`` in for ``old``'s outputs and unlink ``old`` (then :func:`sweep`)."""
    for before, after in zip(old.outputs, new_outputs, strict=True):
        graph.replace_value(before, after)
    unlink(graph, old)
