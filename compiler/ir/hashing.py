"""Structural digest of a graph, used as the graph part of cache keys."""

from __future__ import annotations

from webnnc.cache._hash import sha256_hex
from webnnc.compiler.ir._core import Graph
from webnnc.compiler.ir.printer import print_graph

__all__ = ["structural_digest"]


def structural_digest(graph: Graph) -> str:
    """sha256 of the canonical text form, which embeds each constant's content digest.

    Independent of internal value names and of the order in which nodes and constants were
    created; dependent on input/output names, descriptors, attributes and constant bytes.
    """
    return sha256_hex(print_graph(graph, canonical=True).encode())
