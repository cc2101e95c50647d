"""CoreML lowerings of the unary operators: element-wise math, isNaN / isInfinite and cast.

Where MIL's op adds an epsilon the spec does not (log, inverse), the lowering passes zero
or spells the formula out.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from coremltools.converters.mil import Builder as mb  # noqa: N813 - the MIL idiom
from coremltools.converters.mil.mil import Var, types

from webnnc.compiler.emitters.coreml._core import (
    FLOATS,
    MIL_DTYPE_NAMES,
    LoweringTable,
    MilContext,
    input_type,
    op_name,
    operand,
)
from webnnc.compiler.ir import Node

__all__ = ["LOWERINGS"]

LOWERINGS = LoweringTable()
lowers = LOWERINGS.lowers

# bool_operands: positions (inputs, then outputs) that may be uint8, WebNN's boolean
_BOOL_RESULT = frozenset({1})  # a unary op's output


_UNARY = {"exp": mb.exp, "sqrt": mb.sqrt}


@lowers(*_UNARY, data_types=FLOATS)
def _unary(ctx: MilContext, node: Node) -> Var:
    return _UNARY[node.op_type](x=ctx.var(operand(node)), name=op_name(ctx, node))


_UNARY_FLOAT: dict[str, Callable[..., Var]] = {
    "ceil": mb.ceil, "floor": mb.floor, "cos": mb.cos, "sin": mb.sin, "tan": mb.tan, "erf": mb.erf,
    "roundEven": mb.round,  # MIL rounds half to even ("0.5 is rounded to 0")
}


@lowers(*_UNARY_FLOAT, data_types=FLOATS)
def _unary_float(ctx: MilContext, node: Node) -> Var:
    return _UNARY_FLOAT[node.op_type](x=ctx.var(operand(node)), name=op_name(ctx, node))


@lowers("abs")
def _abs(ctx: MilContext, node: Node) -> Var:
    return mb.abs(x=ctx.var(operand(node)), name=op_name(ctx, node))


@lowers("neg")
def _neg(ctx: MilContext, node: Node) -> Var:
    # MIL has no negation op; multiplying by -1 keeps the sign of zero (neg(0) is -0).
    x = operand(node)
    return mb.mul(x=ctx.var(x), y=ctx.const(-1, x.data_type, "minus_one"), name=op_name(ctx, node))


@lowers("log", data_types=FLOATS)
def _log(ctx: MilContext, node: Node) -> Var:
    # MIL's log adds epsilon (default 1e-45); WebNN's log(0) is -inf
    return mb.log(x=ctx.var(operand(node)), epsilon=input_type(node).numpy_dtype.type(0), name=op_name(ctx, node))


@lowers("reciprocal", data_types=FLOATS)
def _reciprocal(ctx: MilContext, node: Node) -> Var:
    # not MIL's inverse: it adds epsilon (default 1e-4) to the denominator
    return mb.real_div(x=ctx.const(1, input_type(node), "one"), y=ctx.var(operand(node)), name=op_name(ctx, node))


@lowers("sign")
def _sign(ctx: MilContext, node: Node) -> Var:
    return mb.sign(x=ctx.var(operand(node)), name=op_name(ctx, node))


@lowers("cast", bool_operands=frozenset({0}))  # from a boolean; casting *to* uint8 is not expressible
def _cast(ctx: MilContext, node: Node) -> Var:
    to = node.outputs[0].data_type
    x = ctx.var(operand(node))
    if MIL_DTYPE_NAMES[to] == types.builtin_to_string(x.dtype):  # int64 <-> int32: both int32 here
        return mb.identity(x=x, name=op_name(ctx, node))
    return mb.cast(x=x, dtype=MIL_DTYPE_NAMES[to], name=op_name(ctx, node))


@lowers("isNaN", data_types=FLOATS, bool_operands=_BOOL_RESULT)
def _is_nan(ctx: MilContext, node: Node) -> Var:
    x = ctx.var(operand(node))
    return mb.not_equal(x=x, y=x, name=op_name(ctx, node))  # only NaN differs from itself


@lowers("isInfinite", data_types=FLOATS, bool_operands=_BOOL_RESULT)
def _is_infinite(ctx: MilContext, node: Node) -> Var:
    a = mb.abs(x=ctx.var(operand(node)), name=ctx.fresh("abs"))
    return mb.equal(x=a, y=ctx.const(np.inf, input_type(node), "inf"), name=op_name(ctx, node))
