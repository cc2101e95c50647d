"""ONNX lowerings of quantizeLinear / dequantizeLinear.

**Native** where ONNX's operators compute the same: 8-bit integers, a float32 scale, and one
scale per tensor or per axis (every scale dimension 1 but at most one, which equals the
input's). Then ``QuantizeLinear`` / ``DequantizeLinear`` (scale and zero point as scalars or
1-D with ``axis``) compute exactly WebNN's formulas: ``saturate(roundEven(x / scale) + zp)``
with the division in float32, and ``(x - zp) * scale`` (the difference exact, one float32
rounding). Native lowering is what lets ONNX Runtime's optimizer see the QDQ pattern of a
quantized model and run its int8 kernels (QLinearConv, QLinearMatMul, ...): spelled out, the
arithmetic of a constant weight folds to float32 and the model ran as a float one, larger
and slower (resnet50 quantized with ORT's own QDQ tool: 2.7x ORT's CPU time on the original,
and 4x the weights).

**Spelled out** elsewhere: WebNN's scale and zero point broadcast block-wise (each input
dimension a multiple of the scale's), which ONNX's QuantizeLinear only partly covers (one
blocked axis, and not every type on the CPU provider). Scale and zero point are first repeated
to the input's shape (reshape / expand / reshape, folded away for constants), then

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


_NATIVE_INTS = frozenset({DataType.INT8, DataType.UINT8})


def _native_axis(ctx: LoweringContext, node: Node, integer: int) -> int | None:
    """The ONNX ``axis`` for a native QuantizeLinear / DequantizeLinear of ``node``, -1 for one
    scale per tensor, or None when only the spelled-out form computes it (module docstring).
    ``integer`` is the index of the 8-bit operand (the input or the output)."""
    if not ctx.native_qdq:
        return None
    x, s = operand(node, 0), operand(node, 1)
    ints = node.outputs[0] if integer < 0 else operand(node, integer)
    if ints.data_type not in _NATIVE_INTS or s.data_type != DataType.FLOAT32:
        return None
    if (node.outputs[0] if integer == 0 else x).data_type != DataType.FLOAT32:
        return None
    axes = [d for d, n in enumerate(s.shape) if n != 1]
    if not axes:
        return -1
    if len(axes) == 1 and s.shape[axes[0]] == x.shape[axes[0]]:
        return axes[0]
    return None


def _native_params(ctx: LoweringContext, node: Node, axis: int) -> tuple[str, str]:
    """Scale and zero point as ONNX wants them: scalars (per tensor) or 1-D (per axis)."""
    shape = ctx.int64s([] if axis < 0 else [operand(node, 1).shape[axis]])
    # a Reshape even of constants (the optimizer folds it): the stored graph then reads the
    # IR's constants themselves, and no initializer is left unused
    return ctx.add("Reshape", [in_name(ctx, node, 1), shape]), ctx.add("Reshape", [in_name(ctx, node, 2), shape])


def _lowered_natively(ctx: LoweringContext, node: Node, op_type: str, *, integer: int) -> bool:
    """Write ``node`` as ONNX's own ``op_type`` where that computes the same; False if not."""
    axis = _native_axis(ctx, node, integer)
    if axis is None:
        return False
    ctx.native_qdq_nodes += 1
    scale, zero = _native_params(ctx, node, axis)
    ctx.add(op_type, [in_name(ctx, node, 0), scale, zero], [out_name(ctx, node)], axis=axis if axis >= 0 else None)
    return True


@lowers("dequantizeLinear")
def _dequantize(ctx: LoweringContext, node: Node) -> None:
    if _lowered_natively(ctx, node, "DequantizeLinear", integer=0):
        return
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
    if _lowered_natively(ctx, node, "QuantizeLinear", integer=-1):
        return
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
