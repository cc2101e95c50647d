"""ONNX lowerings of the unary operators: element-wise math, isNaN / isInfinite and cast."""

from __future__ import annotations

import onnx

from webnnc.compiler.emitters.onnx._core import (
    LoweringContext,
    LoweringTable,
    cast,
    in_name,
    out_name,
)
from webnnc.compiler.ir import Node

__all__ = ["LOWERINGS"]

LOWERINGS = LoweringTable()
lowers = LOWERINGS.lowers

_UINT8 = onnx.TensorProto.UINT8


# ---------------------------------------------------------------- unary
_UNARY = {
    "abs": "Abs",
    "ceil": "Ceil",
    "cos": "Cos",
    "erf": "Erf",
    "exp": "Exp",
    "floor": "Floor",
    "log": "Log",
    "neg": "Neg",
    "reciprocal": "Reciprocal",
    "sin": "Sin",
    "sqrt": "Sqrt",
    "tan": "Tan",
    "sign": "Sign",
    "roundEven": "Round",  # ONNX Round rounds half to even
}


@lowers(*_UNARY)
def _unary(ctx: LoweringContext, node: Node) -> None:
    ctx.add(_UNARY[node.op_type], [in_name(ctx, node, 0)], [out_name(ctx, node)])


@lowers("isNaN", "isInfinite")
def _is_special(ctx: LoweringContext, node: Node) -> None:
    onnx_op = "IsNaN" if node.op_type == "isNaN" else "IsInf"
    cast(ctx, ctx.add(onnx_op, [in_name(ctx, node, 0)]), _UINT8, out_name(ctx, node))


@lowers("cast")
def _cast_op(ctx: LoweringContext, node: Node) -> None:
    cast(ctx, in_name(ctx, node, 0), node.outputs[0].data_type, out_name(ctx, node))
