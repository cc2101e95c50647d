"""Batch normalization folded into the convolution before it.

``batchNormalization(conv2d(x, w, b?), mean, var, scale?, bias?)`` over the channel axis,
with constant parameters, is one convolution with rescaled weights:
``w' = w * s`` per output channel and ``b' = (b - mean) * s + bias`` where
``s = scale / sqrt(var + epsilon)`` (computed in float64, rounded once).
"""

from __future__ import annotations

import numpy as np

from webnnc.compiler.ir import Graph, Node, Value
from webnnc.compiler.passes._rewrite import insert_node, only_use
from webnnc.compiler.passes.fusion_rules._pattern import FusionRule, Match

__all__ = ["CONV_BATCHNORM"]


def _check(graph: Graph, bn: Node) -> Match | str:
    x = bn.inputs[0]
    if x is None or x.producer is None or x.producer.op_type != "conv2d":
        return "the input is not produced by conv2d"
    conv = x.producer
    if only_use(graph, x) is not bn:
        return "the conv2d result has other uses"
    channel_axis = 3 if conv.attributes["input_layout"] == "nhwc" else 1
    if int(bn.attributes["axis"]) != channel_axis:
        return f"normalizes axis {bn.attributes['axis']}, not the channel axis {channel_axis}"
    params = bn.inputs[1:]
    if any(p is not None and p.const is None for p in params):
        return "mean, variance, scale or bias is not a constant"
    w, b = conv.inputs[1], conv.inputs[2]
    if w is None or w.const is None:
        return "the filter is not a constant"
    if b is not None and b.const is None:
        return "the conv2d bias is not a constant"
    return Match([conv, bn])


def _rewrite(graph: Graph, m: Match) -> Value:
    conv, bn = m.nodes
    mean, var, scale, bias = (None if p is None else p.const for p in bn.inputs[1:])
    w, b = conv.inputs[1], conv.inputs[2]
    assert mean is not None and var is not None and w is not None and w.const is not None
    dtype = w.const.dtype
    s = 1.0 / np.sqrt(var.astype(np.float64) + float(bn.attributes["epsilon"]))
    if scale is not None:
        s = s * scale
    layout = str(conv.attributes["filter_layout"])
    shape = [1, 1, 1, 1]
    shape[layout.index("o")] = -1
    new_w = (w.const.astype(np.float64) * s.reshape(shape)).astype(dtype)
    old_b = np.zeros(s.shape) if b is None or b.const is None else b.const.astype(np.float64)
    new_b = (old_b - mean) * s + (0.0 if bias is None else bias.astype(np.float64))
    fused = insert_node(
        graph, bn, "conv2d",
        [conv.inputs[0], graph.add_constant(new_w), graph.add_constant(new_b.astype(dtype))],
        [conv.outputs[0].descriptor], conv.attributes,
    )
    return fused.outputs[0]


CONV_BATCHNORM = FusionRule(
    "conv2d+batchNormalization", frozenset({"batchNormalization"}), _check, _rewrite, __doc__ or ""
)
