"""The webnnc graph IR: typed SSA values, nodes, graphs, and their checker/printer/hash."""

from __future__ import annotations

from webnnc.compiler.ir._core import AttributeValue, Graph, Node, Value, freeze_attribute
from webnnc.compiler.ir._types import DataType, OperandDescriptor, Shape
from webnnc.compiler.ir.hashing import structural_digest
from webnnc.compiler.ir.printer import print_graph
from webnnc.compiler.ir.traversal import consumers, reachable_topological_order
from webnnc.compiler.ir.verify import verify

__all__ = [
    # types
    "AttributeValue",
    "DataType",
    "OperandDescriptor",
    "Shape",
    # structure
    "Graph",
    "Node",
    "Value",
    "freeze_attribute",
    # analysis
    "consumers",
    "print_graph",
    "reachable_topological_order",
    "structural_digest",
    "verify",
]
