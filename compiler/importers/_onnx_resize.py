"""ONNX ``Resize`` that ``resample2d`` cannot hold, as per-axis gathers.

``resample2d`` is 4-D and resizes two axes; webnnc's extension gives it every ONNX sample
placement (``coordinateTransformationMode`` / ``nearestMode``), so a 4-D resize of H and W
stays one node (one ONNX Resize in the artifact). What is left comes here: other ranks,
resized batch/channels and integer tensors (1-D linear upsampling of ``[N, C, L]`` sequences,
trilinear 3-D upsampling). Nearest and (multi)linear resizing are separable, so each resized
axis is done on its own, exactly as the ONNX operator defines it (``compiler/ops/_resample.py``):

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
from webnnc.compiler.ops._resample import (
    COORDINATE_MODES,
    NEAREST_MODES,
    linear_taps,
    nearest_index,
    source_coords,
)

__all__ = ["resize_by_gathers"]


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
    if coord not in COORDINATE_MODES:
        raise Unsupported(f"coordinate_transformation_mode={coord!r} is not mapped")
    if rounding not in NEAREST_MODES:
        raise Unsupported(f"nearest_mode={rounding!r} is not an ONNX value")
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
        coords = source_coords(coord, n_out, n_in, axis_scales[axis])
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
        result: MLOperand = ctx.call("gather", y, ctx.operand(nearest_index(coords, rounding, n_in)), axis=axis)
        return result
    dtype = y._dt().numpy_dtype
    if dtype.kind != "f":
        raise Unsupported(f"linear resizing of a {dtype} tensor is not mapped")
    lo, hi, frac = linear_taps(coords, n_in)
    w_shape = [1] * y.rank
    w_shape[axis] = len(coords)
    weight = ctx.operand(frac.reshape(w_shape).astype(dtype))
    a = ctx.call("gather", y, ctx.operand(lo), axis=axis)
    b = ctx.call("gather", y, ctx.operand(hi), axis=axis)
    result = ctx.call("add", a, ctx.call("mul", ctx.call("sub", b, a), weight))
    return result
