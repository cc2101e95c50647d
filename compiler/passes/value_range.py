"""A small forward value-range analysis: a closed interval ``[lo, hi]`` per value.

Algebraic simplification asks it one kind of question: is this operand already inside the
range an activation or clamp would force it into? (Then the activation is a no-op.)

The per-op rules live in the operator catalogue (each family file of
``webnnc.compiler.ops``, registered with ``range_rule``); this module runs them over a
graph. What the intervals mean (NaN, infinities) is written in ``webnnc.compiler.ops._range``.
"""

from __future__ import annotations

import numpy as np

from webnnc.compiler.ir import Graph, Node, Value
from webnnc.compiler.ops import RANGE_RULES, UNBOUNDED, Range

__all__ = ["UNBOUNDED", "Range", "infer_node_ranges", "range_of", "value_ranges"]


def range_of(value: Value, ranges: dict[int, Range]) -> Range:
    """The range of ``value``: computed from the data for constants, else looked up."""
    known = ranges.get(id(value))
    if known is not None:
        return known
    if value.const is not None and value.const.size:
        if value._const_range is None:
            # fmin / fmax skip NaNs without a masked copy, and the result is kept on the
            # constant: every pass run asked again, and min/max over GPT-2's 495 MB of weights
            # (after a NaN mask and a filtered copy) cost ~90 ms a run
            lo, hi = np.fmin.reduce(value.const, axis=None), np.fmax.reduce(value.const, axis=None)
            value._const_range = (float(lo), float(hi))
        lo, hi = value._const_range
        r = UNBOUNDED if np.isnan(lo) else Range(lo, hi)  # NaN only when every element is NaN
        ranges[id(value)] = r
        return r
    return UNBOUNDED


def infer_node_ranges(node: Node, ranges: dict[int, Range]) -> None:
    """Record the range of ``node``'s outputs in ``ranges`` (operands must be recorded)."""
    rule = RANGE_RULES.get(node.op_type)
    if rule is None or len(node.outputs) != 1:
        return
    operands = [UNBOUNDED if v is None else range_of(v, ranges) for v in node.inputs]
    if node.op_type in ("add", "sub", "mul", "max", "min") and len(operands) != 2:
        return
    r = rule(node, operands)
    if r != UNBOUNDED:
        ranges[id(node.outputs[0])] = r


def value_ranges(graph: Graph) -> dict[int, Range]:
    """Ranges of every value that has a bounded one, keyed by ``id(value)``."""
    ranges: dict[int, Range] = {}
    for node in graph.nodes:
        infer_node_ranges(node, ranges)
    return ranges
