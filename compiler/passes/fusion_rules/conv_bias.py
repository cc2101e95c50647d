"""Bias additions folded into the operator that precedes them.

``add(conv2d(x, w, b?), c)`` -> ``conv2d(x, w, b + c)`` when ``c`` is a per-output-channel
constant; ``add(gemm(a, b, c?), d)`` -> ``gemm(a, b, c')`` when ``d`` is a constant that
broadcasts to the gemm output. ONNX Runtime then runs one kernel instead of two.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from webnnc.compiler.ir import Graph, Node, Value
from webnnc.compiler.ops.conv_pool import filter_dims
from webnnc.compiler.passes._rewrite import insert_node, only_use
from webnnc.compiler.passes.fusion_rules._pattern import FusionRule, Match

__all__ = ["CONV_BIAS", "GEMM_BIAS"]


def _producer_and_constant(graph: Graph, add: Node, op: str) -> tuple[Node, Value] | str:
    """The ``op`` node and the constant that ``add`` combines (in either order)."""
    for i in (0, 1):
        v, c = add.inputs[i], add.inputs[1 - i]
        if v is None or c is None or v.producer is None or v.producer.op_type != op:
            continue
        if c.const is None:
            return f"the other addend of {op} is not a constant"
        if only_use(graph, v) is not add:
            return f"the {op} result has other uses"
        if add.outputs[0].descriptor != v.descriptor:
            return "the addend broadcasts the result to a larger shape"
        return v.producer, c
    return f"no operand is produced by {op}"


def _check_conv(graph: Graph, add: Node) -> Match | str:
    found = _producer_and_constant(graph, add, "conv2d")
    if isinstance(found, str):
        return found
    conv, c = found
    assert c.const is not None
    nhwc = conv.attributes["input_layout"] == "nhwc"
    w = conv.inputs[1]
    assert w is not None
    channels = filter_dims(str(conv.attributes["filter_layout"]), w.shape)[0]
    channel_axis = 3 if nhwc else 1
    shape = (1,) * (4 - c.rank) + c.shape
    if c.rank > 4 or any(d != 1 for i, d in enumerate(shape) if i != channel_axis):
        return f"the constant {list(c.shape)} is not per output channel"
    per_channel = np.broadcast_to(c.const.reshape(shape), (1, channels, 1, 1) if not nhwc else (1, 1, 1, channels))
    return Match([conv, add], {"bias": per_channel.reshape(channels)})


def _rewrite_conv(graph: Graph, m: Match) -> Value:
    conv, add = m.nodes
    bias: np.ndarray[Any, Any] = m.parts["bias"]
    old = conv.inputs[2]
    if old is not None:
        if old.const is None:
            new_bias = insert_node(graph, add, "add", [old, graph.add_constant(bias)], [old.descriptor]).outputs[0]
        else:
            new_bias = graph.add_constant(old.const + bias)
    else:
        new_bias = graph.add_constant(bias)
    fused = insert_node(
        graph, add, "conv2d", [conv.inputs[0], conv.inputs[1], new_bias],
        [conv.outputs[0].descriptor], conv.attributes,
    )
    return fused.outputs[0]


def _check_gemm(graph: Graph, add: Node) -> Match | str:
    found = _producer_and_constant(graph, add, "gemm")
    if isinstance(found, str):
        return found
    gemm, d = found
    assert d.const is not None
    c = gemm.inputs[2]
    if c is not None and c.const is None:
        return "the gemm's c operand is not a constant"
    if d.rank > 2:
        return f"the constant has rank {d.rank}; gemm's c must have rank <= 2"
    return Match([gemm, add], {"d": d.const})


def _rewrite_gemm(graph: Graph, m: Match) -> Value:
    gemm, add = m.nodes
    d: np.ndarray[Any, Any] = m.parts["d"]
    c = gemm.inputs[2]
    attrs = dict(gemm.attributes)
    if c is None:
        new_c = d
    else:
        assert c.const is not None
        dt = c.const.dtype.type
        new_c = c.const * dt(attrs["beta"]) + d
    attrs["beta"] = 1.0
    out = gemm.outputs[0].descriptor
    c_value = graph.add_constant(np.ascontiguousarray(new_c).astype(out.data_type.numpy_dtype))
    fused = insert_node(graph, add, "gemm", [gemm.inputs[0], gemm.inputs[1], c_value], [out], attrs)
    return fused.outputs[0]


CONV_BIAS = FusionRule("conv2d+add", frozenset({"add"}), _check_conv, _rewrite_conv, __doc__ or "")
GEMM_BIAS = FusionRule("gemm+add", frozenset({"add"}), _check_gemm, _rewrite_gemm, __doc__ or "")
