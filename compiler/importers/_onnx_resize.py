"""ONNX ``Resize`` modes WebNN's ``resample2d`` cannot express, as per-axis gathers.

``resample2d`` is 4-D, resizes H and W only, and places samples like ONNX's ``half_pixel``
coordinates. Real exports also use ``align_corners=True`` bilinear upsampling (HRNet, PSPNet,
many U-Nets), ``asymmetric`` nearest with a non-integer ratio (``F.interpolate(size=...)``),
1-D linear upsampling of ``[N, C, L]`` sequences and trilinear 3-D upsampling. Nearest and
(multi)linear resizing are separable, so each resized axis is done on its own, exactly as the
ONNX operator defines it:

- **nearest**: one ``gather`` with the source index of every output position;
- **linear**: two ``gather`` s (the left and right neighbours, clamped at the edges as ONNX
  Runtime does) and ``left + (right - left) * weight``, the weight a constant per position.

The source coordinates follow the ONNX ``coordinate_transformation_mode`` formulas (``scale``
is the given scale, or output / input length when ``sizes`` are given). ``cubic`` and
``tf_crop_and_resize`` stay unsupported.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from webnnc.compiler.frontend import MLOperand
from webnnc.compiler.importers._onnx_core import ImportContext, OnnxNode, Unsupported

__all__ = ["resize_by_gathers"]


def _source_coords(mode: str, out_len: int, in_len: int, scale: float) -> np.ndarray:
    """``x_original`` of every output position on one axis (ONNX Resize, float64)."""
    x = np.arange(out_len, dtype=np.float64)
    if mode == "half_pixel":
        return (x + 0.5) / scale - 0.5
    if mode == "pytorch_half_pixel":
        return (x + 0.5) / scale - 0.5 if out_len > 1 else np.zeros_like(x)
    if mode == "align_corners":
        return x * (in_len - 1) / (out_len - 1) if out_len > 1 else np.zeros_like(x)
    if mode == "asymmetric":
        return x / scale
    if mode == "tf_half_pixel_for_nn":
        return (x + 0.5) / scale
    if mode == "half_pixel_symmetric":
        adjustment = out_len / (scale * in_len)
        offset = in_len / 2 * (1 - adjustment)
        return offset + (x + 0.5) / scale - 0.5
    raise Unsupported(f"coordinate_transformation_mode={mode!r} is not mapped")


def _nearest_index(coords: np.ndarray, rounding: str, in_len: int) -> np.ndarray:
    frac = coords - np.floor(coords)
    if rounding == "round_prefer_floor":
        idx = np.where(frac == 0.5, np.floor(coords), np.round(coords))
    elif rounding == "round_prefer_ceil":
        idx = np.where(frac == 0.5, np.ceil(coords), np.round(coords))
    elif rounding == "floor":
        idx = np.floor(coords)
    elif rounding == "ceil":
        idx = np.ceil(coords)
    else:
        raise Unsupported(f"nearest_mode={rounding!r} is not an ONNX value")
    return np.clip(idx, 0, in_len - 1).astype(np.int32)


def resize_by_gathers(ctx: ImportContext, node: OnnxNode, x: MLOperand, scales: Sequence[float] | None,
                      sizes: Sequence[int] | None) -> MLOperand:
    """ONNX ``Resize`` / ``Upsample`` of ``x`` as per-axis gathers (nearest) or lerps (linear)."""
    mode = node.attr("mode", "nearest")
    if mode not in ("nearest", "linear"):
        raise Unsupported(f"mode={mode!r}: only nearest and linear resizing are mapped")
    coord = node.attr("coordinate_transformation_mode", "half_pixel" if node.opset >= 11 else "asymmetric")
    rounding = node.attr("nearest_mode", "round_prefer_floor") if node.opset >= 11 else "floor"
    if node.opset < 11 and mode == "linear":
        coord = "asymmetric"  # Upsample / Resize-10 linear sampled asymmetrically
    in_shape = list(x.shape)
    if sizes is not None:
        out_shape = [int(s) for s in sizes]
        axis_scales = [o / i if i else 1.0 for o, i in zip(out_shape, in_shape, strict=True)]
    elif scales is not None:
        axis_scales = [float(s) for s in scales]
        out_shape = [math.floor(d * s) for d, s in zip(in_shape, axis_scales, strict=True)]
    else:
        raise Unsupported("neither scales nor sizes is known at import time")
    if len(out_shape) != x.rank:
        raise Unsupported(f"{len(out_shape)} scales/sizes for a rank-{x.rank} input")
    y = x
    # the axis that shrinks the tensor most first, so later passes move less data
    order = sorted((a for a in range(x.rank) if out_shape[a] != in_shape[a] or axis_scales[a] != 1.0),
                   key=lambda a: out_shape[a] / max(in_shape[a], 1))
    for axis in order:
        n_in, n_out = in_shape[axis], out_shape[axis]
        if n_out < 1:
            raise Unsupported(f"axis {axis} resizes to {n_out} elements")
        coords = _source_coords(coord, n_out, n_in, axis_scales[axis])
        # ORT's Gather copies one block per index: along the innermost axis a block is one
        # element. Swapping the last two axes around it makes blocks rows: DPT's [1,64,96,96]
        # -> 192x192 align_corners upsampling took 25.6 ms as inner-axis gathers, 6.9 ms
        # swapped (ORT's own Resize kernel: 3.9 ms; one thread, CPU time; s2-widen.md)
        swap = axis == x.rank - 1 and x.rank >= 2
        if swap:
            perm = [*range(x.rank - 2), x.rank - 1, x.rank - 2]
            y = ctx.call("transpose", y, permutation=perm)
        y = _resize_axis(ctx, y, x.rank - 2 if swap else axis, mode, coords, rounding, n_in)
        if swap:
            y = ctx.call("transpose", y, permutation=perm)
    return y


def _resize_axis(ctx: ImportContext, y: MLOperand, axis: int, mode: str, coords: np.ndarray, rounding: str,
                 n_in: int) -> MLOperand:
    if mode == "nearest":
        result: MLOperand = ctx.call("gather", y, ctx.operand(_nearest_index(coords, rounding, n_in)), axis=axis)
        return result
    dtype = y._dt().numpy_dtype
    if dtype.kind != "f":
        raise Unsupported(f"linear resizing of a {dtype} tensor is not mapped")
    left = np.floor(coords)
    lo = np.clip(left, 0, n_in - 1).astype(np.int32)
    hi = np.clip(left + 1, 0, n_in - 1).astype(np.int32)
    w_shape = [1] * y.rank
    w_shape[axis] = len(coords)
    weight = ctx.operand((coords - left).reshape(w_shape).astype(dtype))
    a = ctx.call("gather", y, ctx.operand(lo), axis=axis)
    b = ctx.call("gather", y, ctx.operand(hi), axis=axis)
    result = ctx.call("add", a, ctx.call("mul", ctx.call("sub", b, a), weight))
    return result
