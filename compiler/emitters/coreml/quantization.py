"""CoreML lowerings of quantizeLinear / dequantizeLinear.

Scale and zero point must be constants (repeated block-wise at build time); quantized
weights are dequantized at build time, and narrow integers of a QDQ pair travel as int32.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from coremltools.converters.mil import Builder as mb  # noqa: N813 - the MIL idiom
from coremltools.converters.mil.mil import Var

from webnnc.compiler.emitters.coreml._core import (
    FLOATS,
    MIL_DTYPE_NAMES,
    NARROW_INTS,
    LoweringTable,
    MilContext,
    op_name,
    operand,
    qdq_carrier,
    unsupported,
)
from webnnc.compiler.ir import DataType, Node, Value

__all__ = ["LOWERINGS"]

LOWERINGS = LoweringTable()
lowers = LOWERINGS.lowers


def _blockwise(v: Value, shape: tuple[int, ...]) -> np.ndarray[Any, Any]:
    """A constant scale / zero point repeated block-wise up to the input's shape."""
    assert v.const is not None
    arr = np.asarray(v.const)
    for d, (n, k) in enumerate(zip(shape, arr.shape, strict=True)):
        if k != n:
            arr = np.repeat(arr, n // k, axis=d)
    return arr


@lowers("dequantizeLinear", const_int_operands=frozenset({0, 2}))  # quantized weights, zero point
def _dequantize_linear(ctx: MilContext, node: Node) -> Var:
    x, scale, zero = operand(node, 0), operand(node, 1), operand(node, 2)
    out_dt = node.outputs[0].data_type
    if not (scale.is_constant and zero.is_constant):
        raise unsupported(node, "only constant scale and zeroPoint are lowered (block-wise repeat at build time)")
    s, z = _blockwise(scale, x.shape), _blockwise(zero, x.shape).astype(np.int64)
    if x.is_constant:  # quantized weights: dequantize now
        assert x.const is not None
        return ctx.const(((x.const.astype(np.int64) - z) * s.astype(np.float64)), out_dt, "dequantized")
    # int32 input: the difference is exact in int32, then one multiply in the scale's type
    diff = mb.sub(x=ctx.var(x), y=ctx.const(z, DataType.INT32, "zero_point"), name=ctx.fresh("dq_diff"))
    as_float = mb.cast(x=diff, dtype=MIL_DTYPE_NAMES[out_dt], name=ctx.fresh("dq_cast"))
    return mb.mul(x=as_float, y=ctx.const(s, out_dt, "scale"), name=op_name(ctx, node))


@lowers("quantizeLinear", data_types=FLOATS, const_int_operands=frozenset({2}))
def _quantize_linear(ctx: MilContext, node: Node) -> Var:
    x, scale, zero = operand(node, 0), operand(node, 1), operand(node, 2)
    out_dt = node.outputs[0].data_type
    if out_dt != DataType.INT32 and not qdq_carrier(node.outputs[0]):
        raise unsupported(
            node, f"a {out_dt.value} result has no CoreML tensor type",
            "lowered only when every use is a dequantizeLinear (a QDQ pair) or for int32",
        )
    if not (scale.is_constant and zero.is_constant):
        raise unsupported(node, "only constant scale and zeroPoint are lowered (block-wise repeat at build time)")
    lo, hi = NARROW_INTS.get(out_dt, (-(2.0**31), 2.0**31 - 128))  # int32: what float32 holds
    # saturate(roundEven(x / scale) + zero_point) in float32, then cast to int32 (narrow
    # types of a QDQ pair travel as int32 with their own range)
    xf = ctx.var(x)
    if x.data_type != DataType.FLOAT32:
        xf = mb.cast(x=xf, dtype="fp32", name=ctx.fresh("q_fp32"))
    q = mb.round(x=mb.real_div(x=xf, y=ctx.const(_blockwise(scale, x.shape), DataType.FLOAT32, "scale"),
                               name=ctx.fresh("q_div")), name=ctx.fresh("q_round"))
    q = mb.add(x=q, y=ctx.const(_blockwise(zero, x.shape), DataType.FLOAT32, "zero_point"), name=ctx.fresh("q_zp"))
    q = mb.clip(x=q, alpha=np.float32(lo), beta=np.float32(hi), name=ctx.fresh("q_sat"))
    return mb.cast(x=q, dtype="int32", name=op_name(ctx, node))
