"""The one canonical text form of a graph: goldens, debug dumps and the hashing input.

Example (canonical form)::

    graph(%input: float32[1,3,4,4]) {
      %c0 = constant float32[1,3,1,1] sha256:1f2e...
      %0 = add(%input, %c0) : float32[1,3,4,4]
      %1 = relu(%0) : float32[1,3,4,4]
      return output=%1
    }

In canonical form nodes are ordered by :func:`reachable_topological_order` (so creation
order does not matter), internal values are numbered in that order, constants are numbered
by first use and printed by content digest, and only graph input/output names appear.
"""

from __future__ import annotations

from webnnc.compiler.ir._core import AttributeValue, Graph, Value
from webnnc.compiler.ir._types import DataType
from webnnc.compiler.ir.traversal import reachable_topological_order

__all__ = ["format_attribute", "print_graph"]


def format_attribute(value: AttributeValue) -> str:
    """Format an attribute value exactly (floats by repr, so they round-trip).

    >>> format_attribute((1, 2.5, None, "nchw", True))
    '[1, 2.5, null, "nchw", true]'
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, DataType):
        return value.value
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, tuple):
        if all(type(v) is int for v in value):  # the common case (padding, strides, axes)
            return "[" + ", ".join(map(str, value)) + "]"
        return "[" + ", ".join(format_attribute(v) for v in value) + "]"
    return str(value)


def print_graph(graph: Graph, *, canonical: bool = True, annotations: bool = False) -> str:
    """Render ``graph`` as text.

    Args:
        graph: the graph.
        canonical: order and name structurally (for hashing and goldens); when false, keep
            the graph's node order and any value names (for debugging).
        annotations: also print node annotations (memory plans etc.).
    """
    names: dict[int, str] = {}
    for v in sorted(graph.inputs, key=lambda v: v.name or "") if canonical else graph.inputs:
        names[id(v)] = f"%{v.name}"
    nodes = reachable_topological_order(graph) if canonical else list(graph.nodes)
    lines: list[str] = []
    counter = 0
    const_counter = 0

    def ref(v: Value | None) -> str:
        nonlocal const_counter
        if v is None:
            return "_"
        key = id(v)
        if key not in names:
            if v.const is not None:
                names[key] = f"%c{const_counter}"
                const_counter += 1
                lines.append(f"  {names[key]} = constant {v.descriptor} {v.const_digest()}")
            else:  # only reachable in non-canonical mode for malformed graphs
                names[key] = f"%?{v.name}"
        return names[key]

    header_inputs = ", ".join(f"{names[id(v)]}: {v.descriptor}" for v in graph.inputs)
    if canonical:
        header_inputs = ", ".join(
            f"%{v.name}: {v.descriptor}" for v in sorted(graph.inputs, key=lambda v: v.name or "")
        )
    for node in nodes:
        args = ", ".join(ref(v) for v in node.inputs)
        outs = []
        for out in node.outputs:
            if canonical or not out.name:
                names[id(out)] = f"%{counter}"
                counter += 1
            else:
                names[id(out)] = f"%{out.name}"
            outs.append(names[id(out)])
        attrs = ""
        if node.attributes:
            attrs = " {" + ", ".join(
                f"{k}={format_attribute(v)}" for k, v in sorted(node.attributes.items())
            ) + "}"
        types = ", ".join(str(o.descriptor) for o in node.outputs)
        line = f"  {', '.join(outs)} = {node.op_type}({args}){attrs} : {types}"
        if annotations and node.annotations:
            line += "  # " + ", ".join(
                f"{k}={format_attribute(v)}" for k, v in sorted(node.annotations.items())
            )
        lines.append(line)
    output_items = sorted(graph.outputs.items()) if canonical else list(graph.outputs.items())
    rets = ", ".join(f"{name}={ref(v)}" for name, v in output_items)
    return "\n".join([f"graph({header_inputs}) {{", *lines, f"  return {rets}", "}"]) + "\n"


