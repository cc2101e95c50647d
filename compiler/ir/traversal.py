"""Orderings and neighbourhoods of graph nodes."""

from __future__ import annotations

from collections.abc import Iterable

from webnnc.compiler.ir._core import Graph, Node, Value

__all__ = ["consumers", "live_nodes", "reachable_topological_order"]


def reachable_topological_order(graph: Graph, roots: Iterable[Value] | None = None) -> list[Node]:
    """Nodes that the roots (default: graph outputs) depend on, in a deterministic order.

    The order is a depth-first post-order from the roots, visiting inputs left to right, so
    it depends only on the graph's structure, never on the order nodes were created in.
    """
    if roots is None:
        roots = [graph.outputs[k] for k in sorted(graph.outputs)]
    order: list[Node] = []
    seen: set[int] = set()
    for root in roots:
        if root.producer is None or id(root.producer) in seen:
            continue
        # Iterative DFS: (node, next input index); deep chains must not hit the recursion limit.
        stack: list[tuple[Node, int]] = [(root.producer, 0)]
        seen.add(id(root.producer))
        while stack:
            node, i = stack[-1]
            if i < len(node.inputs):
                stack[-1] = (node, i + 1)
                v = node.inputs[i]
                if v is not None and v.producer is not None and id(v.producer) not in seen:
                    seen.add(id(v.producer))
                    stack.append((v.producer, 0))
            else:
                stack.pop()
                order.append(node)
    return order


def live_nodes(graph: Graph) -> set[int]:
    """Ids of the nodes whose results reach a graph output."""
    return {id(n) for n in reachable_topological_order(graph)}


def consumers(value: Value) -> list[Node]:
    """Distinct nodes that use ``value``, in use order."""
    out: list[Node] = []
    for node, _ in value.uses:
        if all(node is not n for n in out):
            out.append(node)
    return out
