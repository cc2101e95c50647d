"""ONNX lowerings of the shape and layout operators (reshape ... identity)."""

from __future__ import annotations

import numpy as np

from webnnc.compiler.emitters.onnx._core import (
    LoweringContext,
    LoweringTable,
    in_name,
    operand,
    out_name,
)
from webnnc.compiler.ir import DataType, Node, Value

__all__ = ["LOWERINGS"]

LOWERINGS = LoweringTable()
lowers = LOWERINGS.lowers

_INT64_MIN = np.iinfo(np.int64).min
# Types ONNX Runtime's CPU Trilu kernel takes; the other integer types use a 0/1 mask
# product, which is exact for integers (floats need Trilu: 0 * inf would be NaN).
_TRILU_TYPES = frozenset({DataType.FLOAT32, DataType.FLOAT16, DataType.INT32, DataType.INT64})



@lowers("reshape")
def _reshape(ctx: LoweringContext, node: Node) -> None:
    ctx.add("Reshape", [in_name(ctx, node, 0), ctx.int64s(node.outputs[0].shape)], [out_name(ctx, node)])


@lowers("identity")
def _identity(ctx: LoweringContext, node: Node) -> None:
    ctx.add("Identity", [in_name(ctx, node, 0)], [out_name(ctx, node)])


@lowers("transpose")
def _transpose(ctx: LoweringContext, node: Node) -> None:
    perm = list(node.attributes["permutation"])
    if not perm:  # a scalar: onnx cannot even spell an empty perm attribute
        ctx.add("Identity", [in_name(ctx, node, 0)], [out_name(ctx, node)])
        return
    ctx.add("Transpose", [in_name(ctx, node, 0)], [out_name(ctx, node)], perm=perm)


@lowers("concat")
def _concat(ctx: LoweringContext, node: Node) -> None:
    ctx.add("Concat", [ctx.name(v) for v in node.inputs], [out_name(ctx, node)], axis=int(node.attributes["axis"]))


@lowers("expand")
def _expand(ctx: LoweringContext, node: Node) -> None:
    ctx.add("Expand", [in_name(ctx, node, 0), ctx.int64s(node.outputs[0].shape)], [out_name(ctx, node)])


@lowers("tile")
def _tile(ctx: LoweringContext, node: Node) -> None:
    reps = list(node.attributes["repetitions"])
    if not reps:
        ctx.add("Identity", [in_name(ctx, node, 0)], [out_name(ctx, node)])
        return
    ctx.add("Tile", [in_name(ctx, node, 0), ctx.int64s(reps, "reps")], [out_name(ctx, node)])


def _slice(
    ctx: LoweringContext,
    x: str,
    starts: list[int],
    ends: list[int],
    axes: list[int],
    steps: list[int] | None = None,
    out: str | None = None,
) -> str:
    inputs = [x, ctx.int64s(starts, "starts"), ctx.int64s(ends, "ends"), ctx.int64s(axes, "axes")]
    if steps is not None:
        inputs.append(ctx.int64s(steps, "steps"))
    return ctx.add("Slice", inputs, [out] if out else None)


@lowers("slice")
def _slice_op(ctx: LoweringContext, node: Node) -> None:
    a = node.attributes
    starts, sizes, strides = list(a["starts"]), list(a["sizes"]), list(a["strides"])
    if not starts:
        ctx.add("Identity", [in_name(ctx, node, 0)], [out_name(ctx, node)])
        return
    ends = [s + n for s, n in zip(starts, sizes, strict=True)]
    steps = strides if any(k != 1 for k in strides) else None
    _slice(ctx, in_name(ctx, node, 0), starts, ends, list(range(len(starts))), steps, out_name(ctx, node))


@lowers("reverse")
def _reverse(ctx: LoweringContext, node: Node) -> None:
    axes = list(node.attributes["axes"])
    if not axes:
        ctx.add("Identity", [in_name(ctx, node, 0)], [out_name(ctx, node)])
        return
    n = len(axes)
    _slice(ctx, in_name(ctx, node, 0), [-1] * n, [_INT64_MIN] * n, axes, [-1] * n, out_name(ctx, node))


@lowers("split")
def _split(ctx: LoweringContext, node: Node) -> None:
    sizes = list(node.attributes["splits"])
    outs = [out_name(ctx, node, i) for i in range(len(node.outputs))]
    if len(sizes) == 1:
        ctx.add("Identity", [in_name(ctx, node, 0)], outs)
        return
    ctx.add("Split", [in_name(ctx, node, 0), ctx.int64s(sizes, "split")], outs, axis=int(node.attributes["axis"]))


@lowers("triangular")
def _triangular(ctx: LoweringContext, node: Node) -> None:
    x = operand(node)
    upper = bool(node.attributes["upper"])
    k = int(node.attributes["diagonal"])
    if x.data_type in _TRILU_TYPES:
        ctx.add("Trilu", [ctx.name(x), ctx.const(np.asarray(k, np.int64), "k")], [out_name(ctx, node)], upper=int(upper))
        return
    rows, cols = x.shape[-2:]
    mask = np.triu(np.ones((rows, cols), bool), k) if upper else np.tril(np.ones((rows, cols), bool), k)
    ctx.add("Mul", [ctx.name(x), ctx.const(mask.astype(x.data_type.numpy_dtype), "mask")], [out_name(ctx, node)])


@lowers("pad")
def _pad(ctx: LoweringContext, node: Node) -> None:
    x = operand(node)
    a = node.attributes
    begin, end = list(a["beginning_padding"]), list(a["ending_padding"])
    mode = str(a["mode"])
    if not any(begin) and not any(end):
        ctx.add("Identity", [ctx.name(x)], [out_name(ctx, node)])
        return
    if mode == "symmetric":
        _pad_symmetric(ctx, node, x, begin, end)
        return
    pads = ctx.int64s(begin + end, "pads")
    if mode == "constant":
        value = ctx.const(np.asarray(a["value"]).astype(x.data_type.numpy_dtype), "value")
        ctx.add("Pad", [ctx.name(x), pads, value], [out_name(ctx, node)], mode="constant")
    else:
        ctx.add("Pad", [ctx.name(x), pads], [out_name(ctx, node)], mode="edge" if mode == "edge" else "reflect")


def _pad_symmetric(ctx: LoweringContext, node: Node, x: Value, begin: list[int], end: list[int]) -> None:
    """ONNX has no symmetric mode: per padded axis, concat the mirrored edge slices.

    ``[a b c d]`` padded (2, 1) symmetric -> ``[b a | a b c d | d]``.
    """
    cur = ctx.name(x)
    padded = [d for d in range(x.rank) if begin[d] or end[d]]
    for i, d in enumerate(padded):
        size = x.shape[d]
        parts = []
        if begin[d]:  # elements begin-1 ... 0
            parts.append(_slice(ctx, cur, [begin[d] - 1], [_INT64_MIN], [d], [-1]))
        parts.append(cur)
        if end[d]:  # elements size-1 ... size-end
            stop = size - 1 - end[d]
            parts.append(_slice(ctx, cur, [size - 1], [stop if stop >= 0 else _INT64_MIN], [d], [-1]))
        last = i == len(padded) - 1
        cur = ctx.add("Concat", parts, [out_name(ctx, node)] if last else None, axis=d)
