"""ONNX lowerings of gather and scatter: indices are clamped into range first, as the
WebNN spec asks (ONNX would reject an out-of-range index at run time)."""

from __future__ import annotations

import numpy as np

from webnnc.compiler.emitters.onnx._core import (
    ONNX_TYPES,
    LoweringContext,
    LoweringTable,
    in_name,
    operand,
    out_name,
)
from webnnc.compiler.ir import DataType, Node, Value

__all__ = ["LOWERINGS"]

LOWERINGS = LoweringTable()
lowers = LOWERINGS.lowers

def _clamped_indices(ctx: LoweringContext, idx: Value, sizes: list[int] | int) -> str:
    """int64 indices clamped into ``[-size, size - 1]`` per coordinate (the spec clamps out-of-range indices)."""
    name = ctx.name(idx)
    if idx.data_type != DataType.INT64:
        name = ctx.add("Cast", [name], to=ONNX_TYPES[DataType.INT64])
    if isinstance(sizes, int):
        lo = ctx.const(np.asarray(-sizes, np.int64), "lo")
        hi = ctx.const(np.asarray(sizes - 1, np.int64), "hi")
        return ctx.add("Clip", [name, lo, hi])
    dims = np.asarray(sizes, np.int64)
    name = ctx.add("Max", [name, ctx.const(-dims, "lo")])
    return ctx.add("Min", [name, ctx.const(dims - 1, "hi")])


@lowers("gather", "gatherElements", "scatterElements")
def _gather_axis(ctx: LoweringContext, node: Node) -> None:
    x, idx = operand(node, 0), operand(node, 1)
    axis = int(node.attributes["axis"])
    inputs = [ctx.name(x), _clamped_indices(ctx, idx, x.shape[axis])]
    if node.op_type == "scatterElements":
        inputs.append(in_name(ctx, node, 2))
    onnx_op = {"gather": "Gather", "gatherElements": "GatherElements", "scatterElements": "ScatterElements"}
    ctx.add(onnx_op[node.op_type], inputs, [out_name(ctx, node)], axis=axis)


@lowers("gatherND", "scatterND")
def _gather_nd(ctx: LoweringContext, node: Node) -> None:
    x, idx = operand(node, 0), operand(node, 1)
    k = idx.shape[-1]
    inputs = [ctx.name(x), _clamped_indices(ctx, idx, list(x.shape[:k]))]
    if node.op_type == "scatterND":
        inputs.append(in_name(ctx, node, 2))
    ctx.add("GatherND" if node.op_type == "gatherND" else "ScatterND", inputs, [out_name(ctx, node)])
