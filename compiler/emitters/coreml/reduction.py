"""CoreML lowerings of the reductions, argMax / argMin and cumulativeSum.
"""

from __future__ import annotations

from collections.abc import Callable

from coremltools.converters.mil import Builder as mb  # noqa: N813 - the MIL idiom
from coremltools.converters.mil.mil import Var

from webnnc.compiler.emitters.coreml._core import (
    FLOATS,
    LoweringTable,
    MilContext,
    input_type,
    op_name,
    operand,
)
from webnnc.compiler.ir import DataType, Node

__all__ = ["LOWERINGS"]

LOWERINGS = LoweringTable()
lowers = LOWERINGS.lowers


@lowers("reduceMean", data_types=FLOATS)
def _reduce_mean(ctx: MilContext, node: Node) -> Var:
    axes = [int(x) for x in node.attributes["axes"]]
    if not axes:  # the spec's empty axes reduce nothing
        return mb.identity(x=ctx.var(operand(node)), name=op_name(ctx, node))
    return mb.reduce_mean(
        x=ctx.var(operand(node)), axes=axes, keep_dims=bool(node.attributes["keep_dimensions"]), name=op_name(ctx, node)
    )


_REDUCE: dict[str, tuple[Callable[..., Var], Callable[..., Var] | None]] = {
    # op -> (MIL reduction, what an empty axes list leaves: the element-wise part, or None)
    "reduceSum": (mb.reduce_sum, None),
    "reduceMax": (mb.reduce_max, None),
    "reduceMin": (mb.reduce_min, None),
    "reduceProduct": (mb.reduce_prod, None),
    "reduceL1": (mb.reduce_l1_norm, mb.abs),
    "reduceL2": (mb.reduce_l2_norm, mb.abs),
    "reduceLogSum": (mb.reduce_log_sum, mb.log),
    "reduceLogSumExp": (mb.reduce_log_sum_exp, None),
    "reduceSumSquare": (mb.reduce_sum_square, mb.square),
}


@lowers("reduceSum", "reduceMax", "reduceMin", "reduceProduct", "reduceL1", "reduceSumSquare")
@lowers("reduceL2", "reduceLogSum", "reduceLogSumExp", data_types=FLOATS)
def _reduce(ctx: MilContext, node: Node) -> Var:
    axes = [int(a) for a in node.attributes["axes"]]
    reduce, elementwise = _REDUCE[node.op_type]
    x = ctx.var(operand(node))
    if input_type(node) == DataType.INT32 and node.op_type in ("reduceL1", "reduceSumSquare"):
        # MIL's norm reductions are float-only: sum |x| or x * x in int32 instead
        if node.op_type == "reduceL1":
            x = mb.abs(x=x, name=ctx.fresh("l1_abs"))
        else:
            x = mb.mul(x=x, y=x, name=ctx.fresh("sum_square"))
        if not axes:
            return mb.identity(x=x, name=op_name(ctx, node))
        return mb.reduce_sum(x=x, axes=axes, keep_dims=bool(node.attributes["keep_dimensions"]), name=op_name(ctx, node))
    if not axes:  # the spec's empty axes reduce nothing; the element-wise part remains
        if elementwise is None:
            return mb.identity(x=x, name=op_name(ctx, node))
        if elementwise is mb.log:
            return mb.log(x=x, epsilon=input_type(node).numpy_dtype.type(0), name=op_name(ctx, node))
        return elementwise(x=x, name=op_name(ctx, node))
    return reduce(x=x, axes=axes, keep_dims=bool(node.attributes["keep_dimensions"]), name=op_name(ctx, node))


@lowers("argMax", "argMin")
def _arg_reduce(ctx: MilContext, node: Node) -> Var:
    fn = mb.reduce_argmax if node.op_type == "argMax" else mb.reduce_argmin
    return fn(
        x=ctx.var(operand(node)), axis=int(node.attributes["axis"]),
        keep_dims=bool(node.attributes["keep_dimensions"]), name=op_name(ctx, node),
    )


@lowers("cumulativeSum")
def _cumulative_sum(ctx: MilContext, node: Node) -> Var:
    a = node.attributes
    return mb.cumsum(
        x=ctx.var(operand(node)), axis=int(a["axis"]), exclusive=bool(a["exclusive"]),
        reverse=bool(a["reversed"]), name=op_name(ctx, node),
    )
