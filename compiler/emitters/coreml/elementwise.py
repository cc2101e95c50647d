"""CoreML lowerings of the element-wise operators: arithmetic, comparisons, logical
operators, where and clamp.

WebNN's boolean (uint8) operands compute as MIL bools (see ``as_bool``); MIL's select
broadcasts only against its condition, so where and integer div tile operands to full size.
"""

from __future__ import annotations

import math

import numpy as np
from coremltools.converters.mil import Builder as mb  # noqa: N813 - the MIL idiom
from coremltools.converters.mil.mil import Var

from webnnc.compiler.emitters.coreml._core import (
    FLOATS,
    LoweringTable,
    MilContext,
    as_bool,
    as_int,
    broadcast_to,
    input_type,
    op_name,
    operand,
)
from webnnc.compiler.ir import Node

__all__ = ["LOWERINGS"]

LOWERINGS = LoweringTable()
lowers = LOWERINGS.lowers

# bool_operands: positions (inputs, then outputs) that may be uint8, WebNN's boolean
_BOOL_RESULT = frozenset({2})  # a binary op's output


_BINARY = {
    "add": mb.add, "sub": mb.sub, "mul": mb.mul, "max": mb.maximum, "min": mb.minimum,
}


@lowers(*_BINARY)
def _binary(ctx: MilContext, node: Node) -> Var:
    return _BINARY[node.op_type](x=ctx.var(operand(node, 0)), y=ctx.var(operand(node, 1)), name=op_name(ctx, node))


@lowers("div")
def _div(ctx: MilContext, node: Node) -> Var:
    a, b = ctx.var(operand(node, 0)), ctx.var(operand(node, 1))
    if input_type(node) in FLOATS:
        return mb.real_div(x=a, y=b, name=op_name(ctx, node))
    # WebNN's integer division truncates toward zero; MIL's floor_div rounds down. The two
    # differ by one when the remainder is nonzero and the operands' signs differ.
    q = mb.floor_div(x=a, y=b, name=ctx.fresh("div_floor"))
    rem = mb.sub(x=a, y=mb.mul(x=q, y=b, name=ctx.fresh("div_qb")), name=ctx.fresh("div_rem"))
    zero = np.int32(0)
    inexact = mb.not_equal(x=rem, y=zero, name=ctx.fresh("div_inexact"))
    signs = mb.logical_xor(
        x=mb.less(x=a, y=zero, name=ctx.fresh("div_a_neg")), y=mb.less(x=b, y=zero, name=ctx.fresh("div_b_neg")),
        name=ctx.fresh("div_signs"),
    )
    fix = mb.logical_and(x=inexact, y=signs, name=ctx.fresh("div_fix"))
    q1 = mb.add(x=q, y=np.int32(1), name=ctx.fresh("div_q1"))
    out = node.outputs[0].shape
    return mb.select(
        cond=broadcast_to(ctx, fix, tuple(int(d) for d in fix.shape), out),
        a=broadcast_to(ctx, q1, tuple(int(d) for d in q1.shape), out),
        b=broadcast_to(ctx, q, tuple(int(d) for d in q.shape), out),
        name=op_name(ctx, node),
    )


@lowers("pow", data_types=FLOATS)
def _pow(ctx: MilContext, node: Node) -> Var:
    return mb.pow(x=ctx.var(operand(node, 0)), y=ctx.var(operand(node, 1)), name=op_name(ctx, node))


@lowers("clamp")
def _clamp(ctx: MilContext, node: Node) -> Var:
    x = operand(node)
    dt = input_type(node)  # int64 clamps as the int32 it is carried in
    lo, hi = float(node.attributes["min_value"]), float(node.attributes["max_value"])
    if dt in FLOATS:
        finfo = np.finfo(dt.numpy_dtype)
        lo_finite, hi_finite = max(lo, float(finfo.min)), min(hi, float(finfo.max))
        if lo_finite <= hi_finite and math.isfinite(lo) and math.isfinite(hi):
            return mb.clip(
                x=ctx.var(x), alpha=dt.numpy_dtype.type(lo), beta=dt.numpy_dtype.type(hi), name=op_name(ctx, node)
            )
    else:
        info = np.iinfo(dt.numpy_dtype)
        # both bounds into the type's range: a bound beyond it on the far side (an int64
        # bound carried as int32) saturates like the values do
        lo = min(max(lo, float(info.min)), float(info.max))
        hi = max(min(hi, float(info.max)), float(info.min))
        lo, hi = float(math.ceil(lo)), float(math.floor(hi))
    # An infinite bound (the spec's default) is no bound: clip needs finite ones.
    y = ctx.var(x)
    if lo != -math.inf and not (dt.is_integer and lo <= np.iinfo(dt.numpy_dtype).min):
        y = mb.maximum(x=y, y=ctx.const(lo, dt, "lo"), name=ctx.fresh("clamp_lo"))
    if hi != math.inf and not (dt.is_integer and hi >= np.iinfo(dt.numpy_dtype).max):
        y = mb.minimum(x=y, y=ctx.const(hi, dt, "hi"), name=ctx.fresh("clamp_hi"))
    if y is ctx.var(x):
        y = mb.identity(x=y, name=op_name(ctx, node))
    return y


_COMPARE = {
    "equal": mb.equal, "notEqual": mb.not_equal, "greater": mb.greater,
    "greaterOrEqual": mb.greater_equal, "lesser": mb.less, "lesserOrEqual": mb.less_equal,
}


@lowers(*_COMPARE, bool_operands=frozenset({0, 1, 2}))
def _compare(ctx: MilContext, node: Node) -> Var:
    # uint8 operands (booleans, or uint8 values carried as int32) compare exactly as int32
    return _COMPARE[node.op_type](x=as_int(ctx, operand(node, 0)), y=as_int(ctx, operand(node, 1)), name=op_name(ctx, node))


_LOGICAL = {"logicalAnd": mb.logical_and, "logicalOr": mb.logical_or, "logicalXor": mb.logical_xor}


@lowers(*_LOGICAL, bool_operands=frozenset({0, 1, 2}))
def _logical(ctx: MilContext, node: Node) -> Var:
    return _LOGICAL[node.op_type](x=as_bool(ctx, node.inputs[0]), y=as_bool(ctx, node.inputs[1]), name=op_name(ctx, node))


@lowers("logicalNot", bool_operands=frozenset({0, 1}))
def _logical_not(ctx: MilContext, node: Node) -> Var:
    return mb.logical_not(x=as_bool(ctx, node.inputs[0]), name=op_name(ctx, node))


@lowers("where", bool_operands=frozenset({0}))
def _where(ctx: MilContext, node: Node) -> Var:
    # MIL's select broadcasts a and b against cond only; make every operand full size
    out = node.outputs[0].shape
    c, a, b = operand(node, 0), operand(node, 1), operand(node, 2)
    return mb.select(
        cond=broadcast_to(ctx, as_bool(ctx, c), c.shape, out),
        a=broadcast_to(ctx, ctx.var(a), a.shape, out),
        b=broadcast_to(ctx, ctx.var(b), b.shape, out),
        name=op_name(ctx, node),
    )
