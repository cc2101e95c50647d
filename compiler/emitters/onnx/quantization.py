"""ONNX lowerings of quantizeLinear / dequantizeLinear.

WebNN's scale and zero point broadcast block-wise (each input dimension a multiple of the
scale's), which ONNX's QuantizeLinear only partly covers (one blocked axis, and not every
type on the CPU provider). So the lowering spells the arithmetic out: scale and zero point
are first repeated to the input's shape (reshape / expand / reshape, folded away for
constants), then

- dequantize: ``(float(x) - float(zero_point)) * scale`` in float32 (float64 for int32
  inputs), rounded once to the scale's type;
- quantize: ``clip(roundEven(x / scale) + zero_point, qmin, qmax)``, the division in
  float32, the addition and saturation in float64 (exact for int32 zero points), then cast.
"""

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
from webnnc.compiler.ir import DataType, Node

__all__ = ["LOWERINGS"]

LOWERINGS = LoweringTable()
lowers = LOWERINGS.lowers

_F32 = ONNX_TYPES[DataType.FLOAT32]
_F64 = 11  # onnx.TensorProto.DOUBLE: an internal intermediate only
_QRANGE: dict[DataType, tuple[int, int]] = {
    DataType.INT4: (-8, 7),
    DataType.UINT4: (0, 15),
    DataType.INT8: (-128, 127),
    DataType.UINT8: (0, 255),
    DataType.INT32: (-(2**31), 2**31 - 1),
}



def _blockwise(ctx: LoweringContext, name: str, shape: tuple[int, ...], target: tuple[int, ...]) -> str:
    """Repeat each element of a ``shape`` tensor into blocks so it has shape ``target``."""
    blocks = [t // s for s, t in zip(shape, target, strict=True)]
    if all(b == 1 for b in blocks) or all(s == 1 for s in shape):
        return name  # plain broadcasting does it
    interleaved = [d for s in shape for d in (s, 1)]
    expanded = [d for s, b in zip(shape, blocks, strict=True) for d in (s, b)]
    x = ctx.add("Reshape", [name, ctx.int64s(interleaved)])
    x = ctx.add("Expand", [x, ctx.int64s(expanded)])
    return ctx.add("Reshape", [x, ctx.int64s(list(target))])


def _operands(ctx: LoweringContext, node: Node, zero_type: int) -> tuple[str, str, str]:
    """Input, scale and zero point (cast to ``zero_type``: int4 has no Expand kernel)."""
    x = operand(node, 0)
    s, z = operand(node, 1), operand(node, 2)
    scale = _blockwise(ctx, in_name(ctx, node, 1), s.shape, x.shape)
    zero = ctx.add("Cast", [in_name(ctx, node, 2)], to=zero_type)
    zero = _blockwise(ctx, zero, z.shape, x.shape)
    return in_name(ctx, node, 0), scale, zero


@lowers("dequantizeLinear")
def _dequantize(ctx: LoweringContext, node: Node) -> None:
    # int32 values need more bits than float32 has: they compute in float64
    wide = _F64 if operand(node, 0).data_type == DataType.INT32 else _F32
    x, scale, zero = _operands(ctx, node, wide)
    out_type = node.outputs[0].data_type
    centered = ctx.add("Sub", [ctx.add("Cast", [x], to=wide), zero])
    if wide == _F64:
        y = ctx.add("Mul", [centered, ctx.add("Cast", [scale], to=_F64)])
        ctx.add("Cast", [y], [out_name(ctx, node)], to=ONNX_TYPES[out_type])
        return
    if out_type == DataType.FLOAT32:
        ctx.add("Mul", [centered, scale], [out_name(ctx, node)])
        return
    y = ctx.add("Mul", [centered, ctx.add("Cast", [scale], to=_F32)])
    ctx.add("Cast", [y], [out_name(ctx, node)], to=ONNX_TYPES[out_type])


@lowers("quantizeLinear")
def _quantize(ctx: LoweringContext, node: Node) -> None:
    x, scale, zero = _operands(ctx, node, _F64)
    out_type = node.outputs[0].data_type
    if operand(node, 0).data_type != DataType.FLOAT32:
        x = ctx.add("Cast", [x], to=_F32)
        scale = ctx.add("Cast", [scale], to=_F32)
    rounded = ctx.add("Round", [ctx.add("Div", [x, scale])])
    shifted = ctx.add("Add", [ctx.add("Cast", [rounded], to=_F64), zero])
    lo, hi = _QRANGE[out_type]
    clipped = ctx.add(
        "Clip",
        [shifted, ctx.const(np.asarray(lo, np.float64), "qmin"), ctx.const(np.asarray(hi, np.float64), "qmax")],
    )
    ctx.add("Cast", [clipped], [out_name(ctx, node)], to=ONNX_TYPES[out_type])
