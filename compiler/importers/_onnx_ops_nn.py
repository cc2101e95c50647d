"""ONNX neural-network operators -> WebNN: convolution, pooling, normalization, Gemm/MatMul, softmax."""

from __future__ import annotations

import math
from collections.abc import Sequence

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
from webnnc.compiler.importers._onnx_nd import conv3d, global_pool_nd, pool3d

__all__: list[str] = []


def _spatial_pads(node: OnnxNode, in_hw: Sequence[int], kernel: Sequence[int],
                  strides: Sequence[int], dilations: Sequence[int]) -> list[int]:
    """WebNN padding [top, bottom, left, right] from ONNX pads / auto_pad (static shapes)."""
    auto_pad = node.attr("auto_pad", "NOTSET")
    n = len(kernel)
    if n != len(in_hw):
        raise Unsupported(f"kernel_shape {list(kernel)}: expected {len(in_hw)} values (one per spatial axis); found {n}")
    for what, values in (("strides", strides), ("dilations", dilations)):
        if len(values) != n:
            raise Unsupported(f"{what} {list(values)}: expected {n} values (one per spatial axis); found {len(values)}")
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        pads = [0] * (2 * n)
        for i in range(n):
            size = math.ceil(in_hw[i] / strides[i])
            total = max((size - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - in_hw[i], 0)
            small, big = total // 2, total - total // 2
            pads[i], pads[i + n] = (small, big) if auto_pad == "SAME_UPPER" else (big, small)
    elif auto_pad == "VALID":
        pads = [0] * (2 * n)
    elif auto_pad in ("NOTSET", ""):
        pads = list(node.attr("pads", [0] * (2 * n)))
        if len(pads) != 2 * n:
            raise Unsupported(f"pads {pads}: expected {2 * n} values (begin and end per spatial axis); found {len(pads)}")
    else:
        raise Unsupported(f"auto_pad={auto_pad!r} is not an ONNX value")
    if any(p < 0 for p in pads):
        raise Unsupported(f"negative pads {pads}: WebNN padding is non-negative")
    out: list[int] = []
    for i in range(n):
        out += [int(pads[i]), int(pads[i + n])]
    return out


def _as_2d(ctx: ImportContext, node: OnnxNode, x: MLOperand) -> tuple[MLOperand, bool]:
    """A 1-D spatial input [N, C, L] becomes [N, C, 1, L]; 2-D passes through.

    The length goes on the last axis (W), not on H: ORT's NCHWc convolution kernels walk along
    W, and an [N, C, L, 1] layout made wav2vec 2.0's 1-D front end (7 convs, 512 channels)
    1.52x slower than ORT's own 1-D Conv on the original, [N, C, 1, L] 0.85x
    (one thread, CPU time; see /work/notes/s2-widen.md).
    """
    if x.rank == 4:
        return x, False
    if x.rank == 3:
        return ctx.reshape(x, [x.shape[0], x.shape[1], 1, x.shape[2]]), True
    raise Unsupported(f"{x.rank - 2}-D spatial input: WebNN has 2-D convolution and pooling only")


def _from_2d(ctx: ImportContext, y: MLOperand, was_1d: bool) -> MLOperand:
    """Undo ``_as_2d``: [N, C, 1, L] -> [N, C, L]."""
    return ctx.reshape(y, [y.shape[0], y.shape[1], y.shape[3]]) if was_1d else y


def _extend(values: Sequence[int] | None, default: int, was_1d: bool) -> list[int] | None:
    if values is None:
        return None
    v = [int(a) for a in values]
    return [default, *v] if was_1d else v


def _pads_1d_as_2d(node: OnnxNode, was_1d: bool) -> OnnxNode:
    """ONNX 1-D pads [begin, end] as the 2-D pads [0, begin, 0, end] of the [1, L] layout."""
    if not was_1d or "pads" not in node.attrs:
        return node
    p = list(node.attrs["pads"])
    if len(p) != 2:
        raise Unsupported(f"pads {p}: expected 2 values (begin and end of the 1-D axis); found {len(p)}")
    return OnnxNode(node.name, node.op_type, node.opset, node.inputs,
                    {**node.attrs, "pads": [0, p[0], 0, p[1]]}, node.num_outputs)


@onnx_op("Conv", webnn=["conv2d", "reshape", "slice", "gather", "add", "transpose", "pad"],
         note="1-D convolutions run as 2-D ones; 3-D ones as a sum of conv2d's over the kernel depth")
def _conv(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    x, w = ctx.operand(node.inputs[0]), node.inputs[1]  # type: ignore[arg-type]
    assert w is not None
    if x.rank == 5:
        return [conv3d(ctx, node, x, w, node.input(2), _spatial_pads)]
    x4, was_1d = _as_2d(ctx, node, x)
    w_shape = ctx.shape(w)
    if was_1d:
        w4_shape = [w_shape[0], w_shape[1], 1, w_shape[2]]
        w = ctx.reshape(w, w4_shape) if isinstance(w, MLOperand) else np.asarray(w).reshape(w4_shape)
    kernel = ctx.shape(w)[2:]
    strides = _extend(node.attr("strides"), 1, was_1d) or [1, 1]
    dilations = _extend(node.attr("dilations"), 1, was_1d) or [1, 1]
    padding = _spatial_pads(_pads_1d_as_2d(node, was_1d), x4.shape[2:], kernel, strides, dilations)
    bias = node.input(2)
    y = ctx.call(
        "conv2d", x4, ctx.operand(w), padding=padding, strides=strides, dilations=dilations,
        groups=int(node.attr("group", 1)), bias=None if bias is None else ctx.operand(bias),
    )
    return [_from_2d(ctx, y, was_1d)]


@onnx_op("ConvTranspose", webnn=["convTranspose2d", "reshape"], note="1-D ones run as 2-D ones")
def _conv_transpose(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    x, w = ctx.operand(node.inputs[0]), node.inputs[1]  # type: ignore[arg-type]
    assert w is not None
    if x.rank not in (3, 4):
        raise Unsupported(f"{x.rank - 2}-D ConvTranspose: WebNN has convTranspose2d only")
    if node.attr("output_shape") is not None:
        raise Unsupported("output_shape is not mapped (give pads / output_padding instead)")
    x4, was_1d = _as_2d(ctx, node, x)  # 1-D (vocoders, audio decoders): [N, C, 1, L]
    if was_1d:
        w_shape = ctx.shape(w)
        w4_shape = [w_shape[0], w_shape[1], 1, w_shape[2]]
        w = ctx.reshape(w, w4_shape) if isinstance(w, MLOperand) else np.asarray(w).reshape(w4_shape)
    kernel = ctx.shape(w)[2:]
    strides = _extend(node.attr("strides"), 1, was_1d) or [1, 1]
    dilations = _extend(node.attr("dilations"), 1, was_1d) or [1, 1]
    auto_pad = node.attr("auto_pad", "NOTSET")
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        raise Unsupported(f"auto_pad={auto_pad} for ConvTranspose is not mapped")
    padding = _spatial_pads(_pads_1d_as_2d(node, was_1d), x4.shape[2:], kernel, strides, dilations)
    bias = node.input(2)
    y = ctx.call(
        "convTranspose2d", x4, ctx.operand(w), padding=padding, strides=strides,
        dilations=dilations, groups=int(node.attr("group", 1)),
        output_padding=_extend(node.attr("output_padding"), 0, was_1d) or [0, 0], filter_layout="iohw",
        bias=None if bias is None else ctx.operand(bias),
    )
    return [_from_2d(ctx, y, was_1d)]


def _pool_common(node: OnnxNode, x4: MLOperand, was_1d: bool) -> dict[str, object]:
    kernel = _extend(node.attr("kernel_shape"), 1, was_1d)
    if kernel is None:
        raise Unsupported("kernel_shape is required")
    strides = _extend(node.attr("strides"), 1, was_1d) or [1, 1]
    dilations = _extend(node.attr("dilations"), 1, was_1d) or [1, 1]
    padding = _spatial_pads(_pads_1d_as_2d(node, was_1d), x4.shape[2:], kernel, strides, dilations)
    rounding = _rounding(node, x4.shape[2:], kernel, padding, strides, dilations)
    opts: dict[str, object] = {"window_dimensions": kernel, "padding": padding, "strides": strides,
                               "rounding_type": rounding}
    if dilations != [1, 1]:
        opts["dilations"] = dilations
    return opts


def _rounding(node: OnnxNode, in_hw: Sequence[int], kernel: Sequence[int], padding: Sequence[int],
              strides: Sequence[int], dilations: Sequence[int]) -> str:
    """WebNN rounding for ONNX ceil_mode: ONNX drops a last window that would start in the
    end padding, which makes those sizes the floor ones."""
    if not node.attr("ceil_mode", 0):
        return "floor"
    wanted, floors, ceils = [], [], []
    for d in range(2):
        raw = (in_hw[d] + padding[2 * d] + padding[2 * d + 1] - ((kernel[d] - 1) * dilations[d] + 1)) / strides[d]
        lo, hi = math.floor(raw) + 1, math.ceil(raw) + 1
        floors.append(lo)
        ceils.append(hi)
        wanted.append(hi - 1 if (hi - 1) * strides[d] >= in_hw[d] + padding[2 * d] else hi)
    if wanted == ceils:
        return "ceil"
    if wanted == floors:
        return "floor"
    raise Unsupported(f"ceil_mode output {wanted} mixes floor {floors} and ceil {ceils} rounding per axis")


@onnx_op("MaxPool", webnn=["maxPool2d"], note="3-D pooling as two separable 2-D pools")
def _max_pool(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    node.only_first_output("the Indices output")
    node.reject_attr("storage_order", 0, "only row-major indices exist in WebNN")
    x = ctx.operand(node.inputs[0])  # type: ignore[arg-type]
    if x.rank == 5:
        return [pool3d(ctx, node, "maxPool2d", x, _spatial_pads, _rounding)]
    x4, was_1d = _as_2d(ctx, node, ctx.operand(node.inputs[0]))  # type: ignore[arg-type]
    y = ctx.call("maxPool2d", x4, **_pool_common(node, x4, was_1d))
    return [_from_2d(ctx, y, was_1d)]


@onnx_op("AveragePool", webnn=["averagePool2d", "mul"],
         note="count_include_pad=1 rescales by a constant valid-count map; 3-D as two separable 2-D pools")
def _avg_pool(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    x = ctx.operand(node.inputs[0])  # type: ignore[arg-type]
    if x.rank == 5:
        return [pool3d(ctx, node, "averagePool2d", x, _spatial_pads, _rounding)]
    x4, was_1d = _as_2d(ctx, node, ctx.operand(node.inputs[0]))  # type: ignore[arg-type]
    opts = _pool_common(node, x4, was_1d)
    y = ctx.call("averagePool2d", x4, **opts)
    padding = list(opts["padding"])  # type: ignore[call-overload]
    if node.attr("count_include_pad", 0) and any(padding):
        if node.attr("ceil_mode", 0):
            raise Unsupported("count_include_pad=1 together with ceil_mode=1 is not mapped")
        ratio = _valid_fraction(x4.shape[2:], list(opts["window_dimensions"]),  # type: ignore[call-overload]
                                padding, list(opts["strides"]), y.shape[2:],  # type: ignore[call-overload]
                                list(opts.get("dilations", [1, 1])))  # type: ignore[call-overload]
        y = ctx.call("mul", y, ctx.operand(ratio.astype(x4._dt().numpy_dtype)))
    return [_from_2d(ctx, y, was_1d)]


def _valid_fraction(in_hw: Sequence[int], k: Sequence[int], pads: Sequence[int],
                    strides: Sequence[int], out_hw: Sequence[int], dilations: Sequence[int]) -> np.ndarray:
    """valid taps / window taps per output position: turns an exclude-pad mean into an include-pad one."""
    axes = []
    for d in range(2):
        taps = (np.arange(out_hw[d]) * strides[d] - pads[2 * d])[:, None] + np.arange(k[d]) * dilations[d]
        axes.append(((taps >= 0) & (taps < in_hw[d])).sum(axis=1).astype(np.float64))
    return (np.outer(axes[0], axes[1]) / (k[0] * k[1])).reshape(1, 1, out_hw[0], out_hw[1])


@onnx_op("GlobalAveragePool", "GlobalMaxPool",
         webnn={"GlobalAveragePool": ["averagePool2d"], "GlobalMaxPool": ["maxPool2d"]})
def _global_pool(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    op = "averagePool2d" if node.op_type == "GlobalAveragePool" else "maxPool2d"
    x = ctx.operand(node.inputs[0])  # type: ignore[arg-type]
    if x.rank > 4:
        return [global_pool_nd(ctx, op, x)]
    x4, was_1d = _as_2d(ctx, node, x)
    y = ctx.call(op, x4, window_dimensions=list(x4.shape[2:]))
    return [_from_2d(ctx, y, was_1d)]


@onnx_op("LpPool", "GlobalLpPool", webnn=["l2Pool2d"], note="p=2 only")
def _lp_pool(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    if int(node.attr("p", 2)) != 2:
        raise Unsupported(f"p={node.attr('p')}: WebNN has L2 pooling only")
    x4, was_1d = _as_2d(ctx, node, ctx.operand(node.inputs[0]))  # type: ignore[arg-type]
    if node.op_type == "GlobalLpPool":
        y = ctx.call("l2Pool2d", x4, window_dimensions=list(x4.shape[2:]))
    else:
        y = ctx.call("l2Pool2d", x4, **_pool_common(node, x4, was_1d))
    return [_from_2d(ctx, y, was_1d)]


@onnx_op("BatchNormalization", webnn=["batchNormalization"])
def _batch_norm(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    node.reject_attr("training_mode", 0, "WebNN batchNormalization is inference-only")
    node.only_first_output("running mean / variance outputs (training)")
    if node.opset < 9:
        node.reject_attr("spatial", 1, "per-activation (spatial=0) statistics are not mapped")
    x, scale, bias, mean, var = (node.input(i) for i in range(5))
    xo = ctx.operand(x)  # type: ignore[arg-type]
    return [ctx.call(
        "batchNormalization", xo, ctx.operand(mean), ctx.operand(var),  # type: ignore[arg-type]
        scale=ctx.operand(scale), bias=ctx.operand(bias),  # type: ignore[arg-type]
        axis=1, epsilon=float(node.attr("epsilon", 1e-5)),
    )]


def _normalize_composed(ctx: ImportContext, x: MLOperand, axes: list[int], eps: float,
                        scale: MLOperand | None, bias: MLOperand | None) -> MLOperand:
    """(x - mean) / sqrt(var + eps) * scale + bias over ``axes`` (the spec's own formula)."""
    mean = ctx.call("reduceMean", x, axes=axes, keep_dimensions=True)
    centered = ctx.call("sub", x, mean)
    var = ctx.call("reduceMean", ctx.call("mul", centered, centered), axes=axes, keep_dimensions=True)
    y = ctx.call("div", centered, ctx.call("sqrt", ctx.call("add", var, ctx.scalar(eps, x))))
    if scale is not None:
        y = ctx.call("mul", y, scale)
    if bias is not None:
        y = ctx.call("add", y, bias)
    return y


@onnx_op("InstanceNormalization", webnn=["instanceNormalization"],
         note="composed from reduceMean/sub/mul/div/sqrt when the builder lacks it")
def _instance_norm(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    x = ctx.operand(node.inputs[0])  # type: ignore[arg-type]
    scale, bias = ctx.operand(node.inputs[1]), ctx.operand(node.inputs[2])  # type: ignore[arg-type]
    eps = float(node.attr("epsilon", 1e-5))
    if x.rank == 4 and ctx.has("instanceNormalization"):
        return [ctx.call("instanceNormalization", x, scale=scale, bias=bias, epsilon=eps)]
    if x.rank >= 3 and ctx.has("instanceNormalization"):
        # statistics over all spatial axes = over them flattened into W of [N, C, 1, L] (the
        # layout 1-D convolutions use, so the reshapes between them cancel); a torch GroupNorm
        # export is Reshape -> 3-D InstanceNormalization, composed it cost wav2vec 2.0 six
        # extra memory passes per norm
        flat = ctx.reshape(x, [x.shape[0], x.shape[1], 1, prod(x.shape[2:])])
        y = ctx.call("instanceNormalization", flat, scale=scale, bias=bias, epsilon=eps)
        return [ctx.reshape(y, x.shape)]
    per_channel = [1, x.shape[1]] + [1] * (x.rank - 2)
    return [_normalize_composed(ctx, x, list(range(2, x.rank)), eps,
                                ctx.reshape(scale, per_channel), ctx.reshape(bias, per_channel))]


@onnx_op("LayerNormalization", webnn=["layerNormalization"],
         note="composed from reduceMean/sub/mul/div/sqrt when the builder lacks it")
def _layer_norm(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    node.only_first_output("the Mean / InvStdDev outputs")
    x = ctx.operand(node.inputs[0])  # type: ignore[arg-type]
    axis = normalize_axis(node.attr("axis", -1), x.rank)
    axes = list(range(axis, x.rank))
    eps = float(node.attr("epsilon", 1e-5))
    scale_t, bias_t = node.input(1), node.input(2)
    norm_shape = list(x.shape[axis:])
    scale = None if scale_t is None else ctx.reshape(ctx.operand(scale_t), norm_shape)
    bias = None if bias_t is None else ctx.reshape(ctx.operand(bias_t), norm_shape)
    if ctx.has("layerNormalization"):
        return [ctx.call("layerNormalization", x, scale=scale, bias=bias, axes=axes, epsilon=eps)]
    return [_normalize_composed(ctx, x, axes, eps, scale, bias)]


@onnx_op("LRN", webnn=["reshape", "mul", "conv2d", "add", "pow", "div"],
         note="channel-window sum as a conv2d with a ones filter")
def _lrn(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    x = ctx.operand(node.inputs[0])  # type: ignore[arg-type]
    if x.rank != 4:
        raise Unsupported(f"rank-{x.rank} LRN input: only NCHW is mapped")
    size = int(node.attr("size"))
    alpha, beta, bias = (float(node.attr(k, d)) for k, d in (("alpha", 1e-4), ("beta", 0.75), ("bias", 1.0)))
    n, c, h, w = x.shape
    sq = ctx.reshape(ctx.call("mul", x, x), [n, 1, c, h * w])
    ones = np.ones([1, 1, size, 1], dtype=x._dt().numpy_dtype)
    before, after = (size - 1) // 2, size - 1 - (size - 1) // 2
    window_sum = ctx.call("conv2d", sq, ctx.operand(ones), padding=[before, after, 0, 0])
    window_sum = ctx.reshape(window_sum, [n, c, h, w])
    base = ctx.call("add", ctx.call("mul", window_sum, ctx.scalar(alpha / size, x)), ctx.scalar(bias, x))
    return [ctx.call("div", x, ctx.call("pow", base, ctx.scalar(beta, x)))]


@onnx_op("Gemm", webnn=["gemm"])
def _gemm(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    a, b = ctx.operand(node.inputs[0]), node.inputs[1]  # type: ignore[arg-type]
    c = node.input(2)
    return [ctx.call(
        "gemm", a, ctx.operand(b), None if c is None else ctx.operand(c),  # type: ignore[arg-type]
        alpha=float(node.attr("alpha", 1.0)), beta=float(node.attr("beta", 1.0)),
        a_transpose=bool(node.attr("transA", 0)), b_transpose=bool(node.attr("transB", 0)),
    )]


@onnx_op("MatMul", webnn=["matmul", "reshape"], note="1-D operands are reshaped as numpy does")
def _matmul(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    a, b = ctx.operand(node.inputs[0]), ctx.operand(node.inputs[1])  # type: ignore[arg-type]
    a_vec, b_vec = a.rank == 1, b.rank == 1
    if a_vec:
        a = ctx.reshape(a, [1, a.shape[0]])
    if b_vec:
        b = ctx.reshape(b, [b.shape[0], 1])
    y = ctx.call("matmul", a, b)
    if a_vec or b_vec:
        shape = list(y.shape)
        if a_vec:
            del shape[-2]
        if b_vec:
            del shape[-1]
        y = ctx.reshape(y, shape) if shape else ctx.reshape(y, [])
    return [y]


def _softmax_axis(ctx: ImportContext, node: OnnxNode, x: MLOperand) -> tuple[MLOperand, int, bool]:
    """Opset < 13 softmax flattens to 2-D at ``axis``; later opsets use the axis directly."""
    if node.opset >= 13:
        return x, normalize_axis(node.attr("axis", -1), x.rank), False
    axis = normalize_axis(node.attr("axis", 1), x.rank)
    if axis == x.rank - 1:
        return x, axis, False
    flat = ctx.reshape(x, [prod(x.shape[:axis]), prod(x.shape[axis:])])
    return flat, 1, True


@onnx_op("Softmax", webnn=["softmax"])
def _softmax(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    x = ctx.operand(node.inputs[0])  # type: ignore[arg-type]
    y_in, axis, flattened = _softmax_axis(ctx, node, x)
    y = ctx.call("softmax", y_in, axis)
    return [ctx.reshape(y, x.shape) if flattened else y]


@onnx_op("LogSoftmax", webnn=["reduceMax", "sub", "exp", "reduceSum", "log"],
         note="x - max - log(sum(exp(x - max)))")
def _log_softmax(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    x = ctx.operand(node.inputs[0])  # type: ignore[arg-type]
    y_in, axis, flattened = _softmax_axis(ctx, node, x)
    shifted = ctx.call("sub", y_in, ctx.call("reduceMax", y_in, axes=[axis], keep_dimensions=True))
    total = ctx.call("reduceSum", ctx.call("exp", shifted), axes=[axis], keep_dimensions=True)
    y = ctx.call("sub", shifted, ctx.call("log", total))
    return [ctx.reshape(y, x.shape) if flattened else y]


def _einsum_terms(equation: str, ranks: list[int]) -> tuple[list[str], str]:
    eq = equation.replace(" ", "")
    if "..." in eq:
        raise Unsupported(f"equation {equation!r}: ellipsis ('...') is not mapped")
    lhs, arrow, out = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ranks):
        raise Unsupported(f"equation {equation!r} names {len(terms)} operands; the node has {len(ranks)}")
    for t, r in zip(terms, ranks, strict=True):
        if len(t) != r or len(set(t)) != len(t):
            raise Unsupported(f"term {t!r} of {equation!r}: repeated indices (diagonals) or a rank "
                              f"other than {r} are not mapped")
    if not arrow:  # implicit output: indices used once, alphabetically
        once = [c for c in sorted(set(lhs.replace(",", ""))) if lhs.count(c) == 1]
        out = "".join(once)
    unknown = sorted(set(out) - set(lhs.replace(",", "")))
    if unknown or len(set(out)) != len(out):
        raise Unsupported(f"equation {equation!r}: expected output indices that appear once each and "
                          f"on the left of '->'; found {out!r}")
    return terms, out


@onnx_op("Einsum", webnn=["transpose", "reshape", "matmul", "reduceSum"],
         note="one or two operands, no ellipsis or diagonals: transposes + one batched matmul")
def _einsum(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    ops = [ctx.operand(t) for t in node.inputs if t is not None]
    if len(ops) > 2:
        raise Unsupported(f"{len(ops)} operands: only one- and two-operand einsums are mapped")
    terms, out = _einsum_terms(str(node.attr("equation")), [o.rank for o in ops])
    sizes: dict[str, int] = {}
    for t, o in zip(terms, ops, strict=True):
        for c, d in zip(t, o.shape, strict=True):
            if sizes.setdefault(c, d) != d:
                raise Unsupported(f"index {c!r} has sizes {sizes[c]} and {d}: broadcasting is not mapped")

    def reduce_only(x: MLOperand, term: str, keep: set[str]) -> tuple[MLOperand, str]:
        axes = [i for i, c in enumerate(term) if c not in keep]
        if not axes:
            return x, term
        return ctx.call("reduceSum", x, axes=axes, keep_dimensions=False), "".join(c for c in term if c in keep)

    def permute(x: MLOperand, term: str, order: str) -> MLOperand:
        perm = [term.index(c) for c in order]
        return x if perm == list(range(len(perm))) else ctx.call("transpose", x, permutation=perm)

    if len(ops) == 1:
        x, term = reduce_only(ops[0], terms[0], set(out))
        return [permute(x, term, out)]
    a, ta = reduce_only(ops[0], terms[0], set(terms[1]) | set(out))
    b, tb = reduce_only(ops[1], terms[1], set(terms[0]) | set(out))
    batch = [c for c in ta if c in tb and c in out]
    contract = [c for c in ta if c in tb and c not in out]
    left = [c for c in ta if c not in tb]
    right = [c for c in tb if c not in ta]

    def size(cs: list[str]) -> int:
        return prod([sizes[c] for c in cs])

    a3 = ctx.reshape(permute(a, ta, "".join(batch + left + contract)), [size(batch), size(left), size(contract)])
    b3 = ctx.reshape(permute(b, tb, "".join(batch + contract + right)), [size(batch), size(contract), size(right)])
    y = ctx.call("matmul", a3, b3)
    y = ctx.reshape(y, [sizes[c] for c in batch + left + right])
    return [permute(y, "".join(batch + left + right), out)]
