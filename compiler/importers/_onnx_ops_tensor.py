"""ONNX shape and data-movement operators, and reductions -> WebNN."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from webnnc.compiler.frontend import MLOperand
from webnnc.compiler.importers._onnx_core import (
    ImportContext,
    OnnxNode,
    Tensor,
    Unsupported,
    normalize_axis,
    onnx_op,
    prod,
)
from webnnc.compiler.importers._onnx_resize import resize_by_gathers
from webnnc.compiler.ops._resample import COORDINATE_MODES, NEAREST_MODES

__all__: list[str] = []

_INT_MAX = 2**62


def _x(ctx: ImportContext, node: OnnxNode) -> MLOperand:
    return ctx.operand(node.inputs[0])  # type: ignore[arg-type]


@onnx_op("Reshape", webnn=["reshape"], note="0 copies a dimension, -1 is inferred")
def _reshape(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    x = _x(ctx, node)
    spec = node.ints(1, "shape") or []
    allowzero = bool(node.attr("allowzero", 0))
    shape = [x.shape[i] if d == 0 and not allowzero else d for i, d in enumerate(spec)]
    if shape.count(-1) > 1:
        raise Unsupported(f"shape {spec} has more than one -1")
    if -1 in shape:
        known = prod([d for d in shape if d != -1])
        shape[shape.index(-1)] = prod(x.shape) // known if known else 0
    if any(d <= 0 for d in shape):
        raise Unsupported(f"shape {spec} has zero-sized dimensions; WebNN dimensions are >= 1")
    return [ctx.reshape(x, shape)]


@onnx_op("Flatten", webnn=["reshape"])
def _flatten(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    x = _x(ctx, node)
    axis = int(node.attr("axis", 1))
    axis = axis + x.rank if axis < 0 else axis
    return [ctx.reshape(x, [prod(x.shape[:axis]), prod(x.shape[axis:])])]


def _axes(node: OnnxNode, input_index: int, what: str = "axes") -> list[int] | None:
    """Axes from the attribute (older opsets) or the input (newer ones)."""
    if "axes" in node.attrs:
        return [int(a) for a in node.attrs["axes"]]
    return node.ints(input_index, what)


@onnx_op("Squeeze", webnn=["reshape"])
def _squeeze(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    x = _x(ctx, node)
    axes = _axes(node, 1)
    if axes is None:
        keep = [d for d in x.shape if d != 1]
    else:
        drop = {normalize_axis(a, x.rank) for a in axes}
        if any(x.shape[a] != 1 for a in drop):
            raise Unsupported(f"squeezing axes {sorted(drop)} of shape {x.shape}: not all are 1")
        keep = [d for i, d in enumerate(x.shape) if i not in drop]
    return [ctx.reshape(x, keep)]


@onnx_op("Unsqueeze", webnn=["reshape"])
def _unsqueeze(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    x = node.inputs[0]
    assert x is not None
    shape = ctx.shape(x)
    axes = _axes(node, 1) or []
    rank = len(shape) + len(axes)
    out = list(shape)
    for a in sorted(normalize_axis(a, rank) for a in axes):
        out.insert(a, 1)
    return [ctx.reshape(x, out)]


@onnx_op("Transpose", webnn=["transpose"])
def _transpose(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    x = _x(ctx, node)
    perm = node.attr("perm")
    return [ctx.call("transpose", x, permutation=None if perm is None else [int(p) for p in perm])]


@onnx_op("Concat", webnn=["concat"])
def _concat(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    items = [ctx.operand(t) for t in node.inputs if t is not None]
    axis = normalize_axis(node.attr("axis"), items[0].rank)
    return [ctx.call("concat", items, axis)]


@onnx_op("Split", webnn=["split", "slice"])
def _split(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    x = _x(ctx, node)
    axis = normalize_axis(node.attr("axis", 0), x.rank)
    sizes = node.attr("split")
    if sizes is None:
        sizes = node.ints(1, "split")
    if sizes is None:
        n = int(node.attr("num_outputs", node.num_outputs))
        size = x.shape[axis]
        chunk = -(-size // n)
        sizes = [chunk] * (size // chunk) + ([size % chunk] if size % chunk else [])
    sizes = [int(s) for s in sizes]
    if ctx.has("split"):
        return list(ctx.call("split", x, sizes, axis=axis))
    outs: list[Tensor | None] = []
    start = 0
    for s in sizes:
        starts = [0] * x.rank
        lens = list(x.shape)
        starts[axis], lens[axis] = start, s
        outs.append(ctx.call("slice", x, starts, lens))
        start += s
    return outs


@onnx_op("Slice", webnn=["slice", "reverse"], note="negative steps reverse the axis first")
def _slice(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    x = _x(ctx, node)
    if node.opset < 10:
        starts, ends = list(node.attr("starts")), list(node.attr("ends"))
        axes = list(node.attr("axes", range(len(starts))))
        steps = [1] * len(starts)
    else:
        starts, ends = node.ints(1, "starts") or [], node.ints(2, "ends") or []
        axes = node.ints(3, "axes") or list(range(len(starts)))
        steps = node.ints(4, "steps") or [1] * len(starts)
    begin = [0] * x.rank
    size = list(x.shape)
    stride = [1] * x.rank
    reverse_axes: list[int] = []
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise Unsupported(
            f"starts {starts}, ends {ends}, axes {axes}, steps {steps}: expected one value each per "
            f"sliced axis; found {len(starts)}, {len(ends)}, {len(axes)} and {len(steps)}"
        )
    for s, e, a, st in zip(starts, ends, axes, steps, strict=True):
        a = normalize_axis(a, x.rank)
        d = x.shape[a]
        if st == 0:
            raise Unsupported("a slice step of 0 is invalid")
        if st > 0:
            s = min(max(s + d if s < 0 else s, 0), d)
            e = min(max(e + d if e < 0 else e, 0), d)
            begin[a], size[a], stride[a] = s, max(e - s, 0), st
        else:
            s = min(max(s + d if s < 0 else s, -1), d - 1)
            e = min(max(e + d if e < 0 else e, -1), d - 1)
            reverse_axes.append(a)
            # in reversed coordinates index i is d - 1 - i and the step is positive
            rs, re_ = d - 1 - s, d - 1 - e
            begin[a], size[a], stride[a] = rs, max(re_ - rs, 0), -st
        if size[a] == 0:
            raise Unsupported(f"the slice along axis {a} is empty; WebNN dimensions are >= 1")
    if reverse_axes:
        x = ctx.call("reverse", x, axes=reverse_axes)
    # WebNN slice: ``sizes`` is the extent of the window; strides then pick every k-th element
    if begin == [0] * x.rank and size == list(x.shape) and stride == [1] * x.rank:
        return [x if reverse_axes else ctx.call("identity", x) if ctx.has("identity") else x]
    strides = None if stride == [1] * x.rank else stride
    return [ctx.call("slice", x, begin, size, strides=strides)]


@onnx_op("Gather", webnn=["gather"])
def _gather(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    x, idx = node.inputs[0], node.inputs[1]
    assert x is not None and idx is not None
    axis = normalize_axis(node.attr("axis", 0), len(ctx.shape(x)))
    if not isinstance(idx, MLOperand):
        idx = np.where(idx < 0, idx + ctx.shape(x)[axis], idx).astype(np.int64)
    return [ctx.call("gather", ctx.operand(x), ctx.operand(idx), axis=axis)]


def _element_coordinates(indices: np.ndarray, axis: int, dim: int) -> np.ndarray:
    """Full coordinates [*indices.shape, rank] of an ONNX *Elements index tensor along ``axis``."""
    idx = np.where(indices < 0, indices + dim, indices).astype(np.int64)
    grids = list(np.meshgrid(*[np.arange(d) for d in idx.shape], indexing="ij"))
    grids[axis] = idx
    return np.stack(grids, axis=-1)


def _elements_fit(x: MLOperand, indices_shape: list[int], axis: int) -> bool:
    """WebNN's *Elements ops need indices shaped like the input except along ``axis``."""
    return len(indices_shape) == x.rank and all(
        i == d for k, (i, d) in enumerate(zip(indices_shape, x.shape, strict=True)) if k != axis)


@onnx_op("GatherElements", webnn=["gatherElements", "gatherND"],
         note="constant indices smaller than the input become gatherND coordinates")
def _gather_elements(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    x = _x(ctx, node)
    axis = normalize_axis(node.attr("axis", 0), x.rank)
    idx = node.inputs[1]
    assert idx is not None
    if not _elements_fit(x, ctx.shape(idx), axis) and not isinstance(idx, MLOperand):
        return [ctx.call("gatherND", x, ctx.operand(_element_coordinates(np.asarray(idx), axis, x.shape[axis])))]
    return [ctx.call("gatherElements", x, ctx.operand(idx), axis=axis)]


@onnx_op("GatherND", webnn=["gatherND"])
def _gather_nd(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    node.reject_attr("batch_dims", 0, "WebNN gatherND has no batch dimensions")
    return [ctx.call("gatherND", _x(ctx, node), ctx.operand(node.inputs[1]))]  # type: ignore[arg-type]


@onnx_op("ScatterElements", "Scatter", webnn=["scatterElements", "scatterND"],
         note="Scatter is its deprecated alias; constant indices smaller than the input become "
              "scatterND coordinates")
def _scatter_elements(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    node.reject_attr("reduction", "none", "WebNN scatterElements only replaces")
    x = _x(ctx, node)
    axis = normalize_axis(node.attr("axis", 0), x.rank)
    idx, upd = node.inputs[1], ctx.operand(node.inputs[2])  # type: ignore[arg-type]
    assert idx is not None
    if not _elements_fit(x, ctx.shape(idx), axis) and not isinstance(idx, MLOperand):
        coords = ctx.operand(_element_coordinates(np.asarray(idx), axis, x.shape[axis]))
        return [ctx.call("scatterND", x, coords, upd)]
    return [ctx.call("scatterElements", x, ctx.operand(idx), upd, axis=axis)]


@onnx_op("ScatterND", webnn=["scatterND"])
def _scatter_nd(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    node.reject_attr("reduction", "none", "WebNN scatterND only replaces")
    idx, upd = ctx.operand(node.inputs[1]), ctx.operand(node.inputs[2])  # type: ignore[arg-type]
    return [ctx.call("scatterND", _x(ctx, node), idx, upd)]


@onnx_op("Expand", webnn=["expand"])
def _expand(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    x = _x(ctx, node)
    target = node.ints(1, "shape") or []
    try:
        shape = list(np.broadcast_shapes(tuple(x.shape), tuple(target)))
    except ValueError:
        raise Unsupported(f"shape {target}: expected a shape that input shape {list(x.shape)} broadcasts to") from None
    if shape == list(x.shape):
        return [x]
    return [ctx.call("expand", x, shape)]


@onnx_op("Tile", webnn=["tile"])
def _tile(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    return [ctx.call("tile", _x(ctx, node), node.ints(1, "repeats"))]


_PAD_MODES = {"constant": "constant", "reflect": "reflection", "edge": "edge"}


@onnx_op("Pad", webnn=["pad"])
def _pad(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    x = _x(ctx, node)
    mode = node.attr("mode", "constant")
    if mode not in _PAD_MODES:
        raise Unsupported(f"mode={mode!r}: WebNN pad has constant, reflection and edge")
    if node.opset < 11:
        pads, value = list(node.attr("pads")), float(node.attr("value", 0.0))
        axes = list(range(x.rank))
    else:
        pads = node.ints(1, "pads") or []
        cv = node.const(2, "constant_value")
        value = 0.0 if cv is None else float(np.asarray(cv).reshape(()))
        axes = [normalize_axis(a, x.rank) for a in (node.ints(3, "axes") or range(len(pads) // 2))]
    begin, end = [0] * x.rank, [0] * x.rank
    n = len(axes)
    for i, a in enumerate(axes):
        begin[a], end[a] = int(pads[i]), int(pads[i + n])
    if any(p < 0 for p in begin + end):
        raise Unsupported(f"negative pads {pads}: WebNN pad only grows tensors")
    return [ctx.call("pad", x, begin, end, mode=_PAD_MODES[mode], value=value)]


def _resample(ctx: ImportContext, node: OnnxNode, x: MLOperand, scales: list[float] | None,
              sizes: list[int] | None) -> MLOperand:
    mode = node.attr("mode", "nearest")
    if x.rank != 4:
        raise Unsupported(f"rank-{x.rank} input: WebNN resample2d is 4-D")
    if x._dt().numpy_dtype.kind != "f":
        raise Unsupported(f"{x._dt().numpy_dtype} input: WebNN resample2d takes float32/float16")
    if scales is not None and [float(s) for s in scales[:2]] != [1.0, 1.0]:
        raise Unsupported(f"scales {scales} resize batch/channels; WebNN resamples H and W only")
    if sizes is not None and list(sizes[:2]) != list(x.shape[:2]):
        raise Unsupported(f"sizes {sizes} resize batch/channels; WebNN resamples H and W only")
    coord = node.attr("coordinate_transformation_mode", "half_pixel" if node.opset >= 11 else "asymmetric")
    in_hw = list(x.shape[2:])
    out_hw = [int(v) for v in sizes[2:]] if sizes is not None else [
        int(np.floor(d * float(f))) for d, f in zip(in_hw, (scales or [1, 1, 1, 1])[2:], strict=True)]
    if coord == "pytorch_half_pixel" and min(out_hw) > 1:
        coord = "half_pixel"  # identical unless an output dimension is 1
    # webnnc lowers resample2d like ONNX Resize with half_pixel coordinates (and, for
    # nearest, round_prefer_floor); other ONNX modes are accepted only where they provably
    # pick the same source positions: integer upscaling, where no coordinate is a tie.
    if scales is not None:
        integer_up = all(float(f).is_integer() and f >= 1 for f in scales[2:])
    else:
        integer_up = all(o % i == 0 for o, i in zip(out_hw, in_hw, strict=True))
    # Other placements go through webnnc's resample2d extension (ONNX's own attribute values),
    # which the ONNX target lowers to one Resize node: ONNX Runtime's kernel, as on the original.
    extension: dict[str, str] = {}
    if mode == "linear":
        if coord != "half_pixel" and not (integer_up and out_hw == in_hw):
            extension["coordinate_transformation_mode"] = coord
        webnn_mode = "linear"
    elif mode == "nearest":
        nearest = node.attr("nearest_mode", "round_prefer_floor") if node.opset >= 11 else "floor"
        same = coord == "half_pixel" and nearest == "round_prefer_floor"
        same_when_integer = (coord == "asymmetric" and nearest == "floor") or (
            coord == "half_pixel" and nearest == "round_prefer_ceil")
        if not (same or (integer_up and same_when_integer)):
            extension = {"coordinate_transformation_mode": coord, "nearest_mode": nearest}
        webnn_mode = "nearest-neighbor"
    else:
        raise Unsupported(f"mode={mode!r}: WebNN resample2d has nearest-neighbor and linear")
    if extension.get("coordinate_transformation_mode", "half_pixel") not in COORDINATE_MODES:
        raise Unsupported(f"coordinate_transformation_mode={coord!r} is not mapped")
    if extension.get("nearest_mode", "round_prefer_floor") not in NEAREST_MODES:
        raise Unsupported(f"nearest_mode={extension['nearest_mode']!r} is not an ONNX value")
    if sizes is not None:
        return ctx.call("resample2d", x, mode=webnn_mode, sizes=[int(s) for s in sizes[2:]], axes=[2, 3],  # type: ignore[no-any-return]
                        **extension)
    assert scales is not None
    return ctx.call("resample2d", x, mode=webnn_mode, scales=[float(s) for s in scales[2:]], axes=[2, 3],  # type: ignore[no-any-return]
                    **extension)


@onnx_op("Resize", webnn=["resample2d", "gather", "sub", "mul", "add"],
         note="4-D H/W: one resample2d (other ONNX placements, e.g. align_corners, through webnnc's "
              "coordinateTransformationMode / nearestMode extension: one ONNX Resize again); other "
              "ranks or resized batch/channels: exact per-axis gathers")
def _resize(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    x = _x(ctx, node)
    node.reject_attr("antialias", 0, "WebNN resample2d does not antialias")
    node.reject_attr("exclude_outside", 0, "WebNN resample2d has no exclude_outside")
    node.reject_attr("keep_aspect_ratio_policy", "stretch", "WebNN resample2d takes exact sizes")
    if node.attr("axes") is not None:
        raise Unsupported("the axes attribute is not mapped")
    if node.opset < 11:
        scales_arr = node.const(1, "scales")
        sizes_arr = None
    else:
        scales_arr = node.const(2, "scales")
        sizes_arr = node.const(3, "sizes")
    scales = None if scales_arr is None or scales_arr.size == 0 else [float(s) for s in scales_arr]
    sizes = None if sizes_arr is None or sizes_arr.size == 0 else [int(s) for s in sizes_arr]
    return [_resample_or_gathers(ctx, node, x, scales, sizes)]


def _resample_or_gathers(ctx: ImportContext, node: OnnxNode, x: MLOperand, scales: list[float] | None,
                         sizes: list[int] | None) -> MLOperand:
    """resample2d where it computes the same; else exact per-axis gathers (_onnx_resize.py)."""
    for what, values in (("scales", scales), ("sizes", sizes)):
        if values is not None and len(values) != x.rank:
            raise Unsupported(f"{what} {values}: expected {x.rank} values (one per input axis); found {len(values)}")
    if scales is not None and not all(math.isfinite(f) and f > 0 for f in scales):
        raise Unsupported(f"scales {scales}: expected finite positive values")
    try:
        return _resample(ctx, node, x, scales, sizes)
    except Unsupported as first:
        try:
            return resize_by_gathers(ctx, node, x, scales, sizes)
        except Unsupported as second:
            raise Unsupported(f"{first}; as gathers: {second}") from None


@onnx_op("Upsample", webnn=["resample2d", "gather", "sub", "mul", "add"])
def _upsample(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    x = _x(ctx, node)
    scales = node.attr("scales")
    if scales is None:
        scales = [float(s) for s in node.const(1, "scales")]  # type: ignore[union-attr]
    return [_resample_or_gathers(ctx, node, x, list(scales), None)]


@onnx_op("DepthToSpace", "SpaceToDepth", webnn=["reshape", "transpose"],
         note="exact reshape-transpose-reshape (DCR and CRD modes)")
def _depth_space(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    x = _x(ctx, node)
    if x.rank != 4:
        raise Unsupported(f"rank-{x.rank} input: {node.op_type} is defined for NCHW tensors")
    bs = int(node.attr("blocksize"))
    if bs < 1:
        raise Unsupported(f"blocksize: expected a positive integer; found {bs}")
    n, c, h, w = x.shape
    if node.op_type == "SpaceToDepth":
        t = ctx.reshape(x, [n, c, h // bs, bs, w // bs, bs])
        t = ctx.call("transpose", t, permutation=[0, 3, 5, 1, 2, 4])
        return [ctx.reshape(t, [n, c * bs * bs, h // bs, w // bs])]
    if node.attr("mode", "DCR") == "DCR":
        t = ctx.reshape(x, [n, bs, bs, c // (bs * bs), h, w])
        t = ctx.call("transpose", t, permutation=[0, 3, 4, 1, 5, 2])
    else:
        t = ctx.reshape(x, [n, c // (bs * bs), bs, bs, h, w])
        t = ctx.call("transpose", t, permutation=[0, 1, 4, 2, 5, 3])
    return [ctx.reshape(t, [n, c // (bs * bs), h * bs, w * bs])]


_REDUCE = {
    "ReduceMean": "reduceMean", "ReduceSum": "reduceSum", "ReduceMax": "reduceMax",
    "ReduceMin": "reduceMin", "ReduceProd": "reduceProduct", "ReduceL1": "reduceL1",
    "ReduceL2": "reduceL2", "ReduceLogSum": "reduceLogSum", "ReduceLogSumExp": "reduceLogSumExp",
    "ReduceSumSquare": "reduceSumSquare",
}


def _reduce_converter(webnn: str) -> Any:
    def convert(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
        x = _x(ctx, node)
        axes = _axes(node, 1)
        keep = bool(node.attr("keepdims", 1))
        if not axes:
            if node.attr("noop_with_empty_axes", 0):
                return [x]
            axes = list(range(x.rank))
        axes = sorted({normalize_axis(a, x.rank) for a in axes})
        if webnn == "reduceMean" and not ctx.has(webnn):
            raise Unsupported("the webnnc builder has no reduceMean")
        return [ctx.call(webnn, x, axes=axes, keep_dimensions=keep)]

    return convert


for _onnx, _webnn in _REDUCE.items():
    onnx_op(_onnx, webnn=[_webnn])(_reduce_converter(_webnn))


@onnx_op("ArgMax", "ArgMin", webnn={"ArgMax": ["argMax"], "ArgMin": ["argMin"]})
def _arg(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    node.reject_attr("select_last_index", 0, "WebNN returns the first index of ties")
    x = _x(ctx, node)
    axis = normalize_axis(node.attr("axis", 0), x.rank)
    op = "argMax" if node.op_type == "ArgMax" else "argMin"
    return [ctx.call(op, x, axis, keep_dimensions=bool(node.attr("keepdims", 1)), output_data_type="int64")]


@onnx_op("CumSum", webnn=["cumulativeSum"])
def _cumsum(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    x = _x(ctx, node)
    axis = normalize_axis((node.ints(1, "axis") or [0])[0], x.rank)
    return [ctx.call("cumulativeSum", x, axis, exclusive=bool(node.attr("exclusive", 0)),
                     reversed=bool(node.attr("reverse", 0)))]


@onnx_op("Trilu", webnn=["triangular"])
def _trilu(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    k = node.ints(1, "k")
    return [ctx.call("triangular", _x(ctx, node), upper=bool(node.attr("upper", 1)),
                     diagonal=0 if not k else k[0])]


@onnx_op("LpNormalization", webnn=["reduceL1", "reduceL2", "div"], note="x / reduceL1|L2(x) along axis")
def _lp_normalization(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    x = _x(ctx, node)
    p = int(node.attr("p", 2))
    if p not in (1, 2):
        raise Unsupported(f"p={p}: only the L1 and L2 norms exist")
    axis = normalize_axis(node.attr("axis", -1), x.rank)
    norm = ctx.call("reduceL1" if p == 1 else "reduceL2", x, axes=[axis], keep_dimensions=True)
    return [ctx.call("div", x, norm)]


@onnx_op("ConstantOfShape", webnn=["expand"],
         note="folded; a fill too large to fold becomes expand() of a one-element constant")
def _constant_of_shape(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    shape = node.ints(0, "shape") or []
    value = node.attr("value")
    fill = np.zeros([1], np.float32) if value is None else np.asarray(value).reshape([1])
    if any(d <= 0 for d in shape):
        raise Unsupported(f"shape {shape} has zero-sized dimensions; WebNN dimensions are >= 1")
    scalar = ctx.operand(fill.reshape([1] * len(shape)))
    return [ctx.call("expand", scalar, shape)]


def _iota(length: int, axis: int, rank: int) -> np.ndarray:
    """0..length-1 laid along ``axis`` of a rank-``rank`` tensor (ones elsewhere)."""
    shape = [1] * rank
    shape[axis] = length
    return np.arange(length, dtype=np.int64).reshape(shape)


@onnx_op("Hardmax", webnn=["argMax", "equal", "cast"],
         note="1 where argMax (first maximum) is, as ONNX picks the first of ties")
def _hardmax(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    from webnnc.compiler.importers._onnx_ops_nn import _softmax_axis

    x = _x(ctx, node)
    y_in, axis, flattened = _softmax_axis(ctx, node, x)
    best = ctx.call("argMax", y_in, axis, keep_dimensions=True, output_data_type="int64")
    hit = ctx.call("equal", best, ctx.operand(_iota(y_in.shape[axis], axis, y_in.rank)))
    y = ctx.call("cast", hit, x.data_type)
    return [ctx.reshape(y, x.shape) if flattened else y]


@onnx_op("OneHot", webnn=["equal", "where", "add", "lesser"],
         note="constant depth and values; negative indices count from the end")
def _one_hot(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    idx = node.inputs[0]
    assert idx is not None
    depth_arr = node.const(1, "depth")
    values = node.const(2, "values")
    assert depth_arr is not None and values is not None
    if np.asarray(depth_arr).size != 1:
        raise Unsupported(f"depth: expected a scalar; found shape {list(np.asarray(depth_arr).shape)}")
    depth = int(np.asarray(depth_arr).reshape(()))
    if not 1 <= depth <= 2**31 - 1:
        raise Unsupported(f"depth: expected a value in [1, 2^31-1] (the largest WebNN dimension); found {depth}")
    rank = len(ctx.shape(idx)) + 1
    axis = normalize_axis(node.attr("axis", -1), rank)
    if isinstance(idx, MLOperand):
        if idx.data_type not in ("int32", "int64", "int8", "uint8", "uint32", "uint64"):
            raise Unsupported(f"{idx.data_type} indices: only integer indices are mapped")
        i64 = idx if idx.data_type == "int64" else ctx.call("cast", idx, "int64")
        wrapped = ctx.call("add", i64, ctx.scalar(depth, i64))
        i64 = ctx.call("where", ctx.call("lesser", i64, ctx.scalar(0, i64)), wrapped, i64)
    else:
        arr = np.asarray(idx).astype(np.int64)
        i64 = ctx.operand(np.where(arr < 0, arr + depth, arr))
    expanded = ctx.reshape(i64, [*i64.shape[:axis], 1, *i64.shape[axis:]])
    hit = ctx.call("equal", expanded, ctx.operand(_iota(depth, axis, rank)))
    off, on = (np.asarray(v).reshape([1] * rank) for v in np.asarray(values).reshape(2))
    out_shape = [*i64.shape[:axis], depth, *i64.shape[axis:]]
    on_full = ctx.call("expand", ctx.operand(np.asarray(on)), out_shape)
    return [ctx.call("where", hit, on_full, ctx.operand(np.asarray(off)))]


@onnx_op("TopK", webnn=["reduceMax", "reduceMin", "argMax", "argMin"],
         note="k = 1 only (WebNN has no sort): the maximum (or minimum) and its first index")
def _topk(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    x = _x(ctx, node)
    k = node.ints(1, "K") if node.opset >= 10 else [int(node.attr("k"))]
    if k != [1]:
        raise Unsupported(f"K={k}: WebNN has no sort or top-k; only K=1 is mapped")
    axis = normalize_axis(node.attr("axis", -1), x.rank)
    largest = bool(node.attr("largest", 1))
    value = ctx.call("reduceMax" if largest else "reduceMin", x, axes=[axis], keep_dimensions=True)
    index = ctx.call("argMax" if largest else "argMin", x, axis, keep_dimensions=True, output_data_type="int64")
    return [value, index]
