"""ONNX lowerings of conv2d, convTranspose2d, the 2-D pools and resample2d.

NOTE: ONNX pools take ``ceil_mode``, but ONNX Runtime's ceil rounding drops a last window
that would start in the end padding, which WebNN keeps. So pools never use ``ceil_mode``:
the front end has already fixed the output size, and the end padding is grown until the
floor formula reaches it. ONNX Runtime also rejects a pad that is not smaller than the
window; such pools pad explicitly first (with -inf for max, zeros for l2, and for average
zeros plus a per-position correction of the divisor, since padding is not counted).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from webnnc.compiler.emitters.onnx._core import (
    LoweringContext,
    LoweringTable,
    in_name,
    operand,
    out_name,
)
from webnnc.compiler.ir import Node

__all__ = ["LOWERINGS"]

LOWERINGS = LoweringTable()
lowers = LOWERINGS.lowers

_NHWC_TO_NCHW = (0, 3, 1, 2)
_NCHW_TO_NHWC = (0, 2, 3, 1)



def _spatial(ctx: LoweringContext, node: Node, layout: str, build: Callable[[str, str], str]) -> None:
    """Run ``build(nchw_input, output_name)`` on an NCHW view of input 0; write the node's output."""
    x = in_name(ctx, node, 0)
    if layout == "nhwc":
        x = ctx.add("Transpose", [x], perm=list(_NHWC_TO_NCHW))
        y = build(x, ctx.fresh("nchw"))
        ctx.add("Transpose", [y], [out_name(ctx, node)], perm=list(_NCHW_TO_NHWC))
    else:
        build(x, out_name(ctx, node))


def _onnx_pads(padding: Sequence[int]) -> list[int]:
    # WebNN: [beginH, endH, beginW, endW]; ONNX: [beginH, beginW, endH, endW]
    return [padding[0], padding[2], padding[1], padding[3]]


def _filter_to(ctx: LoweringContext, node: Node, layout: str, target: str) -> str:
    w = in_name(ctx, node, 1)
    if layout != target:
        w = ctx.add("Transpose", [w], perm=[layout.index(c) for c in target])
    return w


@lowers("conv2d")
def _conv2d(ctx: LoweringContext, node: Node) -> None:
    a = node.attributes
    w = _filter_to(ctx, node, str(a["filter_layout"]), "oihw")
    extra = [in_name(ctx, node, 2)] if node.inputs[2] is not None else []

    def build(x: str, out: str) -> str:
        return ctx.add(
            "Conv", [x, w, *extra], [out],
            pads=_onnx_pads(a["padding"]), strides=list(a["strides"]),
            dilations=list(a["dilations"]), group=int(a["groups"]),
        )

    _spatial(ctx, node, str(a["input_layout"]), build)


@lowers("convTranspose2d")
def _conv_transpose2d(ctx: LoweringContext, node: Node) -> None:
    a = node.attributes
    w = _filter_to(ctx, node, str(a["filter_layout"]), "iohw")
    extra = [in_name(ctx, node, 2)] if node.inputs[2] is not None else []

    def build(x: str, out: str) -> str:
        return ctx.add(
            "ConvTranspose", [x, w, *extra], [out],
            pads=_onnx_pads(a["padding"]), strides=list(a["strides"]),
            dilations=list(a["dilations"]), group=int(a["groups"]),
            output_padding=list(a["output_padding"]),
        )

    _spatial(ctx, node, str(a["input_layout"]), build)


def _valid_counts(size: int, out: int, window: int, pad_begin: int, stride: int, dilation: int) -> np.ndarray:
    """How many taps of each output position's window fall inside the input (not padding)."""
    taps = np.arange(out)[:, None] * stride + np.arange(window)[None, :] * dilation - pad_begin
    return np.sum((taps >= 0) & (taps < size), axis=1)


@lowers("averagePool2d", "maxPool2d", "l2Pool2d")
def _pool2d(ctx: LoweringContext, node: Node) -> None:
    a = node.attributes
    x = operand(node)
    nhwc = a["layout"] == "nhwc"
    size = x.shape[1:3] if nhwc else x.shape[2:4]
    out = node.outputs[0].shape[1:3] if nhwc else node.outputs[0].shape[2:4]
    win, strides, dil = list(a["window_dimensions"]), list(a["strides"]), list(a["dilations"])
    pad = list(a["padding"])
    begin = [pad[0], pad[2]]
    end = [pad[1], pad[3]]
    for i in range(2):
        reach = (out[i] - 1) * strides[i] + (win[i] - 1) * dil[i] + 1
        end[i] = max(end[i], reach - size[i] - begin[i])
    op = node.op_type
    is_global = tuple(win) == tuple(size) and not any(pad) and dil == [1, 1] and tuple(out) == (1, 1)
    counts = np.outer(
        _valid_counts(size[0], out[0], win[0], begin[0], strides[0], dil[0]),
        _valid_counts(size[1], out[1], win[1], begin[1], strides[1], dil[1]),
    )
    # A window that lies wholly in the padding (possible with ceil rounding) yields 0,
    # as the WPT reference computes; ONNX would give -inf (max) or 0/0 (average).
    empty = counts == 0
    explicit = any(p >= win[i % 2] for i, p in enumerate(begin + end))
    explicit = explicit or (op == "averagePool2d" and bool(empty.any()))
    common: dict[str, Any] = {"kernel_shape": win, "strides": strides}
    if dil != [1, 1]:
        common["dilations"] = dil

    def build(inp: str, res: str) -> str:
        if is_global:
            onnx_op = {"averagePool2d": "GlobalAveragePool", "maxPool2d": "GlobalMaxPool", "l2Pool2d": "GlobalLpPool"}
            return ctx.add(onnx_op[op], [inp], [res], p=2 if op == "l2Pool2d" else None)
        if not explicit:
            pads = [begin[0], begin[1], end[0], end[1]]
            if op == "averagePool2d":
                return ctx.add("AveragePool", [inp], [res], pads=pads, count_include_pad=0, **common)
            if op == "maxPool2d":
                return _max_pool(ctx, inp, res, empty, dict(common, pads=pads))
            return ctx.add("LpPool", [inp], [res], pads=pads, p=2, **common)
        fill = -np.inf if op == "maxPool2d" else 0.0
        onnx_pads = ctx.int64s([0, 0, begin[0], begin[1], 0, 0, end[0], end[1]], "pads")
        padded = ctx.add("Pad", [inp, onnx_pads, ctx.scalar(fill, x.data_type, "fill")], mode="constant")
        if op == "maxPool2d":
            return _max_pool(ctx, padded, res, empty, common)
        if op == "l2Pool2d":
            return ctx.add("LpPool", [padded], [res], p=2, **common)
        mean = ctx.add("AveragePool", [padded], count_include_pad=1, **common)
        with np.errstate(divide="ignore"):
            factor = np.where(counts > 0, (win[0] * win[1]) / np.maximum(counts, 1), 0.0)
        return ctx.add("Mul", [mean, ctx.const(factor.astype(x.data_type.numpy_dtype), "divisor")], [res])

    _spatial(ctx, node, str(a["layout"]), build)


def _max_pool(ctx: LoweringContext, inp: str, res: str, empty: np.ndarray, attrs: dict[str, Any]) -> str:
    if not empty.any():
        return ctx.add("MaxPool", [inp], [res], **attrs)
    y = ctx.add("MaxPool", [inp], **attrs)
    floor = ctx.const(np.where(empty, 0.0, -np.inf).astype(np.float32), "floor")
    return ctx.add("Max", [y, ctx.add("CastLike", [floor, y])], [res])


def _fit_scale(size: int, out: int, scale: float) -> float | None:
    """The float32 scale nearest ``scale`` for which ONNX Runtime's output size,
    ``int(float32(size) * scale)``, is the spec's ``floor(size * scale)`` (computed in double
    by the front end); None if a few ULPs do not reach it (then sizes are passed instead).

    >>> _fit_scale(7, 31, 31 / 7) > 31 / 7  # float32(31/7) * 7 rounds down to 30.99...
    True
    """
    s32 = np.float32(scale)
    for _ in range(16):
        got = int(np.float32(size) * s32)
        if got == out:
            return float(s32)
        s32 = np.nextafter(s32, np.float32(np.inf if got < out else -np.inf), dtype=np.float32)
    return None


@lowers("resample2d")
def _resample2d(ctx: LoweringContext, node: Node) -> None:
    a = node.attributes
    x = operand(node)
    axes = [int(v) for v in a["axes"]]
    # ONNX Runtime interpolates linearly only over the two innermost (or NHWC) axes, so
    # the resized axes are moved last, in the order the options list them.
    perm = [d for d in range(4) if d not in axes] + axes
    inv = [perm.index(d) for d in range(4)]
    src = ctx.name(x)
    if perm != [0, 1, 2, 3]:
        src = ctx.add("Transpose", [src], perm=perm)
    # webnnc's extension attributes are ONNX's own (one Resize node, ONNX Runtime's kernel:
    # DPT's align_corners upsampling ran ~40 ms as per-axis gathers, ~7 ms as Resize; s2-widen.md)
    attrs: dict[str, Any] = {
        "mode": "nearest" if a["mode"] == "nearest-neighbor" else "linear",
        "coordinate_transformation_mode": a.get("coordinate_transformation_mode", "half_pixel"),
        "nearest_mode": a.get("nearest_mode", "round_prefer_floor"),
    }
    fitted: list[float | None] = []
    if "scales" in a:
        pairs = zip(axes, a["sizes"], a["scales"], strict=True)
        fitted = [_fit_scale(x.shape[ax], int(size), float(sc)) for ax, size, sc in pairs]
    if fitted and None not in fitted:
        scales = ctx.const(np.asarray([1.0, 1.0, *fitted], np.float32), "scales")
        inputs = [src, "", scales]
    else:
        shape = [x.shape[d] for d in perm[:2]] + [int(s) for s in a["sizes"]]
        inputs = [src, "", "", ctx.int64s(shape, "sizes")]
    if perm == [0, 1, 2, 3]:
        ctx.add("Resize", inputs, [out_name(ctx, node)], **attrs)
        return
    y = ctx.add("Resize", inputs, **attrs)
    ctx.add("Transpose", [y], [out_name(ctx, node)], perm=inv)
