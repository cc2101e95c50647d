"""Common-subexpression elimination: compute each distinct expression once.

Two constants with the same data type, shape and bytes become one; two nodes with the same
op type, the same operands (after that merge), the same attributes and the same output
descriptors become one.

Before::

    %0 = relu(%x) : float32[4]
    %1 = relu(%x) : float32[4]
    %2 = add(%0, %1) : float32[4]

After::

    %0 = relu(%x) : float32[4]
    %2 = add(%0, %0) : float32[4]

Preconditions: none. Postconditions: no two nodes (and no two constants) are identical.
Every operator is deterministic in WebNN, so merging never changes results.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable

from webnnc.compiler.ir import Graph, Node, Value
from webnnc.compiler.passes._infra import InPlacePass, PassResult
from webnnc.compiler.passes._rewrite import sweep, unlink

__all__ = ["CommonSubexpressionEliminationPass"]

logger = logging.getLogger(__name__)


class CommonSubexpressionEliminationPass(InPlacePass):
    """Merge identical constants, then identical nodes, in one forward sweep."""

    def call(self, graph: Graph) -> PassResult:
        constants = _merge_constants(graph)
        nodes = _merge_nodes(graph)
        if constants or nodes:
            logger.info("merged %d duplicate constants and %d duplicate nodes", constants, nodes)
        return PassResult(
            graph, bool(constants or nodes), {"constants_merged": constants, "nodes_merged": nodes}
        )


def _merge_constants(graph: Graph) -> int:
    first: dict[str, Value] = {}
    merged = 0
    for c in graph.constants:
        # Only constants that share a size can be equal; hashing every weight just to learn
        # that is the price of merging (the digest is memoized and reused by the cache key).
        kept = first.setdefault(c.const_digest(), c)
        if kept is not c:
            merged += 1
            graph.replace_value(c, kept)
    if merged:
        graph.remove_unused_constants()
    return merged


def _node_key(node: Node) -> Hashable:
    return (
        node.op_type,
        tuple(None if v is None else id(v) for v in node.inputs),
        tuple(node.attributes.items()),
        tuple(out.descriptor for out in node.outputs),
    )


def _merge_nodes(graph: Graph) -> int:
    seen: dict[Hashable, Node] = {}
    merged = 0
    for node in graph:
        key = _node_key(node)
        kept = seen.setdefault(key, node)
        if kept is node:
            continue
        for dup, orig in zip(node.outputs, kept.outputs, strict=True):
            graph.replace_value(dup, orig)
        unlink(graph, node)
        merged += 1
    if merged:
        sweep(graph)
    return merged
