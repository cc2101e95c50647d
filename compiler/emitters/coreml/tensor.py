"""CoreML lowerings of the shape and layout operators (reshape ... identity).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from coremltools.converters.mil import Builder as mb  # noqa: N813 - the MIL idiom
from coremltools.converters.mil.mil import Var

from webnnc.compiler.emitters.coreml._core import (
    FLOATS,
    LoweringTable,
    MilContext,
    as_int,
    op_name,
    operand,
)
from webnnc.compiler.emitters.coreml._rank import merge_transpose
from webnnc.compiler.ir import Node

__all__ = ["LOWERINGS"]

LOWERINGS = LoweringTable()
lowers = LOWERINGS.lowers


@lowers("reshape", moves_bool=True)
def _reshape(ctx: MilContext, node: Node) -> Var:
    # a rank > 5 result is produced in its lower-rank view (see _rank): same element order
    shape = np.asarray(ctx.shape_of(node.outputs[0]), np.int32).reshape(-1)  # int32 even when empty
    return mb.reshape(x=ctx.var(operand(node)), shape=shape, name=op_name(ctx, node))


@lowers("transpose", moves_bool=True)
def _transpose(ctx: MilContext, node: Node) -> Var:
    x, y = operand(node), node.outputs[0]
    perm = [int(a) for a in node.attributes["permutation"]]
    if not perm:  # a scalar: nothing to permute
        return mb.identity(x=ctx.var(x), name=op_name(ctx, node))
    if id(x) not in ctx.views and id(y) not in ctx.views:
        return mb.transpose(x=ctx.var(x), perm=np.asarray(perm, np.int32), name=op_name(ctx, node))
    # rank > 5: permute the groups of dimensions that stay adjacent, then take the result's view
    in_shape, group_perm, out_shape = merge_transpose(x.shape, perm)
    var = ctx.var(x)
    if tuple(int(d) for d in var.shape) != in_shape:
        var = mb.reshape(x=var, shape=np.asarray(in_shape, np.int32), name=ctx.fresh("groups"))
    var = mb.transpose(x=var, perm=np.asarray(group_perm, np.int32), name=ctx.fresh("group_transpose"))
    shape = ctx.shape_of(y)
    if shape == out_shape:
        return mb.identity(x=var, name=op_name(ctx, node))
    return mb.reshape(x=var, shape=np.asarray(shape, np.int32), name=op_name(ctx, node))


@lowers("concat", moves_bool=True)
def _concat(ctx: MilContext, node: Node) -> Var:
    values = [ctx.var(v) for v in node.inputs]
    if len({v.dtype for v in values}) > 1:  # booleans: MIL bools next to int32 constants
        values = [as_int(ctx, v) for v in node.inputs]
    if len(values) == 1:
        return mb.identity(x=values[0], name=op_name(ctx, node))
    return mb.concat(values=values, axis=int(node.attributes["axis"]), name=op_name(ctx, node))


@lowers("identity", moves_bool=True)
def _identity(ctx: MilContext, node: Node) -> Var:
    return mb.identity(x=ctx.var(operand(node)), name=op_name(ctx, node))


@lowers("expand", moves_bool=True)
def _expand(ctx: MilContext, node: Node) -> Var:
    x = operand(node)
    out = node.outputs[0].shape
    var = ctx.var(x)
    if x.rank < len(out):
        padded = (1,) * (len(out) - x.rank) + x.shape
        var = mb.reshape(x=var, shape=np.asarray(padded, np.int32), name=ctx.fresh("expand_rank"))
    else:
        padded = x.shape
    reps = [o // i for o, i in zip(out, padded, strict=True)]
    if not out or all(r == 1 for r in reps):
        return mb.identity(x=var, name=op_name(ctx, node))
    return mb.tile(x=var, reps=reps, name=op_name(ctx, node))


_PAD_MODES = {"constant": "constant", "edge": "replicate", "reflection": "reflect"}


def _slice_axis(ctx: MilContext, var: Var, shape: list[int], d: int, lo: int, hi: int) -> Var:
    begin, stop = [0] * len(shape), list(shape)
    begin[d], stop[d] = lo, hi
    return mb.slice_by_index(x=var, begin=np.asarray(begin, np.int32), end=np.asarray(stop, np.int32),
                             name=ctx.fresh("pad_slice"))


def _pad_block(ctx: MilContext, node: Node, var: Var, shape: list[int], d: int, n: int, before: bool) -> Var:
    """The ``n`` cells added before (or after) dimension ``d`` in the node's padding mode."""
    x = operand(node)
    mode = str(node.attributes["mode"])
    size = shape[d]
    if mode == "constant":
        block = [*shape[:d], n, *shape[d + 1 :]]
        return ctx.const(np.full(block, float(node.attributes["value"])), x.data_type, "pad_fill")
    if mode == "edge":
        edge = _slice_axis(ctx, var, shape, d, 0, 1) if before else _slice_axis(ctx, var, shape, d, size - 1, size)
        reps = [1] * len(shape)
        reps[d] = n
        return mb.tile(x=edge, reps=reps, name=ctx.fresh("pad_edge")) if n > 1 else edge
    # reflection mirrors around the edge element, symmetric includes it
    skip = 1 if mode == "reflection" else 0
    part = _slice_axis(ctx, var, shape, d, skip, skip + n) if before else _slice_axis(ctx, var, shape, d, size - skip - n, size - skip)
    return mb.reverse(x=part, axes=[d], name=ctx.fresh("pad_mirror"))


def _pad_by_concat(ctx: MilContext, node: Node, begin: list[int], end: list[int]) -> Var:
    """Padding as concatenation, one dimension at a time: any data type, axis and mode."""
    x = operand(node)
    var = ctx.var(x)
    shape = list(x.shape)
    for d in range(x.rank):
        if not (begin[d] or end[d]):
            continue
        parts = []
        if begin[d]:
            parts.append(_pad_block(ctx, node, var, shape, d, begin[d], before=True))
        parts.append(var)
        if end[d]:
            parts.append(_pad_block(ctx, node, var, shape, d, end[d], before=False))
        var = mb.concat(values=parts, axis=d, name=ctx.fresh("pad_axis"))
        shape[d] += begin[d] + end[d]
    return var


@lowers("pad")
def _pad(ctx: MilContext, node: Node) -> Var:
    a = node.attributes
    x = operand(node)
    mode = str(a["mode"])
    begin, end = [int(v) for v in a["beginning_padding"]], [int(v) for v in a["ending_padding"]]
    pads = [p for pair in zip(begin, end, strict=True) for p in pair]
    if not any(pads):
        return mb.identity(x=ctx.var(x), name=op_name(ctx, node))
    # MIL's pad is float-only, has no symmetric mode, and pads only the last two dimensions
    # outside constant mode; everything else is built from slices and concatenation.
    if (
        x.data_type not in FLOATS
        or mode not in _PAD_MODES
        or (mode != "constant" and any(pads[: 2 * max(x.rank - 2, 0)]))
    ):
        return _pad_by_concat(ctx, node, begin, end)
    kwargs: dict[str, Any] = {}
    if mode == "constant":
        kwargs["constant_val"] = x.data_type.numpy_dtype.type(float(a["value"]))
    return mb.pad(x=ctx.var(x), pad=np.asarray(pads, np.int32), mode=_PAD_MODES[mode], name=op_name(ctx, node), **kwargs)


@lowers("reverse", moves_bool=True)
def _reverse(ctx: MilContext, node: Node) -> Var:
    axes = [int(a) for a in node.attributes["axes"]]
    if not axes:
        return mb.identity(x=ctx.var(operand(node)), name=op_name(ctx, node))
    return mb.reverse(x=ctx.var(operand(node)), axes=axes, name=op_name(ctx, node))


@lowers("slice", moves_bool=True)
def _slice(ctx: MilContext, node: Node) -> Var:
    a = node.attributes
    starts, sizes = [int(v) for v in a["starts"]], [int(v) for v in a["sizes"]]
    if not starts:
        return mb.identity(x=ctx.var(operand(node)), name=op_name(ctx, node))
    return mb.slice_by_index(
        x=ctx.var(operand(node)),
        begin=np.asarray(starts, np.int32),
        end=np.asarray([s + n for s, n in zip(starts, sizes, strict=True)], np.int32),
        stride=np.asarray([int(v) for v in a["strides"]], np.int32),
        name=op_name(ctx, node),
    )


@lowers("split", moves_bool=True)
def _split(ctx: MilContext, node: Node) -> Sequence[Var]:
    sizes = [int(v) for v in node.attributes["splits"]]
    x = ctx.var(operand(node))
    if len(sizes) == 1:
        return [mb.identity(x=x, name=op_name(ctx, node))]
    out = mb.split(x=x, split_sizes=np.asarray(sizes, np.int32), axis=int(node.attributes["axis"]), name=op_name(ctx, node))
    return list(out)


@lowers("tile", moves_bool=True)
def _tile(ctx: MilContext, node: Node) -> Var:
    reps = [int(r) for r in node.attributes["repetitions"]]
    if not reps or all(r == 1 for r in reps):
        return mb.identity(x=ctx.var(operand(node)), name=op_name(ctx, node))
    return mb.tile(x=ctx.var(operand(node)), reps=reps, name=op_name(ctx, node))


@lowers("triangular")
def _triangular(ctx: MilContext, node: Node) -> Var:
    x = operand(node)
    if x.rank < 2:
        return mb.identity(x=ctx.var(x), name=op_name(ctx, node))
    rows, cols = x.shape[-2:]
    k = int(node.attributes["diagonal"])
    keep = np.triu(np.ones([rows, cols], bool), k) if node.attributes["upper"] else np.tril(np.ones([rows, cols], bool), k)
    return mb.select(
        cond=mb.const(val=keep, name=ctx.fresh("triangle")),
        a=ctx.var(x),
        b=ctx.const(0, x.data_type, "zero"),
        name=op_name(ctx, node),
    )
