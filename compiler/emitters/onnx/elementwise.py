"""ONNX lowerings of the element-wise operators: arithmetic, comparisons, logical operators,
where and clamp (unary math lives in ``unary``, activations in ``activation``).

Where ONNX Runtime's CPU provider lacks a kernel for a data type the support table promises
(``webnnc.compiler.ops``), the lowering computes in a type it has, exactly:
uint64 selects through a bit-preserving int64 view. Comparisons and logical operators produce ONNX booleans, cast to WebNN's uint8.
"""

from __future__ import annotations

import math

import numpy as np
import onnx

from webnnc.compiler.emitters.onnx._core import (
    LoweringContext,
    LoweringTable,
    cast,
    in_name,
    operand,
    out_name,
)
from webnnc.compiler.ir import DataType, Node

__all__ = ["LOWERINGS"]

LOWERINGS = LoweringTable()
lowers = LOWERINGS.lowers

_BOOL = onnx.TensorProto.BOOL
_UINT8 = onnx.TensorProto.UINT8


# ---------------------------------------------------------------- arithmetic
_BINARY = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "max": "Max", "min": "Min", "pow": "Pow"}


_NATIVE_POW = frozenset({DataType.FLOAT32, DataType.FLOAT16, DataType.INT32, DataType.INT64})


@lowers(*_BINARY)
def _binary(ctx: LoweringContext, node: Node) -> None:
    a, b = in_name(ctx, node, 0), in_name(ctx, node, 1)
    dt = operand(node).data_type
    if node.op_type == "pow" and dt not in _NATIVE_POW:
        # int8 / uint8 / uint32 have no Pow kernel: compute in int64, wrap back on the cast
        wide = ctx.add("Pow", [cast(ctx, a, DataType.INT64), cast(ctx, b, DataType.INT64)])
        cast(ctx, wide, dt, out_name(ctx, node))
        return
    ctx.add(_BINARY[node.op_type], [a, b], [out_name(ctx, node)])


# ---------------------------------------------------------------- comparisons, logical
_COMPARE = {
    "equal": "Equal",
    "greater": "Greater",
    "greaterOrEqual": "GreaterOrEqual",
    "lesser": "Less",
    "lesserOrEqual": "LessOrEqual",
}


@lowers(*_COMPARE, "notEqual")
def _compare(ctx: LoweringContext, node: Node) -> None:
    a, b = in_name(ctx, node, 0), in_name(ctx, node, 1)
    if node.op_type == "notEqual":
        result = ctx.add("Not", [ctx.add("Equal", [a, b])])
    else:
        result = ctx.add(_COMPARE[node.op_type], [a, b])
    cast(ctx, result, _UINT8, out_name(ctx, node))


_LOGICAL = {"logicalAnd": "And", "logicalOr": "Or", "logicalXor": "Xor"}


@lowers(*_LOGICAL)
def _logical(ctx: LoweringContext, node: Node) -> None:
    a = cast(ctx, in_name(ctx, node, 0), _BOOL)
    b = cast(ctx, in_name(ctx, node, 1), _BOOL)
    cast(ctx, ctx.add(_LOGICAL[node.op_type], [a, b]), _UINT8, out_name(ctx, node))


@lowers("logicalNot")
def _logical_not(ctx: LoweringContext, node: Node) -> None:
    a = cast(ctx, in_name(ctx, node, 0), _BOOL)
    cast(ctx, ctx.add("Not", [a]), _UINT8, out_name(ctx, node))


@lowers("where")
def _where(ctx: LoweringContext, node: Node) -> None:
    cond = cast(ctx, in_name(ctx, node, 0), _BOOL)
    t, f = in_name(ctx, node, 1), in_name(ctx, node, 2)
    if node.outputs[0].data_type == DataType.UINT64:  # no uint64 Where kernel: select int64 bits
        t, f = cast(ctx, t, DataType.INT64), cast(ctx, f, DataType.INT64)
        cast(ctx, ctx.add("Where", [cond, t, f]), DataType.UINT64, out_name(ctx, node))
        return
    ctx.add("Where", [cond, t, f], [out_name(ctx, node)])


def _int_bound(value: float | int, dt: DataType) -> int:
    """A clamp bound saturated to integer type ``dt``. The builder already stores exact ints;
    a clamp made by a pass may carry float bounds (+-inf)."""
    info = np.iinfo(dt.numpy_dtype)
    if isinstance(value, float):
        value = math.trunc(min(max(value, -(2.0**64)), 2.0**64))
    return int(min(max(int(value), int(info.min)), int(info.max)))


@lowers("clamp")
def _clamp(ctx: LoweringContext, node: Node) -> None:
    dt = operand(node).data_type
    lo, hi = node.attributes["min_value"], node.attributes["max_value"]
    if dt.is_integer:
        lo, hi = _int_bound(lo, dt), _int_bound(hi, dt)
    lo_name = ctx.const(np.asarray(lo, dtype=dt.numpy_dtype), "min")
    hi_name = ctx.const(np.asarray(hi, dtype=dt.numpy_dtype), "max")
    ctx.add("Clip", [in_name(ctx, node, 0), lo_name, hi_name], [out_name(ctx, node)])
