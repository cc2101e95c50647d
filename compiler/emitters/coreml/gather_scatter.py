"""CoreML lowerings of gather and scatter: indices are clamped into range first, as the
WebNN spec asks; constant int64 / uint32 indices are converted to int32 at build time.
Boolean (uint8) data is gathered as int32 (MIL's gathers take no bool).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from coremltools.converters.mil import Builder as mb  # noqa: N813 - the MIL idiom
from coremltools.converters.mil.mil import Var

from webnnc.compiler.emitters.coreml._core import (
    LoweringTable,
    MilContext,
    as_int,
    op_name,
    operand,
)
from webnnc.compiler.ir import DataType, Node, Value

__all__ = ["LOWERINGS"]

LOWERINGS = LoweringTable()
lowers = LOWERINGS.lowers

# the integer index operand may be int64 / uint32 when it is a constant: it is clamped and
# converted to int32 at build time
_INDEX = frozenset({1})


def _index_var(ctx: MilContext, idx: Value, sizes: int | Sequence[int]) -> Var:
    """int32 indices clamped into [-size, size - 1], then made non-negative (per coordinate).

    Computed indices may be int64 (carried as int32: see ``CARRIED``)."""
    hi = np.asarray(sizes, np.int64) - 1
    lo = -np.asarray(sizes, np.int64)
    if idx.is_constant:
        assert idx.const is not None
        v = np.clip(idx.const.astype(np.int64), lo, hi)
        return ctx.const(np.where(v < 0, v + hi + 1, v).astype(np.int32), DataType.INT32, "indices")
    var = ctx.var(idx)
    var = mb.maximum(x=var, y=ctx.const(lo.astype(np.int32), DataType.INT32, "idx_lo"), name=ctx.fresh("idx_clamp_lo"))
    var = mb.minimum(x=var, y=ctx.const(hi.astype(np.int32), DataType.INT32, "idx_hi"), name=ctx.fresh("idx_clamp_hi"))
    neg = mb.less(x=var, y=np.int32(0), name=ctx.fresh("idx_neg"))
    wrapped = mb.add(x=var, y=ctx.const((hi + 1).astype(np.int32), DataType.INT32, "idx_size"), name=ctx.fresh("idx_wrap"))
    return mb.select(cond=neg, a=wrapped, b=var, name=ctx.fresh("indices"))


@lowers("gather", const_int_operands=_INDEX, moves_bool=True)
def _gather(ctx: MilContext, node: Node) -> Var:
    x, idx = operand(node, 0), operand(node, 1)
    axis = int(node.attributes["axis"])
    return mb.gather(x=as_int(ctx, x), indices=_index_var(ctx, idx, x.shape[axis]), axis=axis, name=op_name(ctx, node))


@lowers("gatherElements", const_int_operands=_INDEX, moves_bool=True)
def _gather_elements(ctx: MilContext, node: Node) -> Var:
    x, idx = operand(node, 0), operand(node, 1)
    axis = int(node.attributes["axis"])
    return mb.gather_along_axis(
        x=as_int(ctx, x), indices=_index_var(ctx, idx, x.shape[axis]), axis=axis, name=op_name(ctx, node)
    )


@lowers("gatherND", const_int_operands=_INDEX, moves_bool=True)
def _gather_nd(ctx: MilContext, node: Node) -> Var:
    x, idx = operand(node, 0), operand(node, 1)
    k = idx.shape[-1]
    return mb.gather_nd(x=as_int(ctx, x), indices=_index_var(ctx, idx, list(x.shape[:k])), name=op_name(ctx, node))


@lowers("scatterElements", const_int_operands=_INDEX)
def _scatter_elements(ctx: MilContext, node: Node) -> Var:
    x, idx, upd = operand(node, 0), operand(node, 1), operand(node, 2)
    axis = int(node.attributes["axis"])
    return mb.scatter_along_axis(
        data=ctx.var(x), indices=_index_var(ctx, idx, x.shape[axis]), updates=ctx.var(upd),
        axis=axis, mode="update", name=op_name(ctx, node),
    )


@lowers("scatterND", const_int_operands=_INDEX)
def _scatter_nd(ctx: MilContext, node: Node) -> Var:
    x, idx, upd = operand(node, 0), operand(node, 1), operand(node, 2)
    k = idx.shape[-1]
    return mb.scatter_nd(
        data=ctx.var(x), indices=_index_var(ctx, idx, list(x.shape[:k])), updates=ctx.var(upd),
        mode="update", name=op_name(ctx, node),
    )
