"""CoreML lowerings of convolution, pooling and resampling (MIL computes them in NCHW).

conv2d and convTranspose2d sit together: a computed (non-constant) filter is lowered
through the same zero-upsampling helper in both.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from coremltools.converters.mil import Builder as mb  # noqa: N813 - the MIL idiom
from coremltools.converters.mil.mil import Var

from webnnc.compiler.emitters.coreml._core import (
    FLOATS,
    LoweringTable,
    MilContext,
    input_type,
    op_name,
    operand,
    unsupported,
)
from webnnc.compiler.ir import Node
from webnnc.compiler.ops._resample import (
    DEFAULT_COORDINATE_MODE,
    DEFAULT_NEAREST_MODE,
    linear_taps,
    nearest_index,
    source_coords,
)

__all__ = ["LOWERINGS"]

LOWERINGS = LoweringTable()
lowers = LOWERINGS.lowers


_NHWC_TO_NCHW = (0, 3, 1, 2)
_NCHW_TO_NHWC = (0, 2, 3, 1)


def _to_nchw(ctx: MilContext, x: Var, layout: str) -> Var:
    if layout == "nhwc":
        return mb.transpose(x=x, perm=list(_NHWC_TO_NCHW), name=ctx.fresh("to_nchw"))
    return x


def _from_nchw(ctx: MilContext, y: Var, layout: str) -> Var:
    if layout == "nhwc":
        return mb.transpose(x=y, perm=list(_NCHW_TO_NHWC), name=ctx.fresh("to_nhwc"))
    return y


@lowers("conv2d", data_types=FLOATS)
def _conv2d(ctx: MilContext, node: Node) -> Var:
    a = node.attributes
    x, w, b = operand(node, 0), operand(node, 1), node.inputs[2]
    dilations = [int(d) for d in a["dilations"]]
    layout = str(a["filter_layout"])
    weight = ctx.var(w)
    if layout != "oihw":
        if w.is_constant:
            assert w.const is not None
            weight = ctx.const(np.transpose(w.const, [layout.index(c) for c in "oihw"]), w.data_type, "filter")
        else:
            weight = mb.transpose(x=weight, perm=[layout.index(c) for c in "oihw"], name=ctx.fresh("filter_oihw"))
    if dilations != [1, 1] and not w.is_constant:
        # MIL's conv dilates only constant filters: insert the zeros into the filter instead
        shape = [int(d) for d in weight.shape]
        weight, shape = _zero_upsample(ctx, weight, shape, 2, dilations[0])
        weight, shape = _zero_upsample(ctx, weight, shape, 3, dilations[1])
        dilations = [1, 1]
    kwargs: dict[str, Any] = {}
    # MIL takes the bias only as a constant; a computed bias is added after the convolution.
    if b is not None and b.is_constant:
        kwargs["bias"] = ctx.var(b)
    y = mb.conv(
        x=_to_nchw(ctx, ctx.var(x), str(a["input_layout"])),
        weight=weight,
        strides=[int(s) for s in a["strides"]],
        pad_type="custom",
        pad=[int(p) for p in a["padding"]],  # [top, bottom, left, right] in both WebNN and MIL
        dilations=dilations,
        groups=int(a["groups"]),
        name=op_name(ctx, node),
        **kwargs,
    )
    if b is not None and not b.is_constant:
        bias = mb.reshape(x=ctx.var(b), shape=[1, b.shape[0], 1, 1], name=ctx.fresh("bias"))
        y = mb.add(x=y, y=bias, name=ctx.fresh("conv_bias"))
    return _from_nchw(ctx, y, str(a["input_layout"]))


def _zero_upsample(ctx: MilContext, x: Var, shape: list[int], axis: int, stride: int) -> tuple[Var, list[int]]:
    """Insert ``stride - 1`` zeros between neighbours along ``axis`` (2 or 3) of an NCHW var."""
    if stride == 1:
        return x, shape
    n, c, h, w = shape
    if axis == 2:  # [N, C, H, 1, W] -> pad the 1 to `stride` -> [N, C, H * stride, W]
        v = mb.reshape(x=x, shape=np.asarray([n, c, h, 1, w], np.int32), name=ctx.fresh("up_rows"))
        v = mb.pad(x=v, pad=np.asarray([0, stride - 1, 0, 0], np.int32), name=ctx.fresh("up_rows_pad"))
        v = mb.reshape(x=v, shape=np.asarray([n, c, h * stride, w], np.int32), name=ctx.fresh("up_rows_flat"))
        size = (h - 1) * stride + 1
        v = mb.slice_by_index(x=v, begin=np.zeros(4, np.int32), end=np.asarray([n, c, size, w], np.int32),
                              name=ctx.fresh("up_rows_cut"))
        return v, [n, c, size, w]
    v = mb.reshape(x=x, shape=np.asarray([n, c, h, w, 1], np.int32), name=ctx.fresh("up_cols"))
    v = mb.pad(x=v, pad=np.asarray([0, 0, 0, stride - 1], np.int32), name=ctx.fresh("up_cols_pad"))
    v = mb.reshape(x=v, shape=np.asarray([n, c, h, w * stride], np.int32), name=ctx.fresh("up_cols_flat"))
    size = (w - 1) * stride + 1
    v = mb.slice_by_index(x=v, begin=np.zeros(4, np.int32), end=np.asarray([n, c, h, size], np.int32),
                          name=ctx.fresh("up_cols_cut"))
    return v, [n, c, h, size]


def _conv_transpose_as_conv(ctx: MilContext, node: Node) -> Var:
    """convTranspose2d with a computed filter (MIL's conv_transpose wants a constant one):
    a convolution of the zero-upsampled input with the flipped, in/out-swapped filter."""
    a = node.attributes
    x, w, b = operand(node, 0), operand(node, 1), node.inputs[2]
    layout = str(a["input_layout"])
    groups = int(a["groups"])
    sh, sw = (int(v) for v in a["strides"])
    top, bottom, left, right = (int(v) for v in a["padding"])
    del bottom, right  # the output size (which includes them and output_padding) decides the end
    xin = _to_nchw(ctx, ctx.var(x), layout)
    shape = [int(d) for d in xin.shape]
    up, shape = _zero_upsample(ctx, xin, shape, 2, sh)
    up, shape = _zero_upsample(ctx, up, shape, 3, sw)
    # filter -> [C_in, C_out / g, kH, kW] -> per group swap in/out -> [C_out, C_in / g, kH, kW], flipped
    f_layout = str(a["filter_layout"])
    wv = ctx.var(w)
    if f_layout != "iohw":
        wv = mb.transpose(x=wv, perm=[f_layout.index(ch) for ch in "iohw"], name=ctx.fresh("filter_iohw"))
    cin, cog, kh, kw = (w.shape[f_layout.index(ch)] for ch in "iohw")
    wv = mb.reshape(x=wv, shape=np.asarray([groups, cin // groups, cog, kh * kw], np.int32), name=ctx.fresh("filter_g"))
    wv = mb.transpose(x=wv, perm=[0, 2, 1, 3], name=ctx.fresh("filter_swap"))
    wv = mb.reshape(x=wv, shape=np.asarray([groups * cog, cin // groups, kh, kw], np.int32), name=ctx.fresh("filter_oihw"))
    wv = mb.reverse(x=wv, axes=[2, 3], name=ctx.fresh("filter_flip"))
    out = node.outputs[0].shape
    oh, ow = (out[2], out[3]) if layout == "nchw" else (out[1], out[2])

    def pads(begin_pad: int, size: int, k: int, want: int) -> tuple[int, int, int]:
        pb = k - 1 - begin_pad
        pb2, crop_b = max(pb, 0), max(pb, 0) - pb
        pe = want + crop_b - size - pb2 + k - 1
        return pb2, max(pe, 0), crop_b

    pt, pbot, crop_t = pads(top, shape[2], kh, oh)
    pl, pr, crop_l = pads(left, shape[3], kw, ow)
    y = mb.conv(x=up, weight=wv, pad_type="custom", pad=[pt, pbot, pl, pr], groups=groups, name=op_name(ctx, node))
    full = [int(d) for d in y.shape]
    if (full[2], full[3]) != (oh, ow):
        y = mb.slice_by_index(
            x=y, begin=np.asarray([0, 0, crop_t, crop_l], np.int32),
            end=np.asarray([full[0], full[1], crop_t + oh, crop_l + ow], np.int32), name=ctx.fresh("convt_crop"),
        )
    if b is not None:
        bias = mb.reshape(x=ctx.var(b), shape=np.asarray([1, b.shape[0], 1, 1], np.int32), name=ctx.fresh("bias"))
        y = mb.add(x=y, y=bias, name=ctx.fresh("conv_bias"))
    return _from_nchw(ctx, y, layout)


@lowers("convTranspose2d", data_types=FLOATS)
def _conv_transpose2d(ctx: MilContext, node: Node) -> Var:
    a = node.attributes
    x, w, b = operand(node, 0), operand(node, 1), node.inputs[2]
    if not w.is_constant:
        if tuple(a["dilations"]) != (1, 1):
            raise unsupported(
                node, "MIL's conv_transpose needs a constant filter, and its conv one when dilated",
                "make the filter a constant",
            )
        return _conv_transpose_as_conv(ctx, node)
    assert w.const is not None
    layout = str(a["filter_layout"])
    weight = np.transpose(w.const, [layout.index(c) for c in "iohw"])  # MIL: [C_in, C_out/groups, kH, kW]
    nhwc = a["input_layout"] == "nhwc"
    out = node.outputs[0].shape
    out_nchw = (out[0], out[3], out[1], out[2]) if nhwc else out
    kwargs: dict[str, Any] = {}
    if b is not None and b.is_constant:
        kwargs["bias"] = ctx.var(b)
    y = mb.conv_transpose(
        x=_to_nchw(ctx, ctx.var(x), str(a["input_layout"])),
        weight=ctx.const(weight, w.data_type, "filter"),
        pad_type="custom",
        pad=[int(p) for p in a["padding"]],
        output_shape=[int(d) for d in out_nchw],
        strides=[int(s) for s in a["strides"]],
        dilations=[int(d) for d in a["dilations"]],
        groups=int(a["groups"]),
        name=op_name(ctx, node),
        **kwargs,
    )
    if b is not None and not b.is_constant:
        bias = mb.reshape(x=ctx.var(b), shape=[1, b.shape[0], 1, 1], name=ctx.fresh("bias"))
        y = mb.add(x=y, y=bias, name=ctx.fresh("conv_bias"))
    return _from_nchw(ctx, y, str(a["input_layout"]))


def _pool_by_slices(
    ctx: MilContext, node: Node, xin: Var, hw: tuple[int, int], out: tuple[int, int],
    k: tuple[int, int], s: tuple[int, int], d: tuple[int, int], begin: tuple[int, int],
) -> Var:
    """A dilated 2-D pool (NCHW) as one strided slice per window tap, combined element-wise.

    Window cells in the padding never count: max pads with -inf, the average divides by the
    number of real cells (known at build time), and windows with no real cell give 0.
    """
    (h, w), (oh, ow), (kh, kw), (sh, sw), (dh, dw), (top, left) = hw, out, k, s, d, begin
    dt = input_type(node)
    need_h, need_w = (oh - 1) * sh + (kh - 1) * dh + 1, (ow - 1) * sw + (kw - 1) * dw + 1
    bottom, right = max(need_h - h - top, 0), max(need_w - w - left, 0)
    is_max = node.op_type == "maxPool2d"
    fill = -np.inf if is_max else 0.0
    xp = mb.pad(x=xin, pad=np.asarray([top, bottom, left, right], np.int32), mode="constant",
                constant_val=dt.numpy_dtype.type(fill), name=ctx.fresh("pool_pad"))
    n, c = int(xin.shape[0]), int(xin.shape[1])
    acc: Var | None = None
    for i in range(kh):
        for j in range(kw):
            tap = mb.slice_by_index(
                x=xp, begin=np.asarray([0, 0, i * dh, j * dw], np.int32),
                end=np.asarray([n, c, i * dh + (oh - 1) * sh + 1, j * dw + (ow - 1) * sw + 1], np.int32),
                stride=np.asarray([1, 1, sh, sw], np.int32), name=ctx.fresh("pool_tap"),
            )
            if node.op_type == "l2Pool2d":
                tap = mb.mul(x=tap, y=tap, name=ctx.fresh("pool_sq"))
            if acc is None:
                acc = tap
            elif is_max:
                acc = mb.maximum(x=acc, y=tap, name=ctx.fresh("pool_max"))
            else:
                acc = mb.add(x=acc, y=tap, name=ctx.fresh("pool_sum"))
    assert acc is not None
    rows = np.arange(oh)[:, None] * sh - top + np.arange(kh)[None, :] * dh  # [oh, kh] input rows
    cols = np.arange(ow)[:, None] * sw - left + np.arange(kw)[None, :] * dw
    counts = np.outer(((rows >= 0) & (rows < h)).sum(1), ((cols >= 0) & (cols < w)).sum(1))  # [oh, ow]
    if node.op_type == "averagePool2d":
        acc = mb.real_div(x=acc, y=ctx.const(np.maximum(counts, 1).reshape(1, 1, oh, ow), dt, "pool_count"),
                          name=ctx.fresh("pool_mean"))
    elif node.op_type == "l2Pool2d":
        acc = mb.sqrt(x=acc, name=ctx.fresh("pool_l2"))
    if (counts == 0).any():
        acc = mb.select(cond=mb.const(val=(counts == 0).reshape(1, 1, oh, ow), name=ctx.fresh("empty_windows")),
                        a=ctx.const(0, dt, "zero"), b=acc, name=ctx.fresh("pool_empty"))
    return mb.identity(x=acc, name=op_name(ctx, node))


@lowers("averagePool2d", "maxPool2d", "l2Pool2d", data_types=FLOATS)
def _pool2d(ctx: MilContext, node: Node) -> Var:
    a = node.attributes
    x = operand(node)
    layout = str(a["layout"])
    h, w = (x.shape[2], x.shape[3]) if layout == "nchw" else (x.shape[1], x.shape[2])
    out = node.outputs[0].shape
    oh, ow = (out[2], out[3]) if layout == "nchw" else (out[1], out[2])
    kh, kw = (int(k) for k in a["window_dimensions"])
    sh, sw = (int(s) for s in a["strides"])
    top, bottom, left, right = (int(p) for p in a["padding"])
    xin = _to_nchw(ctx, ctx.var(x), layout)
    if tuple(a["dilations"]) != (1, 1):  # MIL pools have no dilations
        dh, dw = (int(d) for d in a["dilations"])
        y = _pool_by_slices(ctx, node, xin, (h, w), (oh, ow), (kh, kw), (sh, sw), (dh, dw), (top, left))
        return _from_nchw(ctx, y, layout)
    if (kh, kw) == (h, w) and (top, bottom, left, right) == (0, 0, 0, 0) and node.op_type != "l2Pool2d":
        # a global pool: a reduction is exact and cheaper than a window walk
        reduce = mb.reduce_mean if node.op_type == "averagePool2d" else mb.reduce_max
        y = reduce(x=xin, axes=[2, 3], keep_dims=True, name=op_name(ctx, node))
        return _from_nchw(ctx, y, layout)
    # The IR's output size already reflects the rounding type (or output_sizes). MIL's
    # ceil_mode needs symmetric padding, so instead the end padding is grown until floor
    # rounding yields that size; the extra cells lie outside the input and count as padding.
    bottom = max(bottom, (oh - 1) * sh + kh - h - top)
    right = max(right, (ow - 1) * sw + kw - w - left)
    common: dict[str, Any] = {
        "kernel_sizes": [kh, kw],
        "strides": [sh, sw],
        "pad_type": "custom",
        "pad": [top, bottom, left, right],
        "name": op_name(ctx, node),
    }
    if node.op_type == "averagePool2d":
        y = mb.avg_pool(x=xin, exclude_padding_from_average=True, **common)
    elif node.op_type == "maxPool2d":
        y = mb.max_pool(x=xin, **common)
    else:
        y = mb.l2_pool(x=xin, **common)
    # Rounding up can add windows that lie wholly in the padding; they hold no input element
    # and WebNN implementations (and WPT) give 0 there, where a MIL pool would give -inf
    # (max) or 0/0 (average). Shapes are static, so those cells are known now.
    rows = [i * sh - top + kh <= 0 or i * sh - top >= h for i in range(oh)]
    cols = [j * sw - left + kw <= 0 or j * sw - left >= w for j in range(ow)]
    if any(rows) or any(cols):
        empty = np.logical_or.outer(np.asarray(rows), np.asarray(cols)).reshape(1, 1, oh, ow)
        y = mb.select(
            cond=mb.const(val=empty, name=ctx.fresh("empty_windows")),
            a=ctx.const(0, input_type(node), "zero"),
            b=y,
            name=ctx.fresh("pool_empty"),
        )
    return _from_nchw(ctx, y, layout)


def _resample_by_gathers(ctx: MilContext, node: Node) -> Var:
    """resample2d with ONNX sample placement (webnnc's extension) as per-axis MIL gathers:
    MIL's resize ops place samples their own ways, and the reference evaluator checks these."""
    a = node.attributes
    x = operand(node)
    coord = str(a.get("coordinate_transformation_mode", DEFAULT_COORDINATE_MODE))
    rounding = str(a.get("nearest_mode", DEFAULT_NEAREST_MODE))
    scales = a.get("scales")
    out = node.outputs[0].shape
    y = ctx.var(x)
    dtype = input_type(node)
    for k, axis in enumerate(int(v) for v in a["axes"]):
        n_in, n_out = x.shape[axis], out[axis]
        scale = float(scales[k]) if scales else n_out / n_in
        coords = source_coords(coord, n_out, n_in, scale)
        if a["mode"] == "nearest-neighbor":
            idx = mb.const(val=nearest_index(coords, rounding, n_in), name=ctx.fresh("resample_index"))
            y = mb.gather(x=y, indices=idx, axis=axis, name=ctx.fresh("resample_pick"))
            continue
        lo, hi, frac = linear_taps(coords, n_in)
        w_shape = [1] * 4
        w_shape[axis] = n_out
        left = mb.gather(x=y, indices=mb.const(val=lo, name=ctx.fresh("resample_lo")), axis=axis,
                         name=ctx.fresh("resample_left"))
        right = mb.gather(x=y, indices=mb.const(val=hi, name=ctx.fresh("resample_hi")), axis=axis,
                          name=ctx.fresh("resample_right"))
        step = mb.mul(x=mb.sub(x=right, y=left, name=ctx.fresh("resample_diff")),
                      y=ctx.const(frac.reshape(w_shape), dtype, "resample_weight"), name=ctx.fresh("resample_step"))
        y = mb.add(x=left, y=step, name=ctx.fresh("resample_lerp"))
    return mb.identity(x=y, name=op_name(ctx, node))


@lowers("resample2d", data_types=FLOATS)
def _resample2d(ctx: MilContext, node: Node) -> Var:
    a = node.attributes
    x = operand(node)
    if "coordinate_transformation_mode" in a or "nearest_mode" in a:
        return _resample_by_gathers(ctx, node)
    axes = [int(v) for v in a["axes"]]
    out = node.outputs[0].shape
    # bring the two resized axes last (MIL resizes the last two dimensions)
    rest = [d for d in range(4) if d not in axes]
    perm = rest + axes
    var = ctx.var(x)
    if perm != [0, 1, 2, 3]:
        var = mb.transpose(x=var, perm=perm, name=ctx.fresh("resample_in"))
    oh, ow = out[axes[0]], out[axes[1]]
    ih, iw = x.shape[axes[0]], x.shape[axes[1]]
    if a["mode"] == "linear":
        y = mb.resize_bilinear(
            x=var, target_size_height=oh, target_size_width=ow, sampling_mode="UNALIGN_CORNERS",
            name=op_name(ctx, node),
        )
    elif oh % ih == 0 and ow % iw == 0:
        # integer factors: half-pixel nearest (rounding .5 down) picks source floor(i / factor)
        y = mb.upsample_nearest_neighbor(
            x=var, scale_factor_height=oh // ih, scale_factor_width=ow // iw, name=op_name(ctx, node)
        )
    else:
        raise unsupported(node, f"MIL's nearest-neighbor resize takes integer factors only ({ih}x{iw} -> {oh}x{ow})")
    if perm != [0, 1, 2, 3]:
        y = mb.transpose(x=y, perm=[perm.index(d) for d in range(4)], name=ctx.fresh("resample_out"))
    return y
