"""Dead-code elimination: drop nodes and constants no graph output depends on.

Before::

    %0 = relu(%x)      # unused
    %1 = exp(%x)
    return y=%1

After::

    %1 = exp(%x)
    return y=%1
"""

from __future__ import annotations

import logging

from webnnc.compiler.ir import Graph
from webnnc.compiler.ir.traversal import live_nodes
from webnnc.compiler.passes._infra import InPlacePass, PassResult

__all__ = ["DeadCodeEliminationPass"]

logger = logging.getLogger(__name__)


class DeadCodeEliminationPass(InPlacePass):
    """Remove unreachable nodes and unused constants. Idempotent."""

    def call(self, graph: Graph) -> PassResult:
        live = live_nodes(graph)
        dead = [n for n in graph.nodes if id(n) not in live]
        for node in reversed(dead):  # consumers before producers
            node.detach()
        graph.set_nodes(n for n in graph.nodes if id(n) in live)
        removed_constants = graph.remove_unused_constants()
        if dead or removed_constants:
            logger.info("removed %d dead nodes and %d unused constants", len(dead), removed_constants)
        return PassResult(
            graph, bool(dead or removed_constants), {"nodes_removed": len(dead), "constants_removed": removed_constants}
        )
