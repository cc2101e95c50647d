"""ONNX lowerings of the reductions, argMin / argMax and cumulativeSum.

- Axes arrive sorted; an empty axes list reduces nothing, so each element is reduced alone
  (reduceL1 -> |x|, reduceSumSquare -> x*x, reduceLogSum -> log x, the rest -> x). ONNX's
  own empty-axes convention (reduce everything, or a no-op) is never used.
- float16 sums, means, norms and products accumulate in float32 and round once at the end.
- Integer types without an ONNX Runtime CPU kernel compute exactly in int64: uint32 widens;
  uint64 is viewed bit-for-bit as int64 (sums and products wrap identically), and ordered
  operations (max, min, argMax, argMin) shift it by 2**63 first so the int64 order matches.
- ONNX Runtime's integer ReduceSum / ReduceProd are not exact beyond 2**53 (they neither
  wrap nor keep every bit), so integer sums and products compute in int64 (widened, or the
  uint64 bit view) along the flattened reduced axes: a sum as the last element of a CumSum,
  a product as a log-depth tree of Muls, both wrapping exactly; the result is cast back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from webnnc.compiler.emitters.onnx._core import (
    LoweringContext,
    LoweringTable,
    cast,
    in_name,
    operand,
    out_name,
)
from webnnc.compiler.ir import DataType, Node

__all__ = ["LOWERINGS"]

LOWERINGS = LoweringTable()
lowers = LOWERINGS.lowers

_ONNX_REDUCE = {
    "reduceL1": "ReduceL1",
    "reduceL2": "ReduceL2",
    "reduceLogSum": "ReduceLogSum",
    "reduceLogSumExp": "ReduceLogSumExp",
    "reduceMax": "ReduceMax",
    "reduceMean": "ReduceMean",
    "reduceMin": "ReduceMin",
    "reduceProduct": "ReduceProd",
    "reduceSum": "ReduceSum",
    "reduceSumSquare": "ReduceSumSquare",
}
_ORDERED = frozenset({"reduceMax", "reduceMin"})
_NATIVE_INT = {
    # integer types ONNX Runtime's CPU reductions take directly
    "ordered": frozenset({DataType.INT32, DataType.INT64, DataType.INT8, DataType.UINT8}),
    "sum": frozenset({DataType.INT32, DataType.INT64}),
}
_UINT64_SHIFT = np.uint64(1 << 63)




def _to_int64(ctx: LoweringContext, x: str, dt: DataType, ordered: bool) -> str:
    """An int64 stand-in for an integer tensor of type ``dt`` (see the module note)."""
    if dt == DataType.UINT64 and ordered:
        x = ctx.add("Sub", [x, ctx.const(np.asarray(_UINT64_SHIFT), "shift")])
    return cast(ctx, x, DataType.INT64)


def _from_int64(ctx: LoweringContext, y: str, dt: DataType, ordered: bool, out: str) -> None:
    if dt == DataType.UINT64 and ordered:
        y = cast(ctx, y, DataType.UINT64)
        ctx.add("Add", [y, ctx.const(np.asarray(_UINT64_SHIFT), "shift")], [out])
        return
    cast(ctx, y, dt, out)


def _elementwise_reduction(ctx: LoweringContext, op: str, x: str, out: str) -> None:
    """A reduction over no axes: every element reduced on its own."""
    if op in ("reduceL1", "reduceL2"):
        ctx.add("Abs", [x], [out])
    elif op == "reduceSumSquare":
        ctx.add("Mul", [x, x], [out])
    elif op == "reduceLogSum":
        ctx.add("Log", [x], [out])
    else:
        ctx.add("Identity", [x], [out])


_EXACT_INT = frozenset({"reduceSum", "reduceL1", "reduceSumSquare", "reduceProduct"})


def _slice(ctx: LoweringContext, x: str, start: int, end: int, axis: int) -> str:
    return ctx.add(
        "Slice", [x, ctx.int64s([start], "starts"), ctx.int64s([end], "ends"), ctx.int64s([axis], "axes")]
    )


def _exact_int64_reduce(
    ctx: LoweringContext, op: str, x: str, shape: Sequence[int], axes: Sequence[int], out_shape: Sequence[int]
) -> str:
    """Sum or multiply an int64 tensor over ``axes`` exactly (wrapping like C integers).

    The reduced axes are moved last and flattened; a sum is the last element of a CumSum, a
    product a log-depth tree of element-wise Muls (padding odd lengths with 1).
    """
    if op == "reduceL1":
        x = ctx.add("Abs", [x])
    elif op == "reduceSumSquare":
        x = ctx.add("Mul", [x, x])
    kept = [d for d in range(len(shape)) if d not in axes]
    perm = kept + list(axes)
    if perm != list(range(len(shape))):
        x = ctx.add("Transpose", [x], perm=perm)
    n = int(np.prod([shape[d] for d in axes]))
    k = len(kept)
    flat = ctx.add("Reshape", [x, ctx.int64s([shape[d] for d in kept] + [n])])
    if op != "reduceProduct":
        running = ctx.add("CumSum", [flat, ctx.const(np.asarray(k, np.int64), "axis")])
        result = _slice(ctx, running, n - 1, n, k)
    else:
        result = flat
        while n > 1:
            if n % 2:
                pads = [0] * (k + 1) + [0] * k + [1]
                result = ctx.add(
                    "Pad", [result, ctx.int64s(pads, "pads"), ctx.const(np.asarray(1, np.int64), "one")]
                )
                n += 1
            half = n // 2
            result = ctx.add("Mul", [_slice(ctx, result, 0, half, k), _slice(ctx, result, half, n, k)])
            n = half
    return ctx.add("Reshape", [result, ctx.int64s(list(out_shape))])


def _reduce_call(ctx: LoweringContext, onnx_op: str, x: str, axes: Sequence[int], keep: bool, out: str | None = None) -> str:
    return ctx.add(
        onnx_op, [x, ctx.int64s(list(axes), "axes")], [out] if out else None, keepdims=int(keep)
    )


@lowers(*_ONNX_REDUCE)
def _reduce(ctx: LoweringContext, node: Node) -> None:
    op = node.op_type
    x = operand(node)
    dt = x.data_type
    axes = tuple(int(a) for a in node.attributes["axes"])
    keep = bool(node.attributes["keep_dimensions"])
    src, out = in_name(ctx, node, 0), out_name(ctx, node)
    if not axes:
        _elementwise_reduction(ctx, op, src, out)
        return
    onnx_op = _ONNX_REDUCE[op]
    ordered = op in _ORDERED
    if dt == DataType.FLOAT16 and not ordered:
        y = _reduce_call(ctx, onnx_op, cast(ctx, src, DataType.FLOAT32), axes, keep)
        cast(ctx, y, DataType.FLOAT16, out)
        return
    if dt.is_integer and op in _EXACT_INT:
        if not dt.is_signed and op == "reduceL1":
            op = "reduceSum"  # |x| == x
        wide = _to_int64(ctx, src, dt, ordered=False)
        y = _exact_int64_reduce(ctx, op, wide, x.shape, axes, node.outputs[0].shape)
        if dt == DataType.INT64:
            ctx.add("Identity", [y], [out])
        else:
            _from_int64(ctx, y, dt, False, out)
        return
    if dt.is_integer and dt not in _NATIVE_INT["ordered" if ordered else "sum"]:
        if op == "reduceL1":
            onnx_op = "ReduceSum"  # only unsigned types get here: |x| == x
        y = _reduce_call(ctx, onnx_op, _to_int64(ctx, src, dt, ordered), axes, keep)
        _from_int64(ctx, y, dt, ordered, out)
        return
    _reduce_call(ctx, onnx_op, src, axes, keep, out)


_NATIVE_ARG = frozenset(
    {DataType.FLOAT32, DataType.FLOAT16, DataType.INT32, DataType.INT64, DataType.INT8, DataType.UINT8}
)


@lowers("argMax", "argMin")
def _arg(ctx: LoweringContext, node: Node) -> None:
    x = operand(node)
    src = in_name(ctx, node, 0)
    if x.data_type not in _NATIVE_ARG:
        src = _to_int64(ctx, src, x.data_type, ordered=True)
    onnx_op = "ArgMax" if node.op_type == "argMax" else "ArgMin"
    out_type = node.outputs[0].data_type
    attrs: dict[str, Any] = {
        "axis": int(node.attributes["axis"]),
        "keepdims": int(bool(node.attributes["keep_dimensions"])),
        "select_last_index": 0,
    }
    if out_type == DataType.INT64:
        ctx.add(onnx_op, [src], [out_name(ctx, node)], **attrs)
        return
    cast(ctx, ctx.add(onnx_op, [src], **attrs), out_type, out_name(ctx, node))


@lowers("cumulativeSum")
def _cumulative_sum(ctx: LoweringContext, node: Node) -> None:
    x = operand(node)
    dt = x.data_type
    a = node.attributes
    src, out = in_name(ctx, node, 0), out_name(ctx, node)
    attrs: dict[str, Any] = {"exclusive": int(bool(a.get("exclusive", False))), "reverse": int(bool(a["reversed"]))}
    axis = ctx.const(np.asarray(int(a["axis"]), dtype=np.int64), "axis")
    if dt in (DataType.FLOAT32, DataType.INT32, DataType.INT64):
        ctx.add("CumSum", [src, axis], [out], **attrs)
    elif dt == DataType.FLOAT16:
        y = ctx.add("CumSum", [cast(ctx, src, DataType.FLOAT32), axis], **attrs)
        cast(ctx, y, DataType.FLOAT16, out)
    else:  # uint32 / uint64: exact in int64
        y = ctx.add("CumSum", [_to_int64(ctx, src, dt, ordered=False), axis], **attrs)
        _from_int64(ctx, y, dt, False, out)
