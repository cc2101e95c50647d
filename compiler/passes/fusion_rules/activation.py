"""Activations spelled with max/min rewritten into the forms ONNX Runtime fuses.

ONNX Runtime fuses ``Conv``/``Gemm`` followed by ``Relu`` or ``Clip`` (with constant bounds)
into one kernel, but not followed by ``Max``/``Min``. So ``max(x, 0)`` becomes ``relu(x)``
and ``min(max(x, lo), hi)`` (either nesting) becomes ``clamp(x, lo, hi)``, for splat
constants ``lo <= hi``. (``relu`` and ``clamp`` chains are merged by algebraic
simplification; the clamp is lowered to ``Clip`` with constant bounds.)
"""

from __future__ import annotations

import math

from webnnc.compiler.ir import Graph, Node, Value
from webnnc.compiler.passes._rewrite import insert_node, only_use, scalar_constant
from webnnc.compiler.passes.fusion_rules._pattern import FusionRule, Match

__all__ = ["MINMAX_CLAMP"]


def _bound(node: Node) -> tuple[Value, float] | str:
    """``(x, k)`` for ``max(x, k)`` / ``min(x, k)`` with a splat constant ``k`` of x's shape."""
    for i in (0, 1):
        x, k = node.inputs[i], scalar_constant(node.inputs[1 - i])
        if x is not None and k is not None and not math.isnan(k):
            if x.descriptor != node.outputs[0].descriptor:
                return "the constant broadcasts the operand to a larger shape"
            return x, k
    return "neither operand is a splat constant"


def _check(graph: Graph, node: Node) -> Match | str:
    if not node.outputs[0].data_type.is_float:
        return "integer max/min stay as they are"
    found = _bound(node)
    if isinstance(found, str):
        return found
    x, k = found
    lo, hi = (k, math.inf) if node.op_type == "max" else (-math.inf, k)
    inner = x.producer
    other = "min" if node.op_type == "max" else "max"
    user = only_use(graph, node.outputs[0])
    if user is not None and user.op_type == other and not isinstance(_bound(user), str):
        return f"left for the enclosing {other}, which matches both"
    if inner is not None and inner.op_type == other and only_use(graph, x) is node:
        inner_found = _bound(inner)
        if not isinstance(inner_found, str):
            x, k2 = inner_found
            lo, hi = (max(lo, k2), hi) if other == "max" else (lo, min(hi, k2))
            if lo > hi:
                return f"the bounds [{lo}, {hi}] are empty"
            return Match([inner, node], {"x": x, "lo": lo, "hi": hi})
    return Match([node], {"x": x, "lo": lo, "hi": hi})


def _rewrite(graph: Graph, m: Match) -> Value:
    x: Value = m.parts["x"]
    lo, hi = m.parts["lo"], m.parts["hi"]
    if (lo, hi) == (0.0, math.inf):
        return insert_node(graph, m.root, "relu", [x], [x.descriptor]).outputs[0]
    attrs = {"min_value": lo, "max_value": hi}
    return insert_node(graph, m.root, "clamp", [x], [x.descriptor], attrs).outputs[0]


MINMAX_CLAMP = FusionRule("max/min->relu/clamp", frozenset({"max", "min"}), _check, _rewrite, __doc__ or "")
