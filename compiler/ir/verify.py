"""Well-formedness checks for the IR (our ``Graph.lint()``)."""

from __future__ import annotations

from collections.abc import Collection

from webnnc.compiler.errors import VerificationError
from webnnc.compiler.ir._core import Graph

__all__ = ["verify"]


def verify(graph: Graph, *, known_ops: Collection[str] | None = None) -> None:
    """Check SSA form, ownership, use lists, topological order, names and descriptors.

    Raises:
        VerificationError: listing every problem found, one per line.
    """
    problems: list[str] = []
    defined: set[int] = set()
    names: set[str] = set()
    for v in graph.inputs:
        if not v.name:
            problems.append("a graph input has no name")
        elif v.name in names:
            problems.append(f"duplicate graph input name {v.name!r}")
        names.add(v.name or "")
        if v.producer is not None or v.const is not None:
            problems.append(f"graph input {v.name!r} has a producer or constant data")
        defined.add(id(v))
    for c in graph.constants:
        if c.const is None:
            problems.append(f"constant {c!r} has no data")
        elif tuple(c.const.shape) != c.shape or c.const.dtype != c.data_type.numpy_dtype:
            problems.append(
                f"constant {c!r}: data is {c.const.dtype}{list(c.const.shape)}, "
                f"descriptor says {c.descriptor}"
            )
        defined.add(id(c))
    seen_nodes: set[int] = set()
    for pos, node in enumerate(graph.nodes):
        where = f"node #{pos} {node.op_type}"
        if id(node) in seen_nodes:
            problems.append(f"{where} appears twice in the node list")
        seen_nodes.add(id(node))
        if node.graph is not graph:
            problems.append(f"{where} does not belong to this graph")
        if known_ops is not None and node.op_type not in known_ops:
            problems.append(f"{where}: unknown op type {node.op_type!r}")
        for i, inp in enumerate(node.inputs):
            if inp is None:
                continue
            if id(inp) not in defined:
                problems.append(f"{where}: input {i} ({inp!r}) is used before it is defined")
            if (node, i) not in inp._uses:
                problems.append(f"{where}: input {i} is missing from {inp!r}'s use list")
        for i, out in enumerate(node.outputs):
            if out.producer is not node or out.index != i:
                problems.append(f"{where}: output {i} is not owned by this node")
            if id(out) in defined:
                problems.append(f"{where}: output {i} is defined twice")
            defined.add(id(out))
    for v_id_holder in [*graph.inputs, *graph.constants, *(o for n in graph.nodes for o in n.outputs)]:
        for user, i in v_id_holder._uses:
            if id(user) not in seen_nodes:
                problems.append(f"{v_id_holder!r} is used by {user!r}, which is not in the graph")
            elif user.inputs[i] is not v_id_holder:
                problems.append(f"{v_id_holder!r}: stale use by {user!r} input {i}")
    if not graph.outputs:
        problems.append("the graph has no outputs")
    for name, v in graph.outputs.items():
        if id(v) not in defined:
            problems.append(f"output {name!r} is not defined in the graph")
    if problems:
        raise VerificationError("IR verification failed:\n  " + "\n  ".join(problems))
