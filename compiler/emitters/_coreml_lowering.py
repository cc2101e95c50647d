"""The CoreML lowering table: one function per WebNN operator, written with the MIL builder.

Each function receives a :class:`MilContext` and the node and returns the MIL variable(s)
for the node's outputs. Only this module and ``coreml_emitter`` import ``coremltools``.

# NOTE: every MIL operation gets an explicit name derived from a per-graph counter. The MIL
# builder's automatic names come from a process-wide counter, so relying on them would make
# the same graph produce different bytes depending on what was converted before it.
# NOTE: after each lowering the MIL type inference's output shape is checked against the
# IR's descriptor; a mismatch is a lowering bug and fails the build instead of producing a
# model whose outputs disagree with the manifest.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from coremltools.converters.mil import Builder as mb  # noqa: N813 - the MIL idiom
from coremltools.converters.mil.mil import Var, types

from webnnc.compiler.errors import CompilerError, UnsupportedOperatorError
from webnnc.compiler.ir import DataType, Node, Value

__all__ = [
    "FLOATS",
    "LOWERINGS",
    "MIL_TYPES",
    "MilContext",
    "check_node",
    "lower_node",
    "lowers",
    "unsupported",
]

TARGET = "coreml"

# WebNN data type -> MIL tensor element type. CoreML's MLMultiArray holds float32, float16
# and int32 (plus float64, which WebNN has no use for); MIL computes in fp16, fp32, int32
# and bool. Every other WebNN type (int64, uint32, uint64, int8, uint8, int4, uint4) has no
# CoreML counterpart at the model boundary and is rejected at build time.
MIL_TYPES: dict[DataType, Any] = {
    DataType.FLOAT32: types.fp32,
    DataType.FLOAT16: types.fp16,
    DataType.INT32: types.int32,
}
MAX_RANK = 5  # CoreML's limit for every tensor in a model
FLOATS = frozenset({DataType.FLOAT32, DataType.FLOAT16})
NUMERIC = frozenset({DataType.FLOAT32, DataType.FLOAT16, DataType.INT32})


def node_label(node: Node) -> str:
    """The node's name, else its position in its graph (``#3``): builders rarely name nodes."""
    if node.name:
        return node.name
    if node.graph is not None:
        for i, n in enumerate(node.graph.nodes):
            if n is node:
                return f"#{i}"
    return "?"


def unsupported(node: Node, why: str, hint: str = "") -> UnsupportedOperatorError:
    """An error naming the op, the node and the target, saying why, with an optional hint."""
    msg = f"{node.op_type} (node {node_label(node)}): cannot be lowered to {TARGET}: {why}"
    if hint:
        msg += f"; {hint}"
    return UnsupportedOperatorError(msg)


class MilContext:
    """Maps IR values to MIL variables and hands out deterministic op names."""

    def __init__(self) -> None:
        self._vars: dict[int, Var] = {}
        self._counter = 0

    def fresh(self, hint: str) -> str:
        name = f"{hint}_{self._counter}"
        self._counter += 1
        return name

    def bind(self, value: Value, var: Var) -> None:
        self._vars[id(value)] = var

    def var(self, value: Value | None) -> Var:
        """The MIL variable of an IR value; constants become ``const`` ops on first use."""
        if value is None:
            raise CompilerError("internal: asked for the MIL variable of an omitted operand")
        key = id(value)
        if key not in self._vars:
            if value.const is None:
                raise CompilerError(f"internal: value {value!r} has no MIL variable yet")
            array = value.const
            if value.data_type == DataType.UINT8:  # a boolean (see as_bool): exact in int32
                array = array.astype(np.int32)
            self._vars[key] = mb.const(val=_mil_array(array), name=self.fresh("const"))
        return self._vars[key]

    def const(self, array: Any, data_type: DataType, hint: str = "c") -> Var:
        return mb.const(val=_mil_array(np.asarray(array, data_type.numpy_dtype)), name=self.fresh(hint))


def _mil_array(array: np.ndarray[Any, Any]) -> Any:
    # MIL wants numpy scalars for rank 0 and contiguous arrays otherwise
    arr = np.asarray(array)
    return np.ascontiguousarray(arr) if arr.ndim else arr[()]


Lowering = Callable[[MilContext, Node], "Var | Sequence[Var]"]
LOWERINGS: dict[str, Lowering] = {}
# op -> data types its lowering accepts for the operands it computes on (default: NUMERIC)
OP_TYPES: dict[str, frozenset[DataType]] = {}
# Ops whose operands at these positions may be uint8 (WebNN's boolean type): MIL computes
# them on bool, and uint8 graph inputs / outputs travel as int32 (see ``to_program``).
UINT8_OPERANDS: dict[str, frozenset[int]] = {}
# Ops whose integer index operand (position 1) may be int64 / uint32 when it is a constant:
# it is clamped and converted to int32 at build time.
INDEX_OPS = frozenset({"gather", "gatherElements", "gatherND", "scatterElements", "scatterND"})
# Operand positions that may hold any integer type when constant (they are folded or
# converted at build time): quantized weights and zero points.
CONST_INT_OPERANDS: dict[str, frozenset[int]] = {
    **{op: frozenset({1}) for op in INDEX_OPS},
    "dequantizeLinear": frozenset({0, 2}),
    "quantizeLinear": frozenset({2}),
}


def lowers(*ops: str, data_types: frozenset[DataType] = NUMERIC) -> Callable[[Lowering], Lowering]:
    def register(fn: Lowering) -> Lowering:
        for op in ops:
            LOWERINGS[op] = fn
            OP_TYPES[op] = data_types
        return fn

    return register


def _x(node: Node, i: int = 0) -> Value:
    v = node.inputs[i]
    if v is None:
        raise CompilerError(f"internal: {node.op_type} has no operand {i}")
    return v


def _dt(node: Node) -> DataType:
    return _x(node).data_type


def _name(ctx: MilContext, node: Node) -> str:
    return ctx.fresh(node.op_type)


# ---------------------------------------------------------------- element-wise
_BINARY = {
    "add": mb.add, "sub": mb.sub, "mul": mb.mul, "max": mb.maximum, "min": mb.minimum,
}


@lowers(*_BINARY)
def _binary(ctx: MilContext, node: Node) -> Var:
    return _BINARY[node.op_type](x=ctx.var(_x(node, 0)), y=ctx.var(_x(node, 1)), name=_name(ctx, node))


@lowers("div")
def _div(ctx: MilContext, node: Node) -> Var:
    a, b = ctx.var(_x(node, 0)), ctx.var(_x(node, 1))
    if _dt(node) in FLOATS:
        return mb.real_div(x=a, y=b, name=_name(ctx, node))
    # WebNN's integer division truncates toward zero; MIL's floor_div rounds down. The two
    # differ by one when the remainder is nonzero and the operands' signs differ.
    q = mb.floor_div(x=a, y=b, name=ctx.fresh("div_floor"))
    rem = mb.sub(x=a, y=mb.mul(x=q, y=b, name=ctx.fresh("div_qb")), name=ctx.fresh("div_rem"))
    zero = np.int32(0)
    inexact = mb.not_equal(x=rem, y=zero, name=ctx.fresh("div_inexact"))
    signs = mb.logical_xor(
        x=mb.less(x=a, y=zero, name=ctx.fresh("div_a_neg")), y=mb.less(x=b, y=zero, name=ctx.fresh("div_b_neg")),
        name=ctx.fresh("div_signs"),
    )
    fix = mb.logical_and(x=inexact, y=signs, name=ctx.fresh("div_fix"))
    q1 = mb.add(x=q, y=np.int32(1), name=ctx.fresh("div_q1"))
    out = node.outputs[0].shape
    return mb.select(
        cond=_broadcast_to(ctx, fix, tuple(int(d) for d in fix.shape), out),
        a=_broadcast_to(ctx, q1, tuple(int(d) for d in q1.shape), out),
        b=_broadcast_to(ctx, q, tuple(int(d) for d in q.shape), out),
        name=_name(ctx, node),
    )


@lowers("pow", data_types=FLOATS)
def _pow(ctx: MilContext, node: Node) -> Var:
    return mb.pow(x=ctx.var(_x(node, 0)), y=ctx.var(_x(node, 1)), name=_name(ctx, node))


_UNARY_FLOAT = {"sigmoid": mb.sigmoid, "tanh": mb.tanh, "exp": mb.exp, "sqrt": mb.sqrt}


@lowers(*_UNARY_FLOAT, data_types=FLOATS)
def _unary_float(ctx: MilContext, node: Node) -> Var:
    return _UNARY_FLOAT[node.op_type](x=ctx.var(_x(node)), name=_name(ctx, node))


@lowers("relu")
def _relu(ctx: MilContext, node: Node) -> Var:
    x = _x(node)
    if x.data_type in FLOATS:
        return mb.relu(x=ctx.var(x), name=_name(ctx, node))
    return mb.maximum(x=ctx.var(x), y=ctx.const(0, x.data_type, "zero"), name=_name(ctx, node))


@lowers("abs")
def _abs(ctx: MilContext, node: Node) -> Var:
    return mb.abs(x=ctx.var(_x(node)), name=_name(ctx, node))


@lowers("neg")
def _neg(ctx: MilContext, node: Node) -> Var:
    # MIL has no negation op; multiplying by -1 keeps the sign of zero (neg(0) is -0).
    x = _x(node)
    return mb.mul(x=ctx.var(x), y=ctx.const(-1, x.data_type, "minus_one"), name=_name(ctx, node))


@lowers("clamp")
def _clamp(ctx: MilContext, node: Node) -> Var:
    x = _x(node)
    dt = x.data_type
    lo, hi = float(node.attributes["min_value"]), float(node.attributes["max_value"])
    if dt in FLOATS:
        finfo = np.finfo(dt.numpy_dtype)
        lo_finite, hi_finite = max(lo, float(finfo.min)), min(hi, float(finfo.max))
        if lo_finite <= hi_finite and math.isfinite(lo) and math.isfinite(hi):
            return mb.clip(
                x=ctx.var(x), alpha=dt.numpy_dtype.type(lo), beta=dt.numpy_dtype.type(hi), name=_name(ctx, node)
            )
    else:
        info = np.iinfo(dt.numpy_dtype)
        lo, hi = max(lo, float(info.min)), min(hi, float(info.max))
        lo, hi = float(math.ceil(lo)), float(math.floor(hi))
    # An infinite bound (the spec's default) is no bound: clip needs finite ones.
    y = ctx.var(x)
    if lo != -math.inf and not (dt.is_integer and lo <= np.iinfo(dt.numpy_dtype).min):
        y = mb.maximum(x=y, y=ctx.const(lo, dt, "lo"), name=ctx.fresh("clamp_lo"))
    if hi != math.inf and not (dt.is_integer and hi >= np.iinfo(dt.numpy_dtype).max):
        y = mb.minimum(x=y, y=ctx.const(hi, dt, "hi"), name=ctx.fresh("clamp_hi"))
    if y is ctx.var(x):
        y = mb.identity(x=y, name=_name(ctx, node))
    return y


# ---------------------------------------------------------------- layouts
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
    x, w, b = _x(node, 0), _x(node, 1), node.inputs[2]
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
        name=_name(ctx, node),
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
    dt = _dt(node)
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
    return mb.identity(x=acc, name=_name(ctx, node))


@lowers("averagePool2d", "maxPool2d", "l2Pool2d", data_types=FLOATS)
def _pool2d(ctx: MilContext, node: Node) -> Var:
    a = node.attributes
    x = _x(node)
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
        y = reduce(x=xin, axes=[2, 3], keep_dims=True, name=_name(ctx, node))
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
        "name": _name(ctx, node),
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
            a=ctx.const(0, _dt(node), "zero"),
            b=y,
            name=ctx.fresh("pool_empty"),
        )
    return _from_nchw(ctx, y, layout)


# ---------------------------------------------------------------- shapes
@lowers("reshape")
def _reshape(ctx: MilContext, node: Node) -> Var:
    shape = np.asarray(node.outputs[0].shape, np.int32).reshape(-1)  # int32 even when empty
    return mb.reshape(x=ctx.var(_x(node)), shape=shape, name=_name(ctx, node))


@lowers("transpose")
def _transpose(ctx: MilContext, node: Node) -> Var:
    perm = np.asarray(node.attributes["permutation"], np.int32).reshape(-1)
    if perm.size == 0:  # a scalar: nothing to permute
        return mb.identity(x=ctx.var(_x(node)), name=_name(ctx, node))
    return mb.transpose(x=ctx.var(_x(node)), perm=perm, name=_name(ctx, node))


@lowers("concat")
def _concat(ctx: MilContext, node: Node) -> Var:
    values = [ctx.var(v) for v in node.inputs]
    if len(values) == 1:
        return mb.identity(x=values[0], name=_name(ctx, node))
    return mb.concat(values=values, axis=int(node.attributes["axis"]), name=_name(ctx, node))


# ---------------------------------------------------------------- linear algebra, normalization
@lowers("matmul", data_types=FLOATS)
def _matmul(ctx: MilContext, node: Node) -> Var:
    return mb.matmul(x=ctx.var(_x(node, 0)), y=ctx.var(_x(node, 1)), name=_name(ctx, node))


@lowers("gemm", data_types=FLOATS)
def _gemm(ctx: MilContext, node: Node) -> Var:
    a = node.attributes
    dt = _dt(node)
    alpha, beta = float(a["alpha"]), float(a["beta"])
    y = mb.matmul(
        x=ctx.var(_x(node, 0)),
        y=ctx.var(_x(node, 1)),
        transpose_x=bool(a["a_transpose"]),
        transpose_y=bool(a["b_transpose"]),
        name=_name(ctx, node),
    )
    if alpha != 1.0:
        y = mb.mul(x=y, y=ctx.const(alpha, dt, "alpha"), name=ctx.fresh("gemm_alpha"))
    c = node.inputs[2]
    if c is not None and beta != 0.0:
        cv = ctx.var(c)
        if beta != 1.0:
            cv = mb.mul(x=cv, y=ctx.const(beta, dt, "beta"), name=ctx.fresh("gemm_beta"))
        y = mb.add(x=y, y=cv, name=ctx.fresh("gemm_c"))
    return y


@lowers("softmax", data_types=FLOATS)
def _softmax(ctx: MilContext, node: Node) -> Var:
    return mb.softmax(x=ctx.var(_x(node)), axis=int(node.attributes["axis"]), name=_name(ctx, node))


@lowers("reduceMean", data_types=FLOATS)
def _reduce_mean(ctx: MilContext, node: Node) -> Var:
    axes = [int(x) for x in node.attributes["axes"]]
    if not axes:  # the spec's empty axes reduce nothing
        return mb.identity(x=ctx.var(_x(node)), name=_name(ctx, node))
    return mb.reduce_mean(
        x=ctx.var(_x(node)), axes=axes, keep_dims=bool(node.attributes["keep_dimensions"]), name=_name(ctx, node)
    )


@lowers("batchNormalization", data_types=FLOATS)
def _batch_normalization(ctx: MilContext, node: Node) -> Var:
    x, mean, var, scale, bias = node.inputs
    assert x is not None and mean is not None and var is not None
    axis = int(node.attributes["axis"])
    eps = float(node.attributes["epsilon"])
    dt = x.data_type
    params = [p for p in (mean, var, scale, bias) if p is not None]
    if axis == 1 and 3 <= x.rank <= 5 and all(p.is_constant for p in params):
        kwargs: dict[str, Any] = {}
        if scale is not None:
            kwargs["gamma"] = ctx.var(scale)
        if bias is not None:
            kwargs["beta"] = ctx.var(bias)
        return mb.batch_norm(
            x=ctx.var(x), mean=ctx.var(mean), variance=ctx.var(var), epsilon=dt.numpy_dtype.type(eps),
            name=_name(ctx, node), **kwargs,
        )
    # Any other axis, rank or computed parameters: broadcast the 1-D parameters along
    # `axis` and compute (x - mean) / sqrt(var + eps) * scale + bias element-wise.
    bshape = [1] * x.rank
    bshape[axis] = x.shape[axis]

    def param(v: Value) -> Var:
        if v.is_constant:
            assert v.const is not None
            return ctx.const(v.const.reshape(bshape), dt, "bn_param")
        return mb.reshape(x=ctx.var(v), shape=bshape, name=ctx.fresh("bn_param"))

    centered = mb.sub(x=ctx.var(x), y=param(mean), name=ctx.fresh("bn_center"))
    denom = mb.sqrt(x=mb.add(x=param(var), y=ctx.const(eps, dt, "eps"), name=ctx.fresh("bn_var")), name=ctx.fresh("bn_std"))
    y = mb.real_div(x=centered, y=denom, name=ctx.fresh("bn_norm"))
    if scale is not None:
        y = mb.mul(x=y, y=param(scale), name=ctx.fresh("bn_scale"))
    if bias is not None:
        y = mb.add(x=y, y=param(bias), name=ctx.fresh("bn_bias"))
    return y


# ---------------------------------------------------------------- activations
_ACTIVATIONS: dict[str, Callable[..., Var]] = {
    "softplus": mb.softplus, "softsign": mb.softsign, "ceil": mb.ceil, "floor": mb.floor,
    "cos": mb.cos, "sin": mb.sin, "tan": mb.tan, "erf": mb.erf,
    "roundEven": mb.round,  # MIL rounds half to even ("0.5 is rounded to 0")
}


@lowers(*_ACTIVATIONS, data_types=FLOATS)
def _activation(ctx: MilContext, node: Node) -> Var:
    return _ACTIVATIONS[node.op_type](x=ctx.var(_x(node)), name=_name(ctx, node))


def _alpha(node: Node, key: str = "alpha") -> Any:
    return _dt(node).numpy_dtype.type(float(node.attributes[key]))


@lowers("elu", data_types=FLOATS)
def _elu(ctx: MilContext, node: Node) -> Var:
    return mb.elu(x=ctx.var(_x(node)), alpha=_alpha(node), name=_name(ctx, node))


@lowers("leakyRelu", data_types=FLOATS)
def _leaky_relu(ctx: MilContext, node: Node) -> Var:
    return mb.leaky_relu(x=ctx.var(_x(node)), alpha=_alpha(node), name=_name(ctx, node))


@lowers("linear", data_types=FLOATS)
def _linear(ctx: MilContext, node: Node) -> Var:
    return mb.linear_activation(x=ctx.var(_x(node)), alpha=_alpha(node), beta=_alpha(node, "beta"), name=_name(ctx, node))


@lowers("hardSigmoid", data_types=FLOATS)
def _hard_sigmoid(ctx: MilContext, node: Node) -> Var:
    return mb.sigmoid_hard(x=ctx.var(_x(node)), alpha=_alpha(node), beta=_alpha(node, "beta"), name=_name(ctx, node))


@lowers("hardSwish", data_types=FLOATS)
def _hard_swish(ctx: MilContext, node: Node) -> Var:
    # x * max(0, min(1, x / 6 + 0.5)) = x * relu6(x + 3) / 6
    x = ctx.var(_x(node))
    t = _dt(node).numpy_dtype.type
    gate = mb.sigmoid_hard(x=x, alpha=t(1.0 / 6.0), beta=t(0.5), name=ctx.fresh("hard_swish_gate"))
    return mb.mul(x=x, y=gate, name=_name(ctx, node))


@lowers("gelu", data_types=FLOATS)
def _gelu(ctx: MilContext, node: Node) -> Var:
    return mb.gelu(x=ctx.var(_x(node)), mode="EXACT", name=_name(ctx, node))


@lowers("prelu", data_types=FLOATS)
def _prelu(ctx: MilContext, node: Node) -> Var:
    # MIL's prelu wants a per-channel constant slope; the spec's slope broadcasts freely.
    x, slope = ctx.var(_x(node, 0)), ctx.var(_x(node, 1))
    zero = ctx.const(0, _dt(node), "zero")
    pos = mb.maximum(x=x, y=zero, name=ctx.fresh("prelu_pos"))
    neg = mb.mul(x=mb.minimum(x=x, y=zero, name=ctx.fresh("prelu_neg")), y=slope, name=ctx.fresh("prelu_scaled"))
    return mb.add(x=pos, y=neg, name=_name(ctx, node))


@lowers("log", data_types=FLOATS)
def _log(ctx: MilContext, node: Node) -> Var:
    # MIL's log adds epsilon (default 1e-45); WebNN's log(0) is -inf
    return mb.log(x=ctx.var(_x(node)), epsilon=_dt(node).numpy_dtype.type(0), name=_name(ctx, node))


@lowers("reciprocal", data_types=FLOATS)
def _reciprocal(ctx: MilContext, node: Node) -> Var:
    # not MIL's inverse: it adds epsilon (default 1e-4) to the denominator
    return mb.real_div(x=ctx.const(1, _dt(node), "one"), y=ctx.var(_x(node)), name=_name(ctx, node))


@lowers("sign")
def _sign(ctx: MilContext, node: Node) -> Var:
    return mb.sign(x=ctx.var(_x(node)), name=_name(ctx, node))


@lowers("identity")
def _identity(ctx: MilContext, node: Node) -> Var:
    return mb.identity(x=ctx.var(_x(node)), name=_name(ctx, node))


_CAST = {DataType.FLOAT32: "fp32", DataType.FLOAT16: "fp16", DataType.INT32: "int32"}


@lowers("cast")
def _cast(ctx: MilContext, node: Node) -> Var:
    to = node.outputs[0].data_type
    x = ctx.var(_x(node))
    if to == _dt(node):
        return mb.identity(x=x, name=_name(ctx, node))
    return mb.cast(x=x, dtype=_CAST[to], name=_name(ctx, node))


# ---------------------------------------------------------------- reductions
_REDUCE: dict[str, tuple[Callable[..., Var], Callable[..., Var] | None]] = {
    # op -> (MIL reduction, what an empty axes list leaves: the element-wise part, or None)
    "reduceSum": (mb.reduce_sum, None),
    "reduceMax": (mb.reduce_max, None),
    "reduceMin": (mb.reduce_min, None),
    "reduceProduct": (mb.reduce_prod, None),
    "reduceL1": (mb.reduce_l1_norm, mb.abs),
    "reduceL2": (mb.reduce_l2_norm, mb.abs),
    "reduceLogSum": (mb.reduce_log_sum, mb.log),
    "reduceLogSumExp": (mb.reduce_log_sum_exp, None),
    "reduceSumSquare": (mb.reduce_sum_square, mb.square),
}


@lowers("reduceSum", "reduceMax", "reduceMin", "reduceProduct", "reduceL1", "reduceSumSquare")
@lowers("reduceL2", "reduceLogSum", "reduceLogSumExp", data_types=FLOATS)
def _reduce(ctx: MilContext, node: Node) -> Var:
    axes = [int(a) for a in node.attributes["axes"]]
    reduce, elementwise = _REDUCE[node.op_type]
    x = ctx.var(_x(node))
    if _dt(node) == DataType.INT32 and node.op_type in ("reduceL1", "reduceSumSquare"):
        # MIL's norm reductions are float-only: sum |x| or x * x in int32 instead
        if node.op_type == "reduceL1":
            x = mb.abs(x=x, name=ctx.fresh("l1_abs"))
        else:
            x = mb.mul(x=x, y=x, name=ctx.fresh("sum_square"))
        if not axes:
            return mb.identity(x=x, name=_name(ctx, node))
        return mb.reduce_sum(x=x, axes=axes, keep_dims=bool(node.attributes["keep_dimensions"]), name=_name(ctx, node))
    if not axes:  # the spec's empty axes reduce nothing; the element-wise part remains
        if elementwise is None:
            return mb.identity(x=x, name=_name(ctx, node))
        if elementwise is mb.log:
            return mb.log(x=x, epsilon=_dt(node).numpy_dtype.type(0), name=_name(ctx, node))
        return elementwise(x=x, name=_name(ctx, node))
    return reduce(x=x, axes=axes, keep_dims=bool(node.attributes["keep_dimensions"]), name=_name(ctx, node))


@lowers("argMax", "argMin")
def _arg_reduce(ctx: MilContext, node: Node) -> Var:
    fn = mb.reduce_argmax if node.op_type == "argMax" else mb.reduce_argmin
    return fn(
        x=ctx.var(_x(node)), axis=int(node.attributes["axis"]),
        keep_dims=bool(node.attributes["keep_dimensions"]), name=_name(ctx, node),
    )


@lowers("cumulativeSum")
def _cumulative_sum(ctx: MilContext, node: Node) -> Var:
    a = node.attributes
    return mb.cumsum(
        x=ctx.var(_x(node)), axis=int(a["axis"]), exclusive=bool(a["exclusive"]),
        reverse=bool(a["reversed"]), name=_name(ctx, node),
    )


# ---------------------------------------------------------------- normalization (general form)
def _broadcast_param(ctx: MilContext, v: Value, shape: list[int], dt: DataType, perm: list[int] | None = None) -> Var:
    """A parameter reshaped (after an optional transpose) to broadcast against the input."""
    if v.is_constant:
        assert v.const is not None
        arr = v.const if perm is None else np.transpose(v.const, perm)
        return ctx.const(arr.reshape(shape), dt, "norm_param")
    var = ctx.var(v)
    if perm is not None:
        var = mb.transpose(x=var, perm=perm, name=ctx.fresh("norm_param_t"))
    return mb.reshape(x=var, shape=np.asarray(shape, np.int32), name=ctx.fresh("norm_param"))


def _normalize(ctx: MilContext, node: Node, axes: list[int], eps: float) -> Var:
    """(x - mean) / sqrt(var + eps) over ``axes`` (biased variance), kept dims."""
    x = ctx.var(_x(node))
    dt = _dt(node)
    mean = mb.reduce_mean(x=x, axes=axes, keep_dims=True, name=ctx.fresh("norm_mean"))
    centered = mb.sub(x=x, y=mean, name=ctx.fresh("norm_center"))
    var = mb.reduce_mean(x=mb.mul(x=centered, y=centered, name=ctx.fresh("norm_sq")), axes=axes, keep_dims=True,
                         name=ctx.fresh("norm_var"))
    std = mb.sqrt(x=mb.add(x=var, y=ctx.const(eps, dt, "eps"), name=ctx.fresh("norm_var_eps")), name=ctx.fresh("norm_std"))
    return mb.real_div(x=centered, y=std, name=ctx.fresh("norm"))


@lowers("instanceNormalization", data_types=FLOATS)
def _instance_normalization(ctx: MilContext, node: Node) -> Var:
    x, scale, bias = _x(node), node.inputs[1], node.inputs[2]
    nhwc = node.attributes["layout"] == "nhwc"
    channel = x.rank - 1 if nhwc else 1
    spatial = list(range(1, x.rank - 1)) if nhwc else list(range(2, x.rank))
    bshape = [1] * x.rank
    bshape[channel] = x.shape[channel]
    y = _normalize(ctx, node, spatial, float(node.attributes["epsilon"]))
    if scale is not None:
        y = mb.mul(x=y, y=_broadcast_param(ctx, scale, bshape, x.data_type), name=ctx.fresh("norm_scale"))
    if bias is not None:
        y = mb.add(x=y, y=_broadcast_param(ctx, bias, bshape, x.data_type), name=ctx.fresh("norm_bias"))
    return mb.identity(x=y, name=_name(ctx, node))


@lowers("layerNormalization", data_types=FLOATS)
def _layer_normalization(ctx: MilContext, node: Node) -> Var:
    x, scale, bias = _x(node), node.inputs[1], node.inputs[2]
    axes = [int(a) for a in node.attributes["axes"]]
    if not axes:  # nothing to normalize over: (x - x) / sqrt(0 + eps) * scale + bias
        y = mb.mul(x=ctx.var(x), y=ctx.const(0, x.data_type, "zero"), name=ctx.fresh("norm_zero"))
    else:
        y = _normalize(ctx, node, axes, float(node.attributes["epsilon"]))
    # scale / bias have the shape of x's dims at `axes`, in the order of `axes`
    bshape = [x.shape[d] if d in axes else 1 for d in range(x.rank)]
    order = sorted(range(len(axes)), key=lambda i: axes[i])
    perm = order if order != list(range(len(axes))) else None
    if scale is not None:
        y = mb.mul(x=y, y=_broadcast_param(ctx, scale, bshape, x.data_type, perm), name=ctx.fresh("norm_scale"))
    if bias is not None:
        y = mb.add(x=y, y=_broadcast_param(ctx, bias, bshape, x.data_type, perm), name=ctx.fresh("norm_bias"))
    return mb.identity(x=y, name=_name(ctx, node))


# ---------------------------------------------------------------- more shapes
@lowers("expand")
def _expand(ctx: MilContext, node: Node) -> Var:
    x = _x(node)
    out = node.outputs[0].shape
    var = ctx.var(x)
    if x.rank < len(out):
        padded = (1,) * (len(out) - x.rank) + x.shape
        var = mb.reshape(x=var, shape=np.asarray(padded, np.int32), name=ctx.fresh("expand_rank"))
    else:
        padded = x.shape
    reps = [o // i for o, i in zip(out, padded, strict=True)]
    if not out or all(r == 1 for r in reps):
        return mb.identity(x=var, name=_name(ctx, node))
    return mb.tile(x=var, reps=reps, name=_name(ctx, node))


_PAD_MODES = {"constant": "constant", "edge": "replicate", "reflection": "reflect"}


def _slice_axis(ctx: MilContext, var: Var, shape: list[int], d: int, lo: int, hi: int) -> Var:
    begin, stop = [0] * len(shape), list(shape)
    begin[d], stop[d] = lo, hi
    return mb.slice_by_index(x=var, begin=np.asarray(begin, np.int32), end=np.asarray(stop, np.int32),
                             name=ctx.fresh("pad_slice"))


def _pad_block(ctx: MilContext, node: Node, var: Var, shape: list[int], d: int, n: int, before: bool) -> Var:
    """The ``n`` cells added before (or after) dimension ``d`` in the node's padding mode."""
    x = _x(node)
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
    x = _x(node)
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
    x = _x(node)
    mode = str(a["mode"])
    begin, end = [int(v) for v in a["beginning_padding"]], [int(v) for v in a["ending_padding"]]
    pads = [p for pair in zip(begin, end, strict=True) for p in pair]
    if not any(pads):
        return mb.identity(x=ctx.var(x), name=_name(ctx, node))
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
    return mb.pad(x=ctx.var(x), pad=np.asarray(pads, np.int32), mode=_PAD_MODES[mode], name=_name(ctx, node), **kwargs)


@lowers("reverse")
def _reverse(ctx: MilContext, node: Node) -> Var:
    axes = [int(a) for a in node.attributes["axes"]]
    if not axes:
        return mb.identity(x=ctx.var(_x(node)), name=_name(ctx, node))
    return mb.reverse(x=ctx.var(_x(node)), axes=axes, name=_name(ctx, node))


@lowers("slice")
def _slice(ctx: MilContext, node: Node) -> Var:
    a = node.attributes
    starts, sizes = [int(v) for v in a["starts"]], [int(v) for v in a["sizes"]]
    if not starts:
        return mb.identity(x=ctx.var(_x(node)), name=_name(ctx, node))
    return mb.slice_by_index(
        x=ctx.var(_x(node)),
        begin=np.asarray(starts, np.int32),
        end=np.asarray([s + n for s, n in zip(starts, sizes, strict=True)], np.int32),
        stride=np.asarray([int(v) for v in a["strides"]], np.int32),
        name=_name(ctx, node),
    )


@lowers("split")
def _split(ctx: MilContext, node: Node) -> Sequence[Var]:
    sizes = [int(v) for v in node.attributes["splits"]]
    x = ctx.var(_x(node))
    if len(sizes) == 1:
        return [mb.identity(x=x, name=_name(ctx, node))]
    out = mb.split(x=x, split_sizes=np.asarray(sizes, np.int32), axis=int(node.attributes["axis"]), name=_name(ctx, node))
    return list(out)


@lowers("tile")
def _tile(ctx: MilContext, node: Node) -> Var:
    reps = [int(r) for r in node.attributes["repetitions"]]
    if not reps or all(r == 1 for r in reps):
        return mb.identity(x=ctx.var(_x(node)), name=_name(ctx, node))
    return mb.tile(x=ctx.var(_x(node)), reps=reps, name=_name(ctx, node))


@lowers("triangular")
def _triangular(ctx: MilContext, node: Node) -> Var:
    x = _x(node)
    if x.rank < 2:
        return mb.identity(x=ctx.var(x), name=_name(ctx, node))
    rows, cols = x.shape[-2:]
    k = int(node.attributes["diagonal"])
    keep = np.triu(np.ones([rows, cols], bool), k) if node.attributes["upper"] else np.tril(np.ones([rows, cols], bool), k)
    return mb.select(
        cond=mb.const(val=keep, name=ctx.fresh("triangle")),
        a=ctx.var(x),
        b=ctx.const(0, x.data_type, "zero"),
        name=_name(ctx, node),
    )


# ---------------------------------------------------------------- recurrent (unrolled)
# NOTE: WebNN's recurrent ops have static step counts, so they are unrolled into matmuls
# and element-wise ops: MIL's own gru / lstm fix the gate order, activations and the
# reset-after form, and the spec's options (layouts, reset_after=False, peepholes, any
# activation) do not all map onto them.
_RNN_ACT = {"sigmoid": mb.sigmoid, "tanh": mb.tanh, "relu": mb.relu}


def _pick(ctx: MilContext, var: Var, index: int, hint: str) -> Var:
    """``var[index]`` along axis 0 (drops the axis)."""
    return mb.gather(x=var, indices=np.int32(index), axis=0, name=ctx.fresh(hint))


def _gate(ctx: MilContext, var: Var, layout: str, gate: str, hidden: int) -> Var:
    """The ``gate`` block of the last axis of ``var`` (gates stacked in ``layout`` order)."""
    i = layout.index(gate)
    rank = len(var.shape)
    begin = [0] * rank
    end = list(var.shape)
    begin[-1], end[-1] = i * hidden, (i + 1) * hidden
    return mb.slice_by_index(x=var, begin=np.asarray(begin, np.int32), end=np.asarray(end, np.int32),
                             name=ctx.fresh(f"gate_{gate}"))


def _act(ctx: MilContext, name: str, x: Var) -> Var:
    return _RNN_ACT[name](x=x, name=ctx.fresh(name))


def _affine(ctx: MilContext, x: Var, w: Var, b: Var | None, hint: str) -> Var:
    y = mb.matmul(x=x, y=w, transpose_y=True, name=ctx.fresh(hint))
    return mb.add(x=y, y=b, name=ctx.fresh(hint + "_bias")) if b is not None else y


def _gru_step(
    ctx: MilContext, x: Var, h: Var, w: Var, r: Var, b: Var | None, rb: Var | None,
    hidden: int, layout: str, reset_after: bool, acts: Sequence[str],
) -> Var:
    xw = _affine(ctx, x, w, b, "gru_x")
    hr = _affine(ctx, h, r, rb, "gru_h")

    def gate(t: Var, g: str) -> Var:
        return _gate(ctx, t, layout, g, hidden)

    z = _act(ctx, acts[0], mb.add(x=gate(xw, "z"), y=gate(hr, "z"), name=ctx.fresh("gru_z")))
    rr = _act(ctx, acts[0], mb.add(x=gate(xw, "r"), y=gate(hr, "r"), name=ctx.fresh("gru_r")))
    if reset_after:
        inner = mb.mul(x=rr, y=gate(hr, "n"), name=ctx.fresh("gru_rh"))
    else:
        # (r * h) R_n^T + rb_n: the recurrent product of the reset state
        r_n = _gate(ctx, mb.transpose(x=r, perm=[1, 0], name=ctx.fresh("gru_rt")), layout, "n", hidden)
        inner = mb.matmul(x=mb.mul(x=rr, y=h, name=ctx.fresh("gru_rh")), y=r_n, name=ctx.fresh("gru_rhr"))
        if rb is not None:
            inner = mb.add(x=inner, y=gate(rb, "n"), name=ctx.fresh("gru_rhb"))
    n = _act(ctx, acts[1], mb.add(x=gate(xw, "n"), y=inner, name=ctx.fresh("gru_n")))
    # h' = (1 - z) * n + z * h = n + z * (h - n)
    return mb.add(x=n, y=mb.mul(x=z, y=mb.sub(x=h, y=n, name=ctx.fresh("gru_d")), name=ctx.fresh("gru_zd")),
                  name=ctx.fresh("gru_h_next"))


def _lstm_step(
    ctx: MilContext, x: Var, h: Var, c: Var, w: Var, r: Var, b: Var | None, rb: Var | None,
    p: Var | None, hidden: int, layout: str, acts: Sequence[str],
) -> tuple[Var, Var]:
    pre = mb.add(x=_affine(ctx, x, w, b, "lstm_x"), y=_affine(ctx, h, r, rb, "lstm_h"), name=ctx.fresh("lstm_pre"))

    def gate(g: str) -> Var:
        return _gate(ctx, pre, layout, g, hidden)

    def peep(g: str, state: Var) -> Var | None:
        if p is None:
            return None
        return mb.mul(x=_gate(ctx, p, "iof", g, hidden), y=state, name=ctx.fresh(f"lstm_p{g}"))

    def with_peep(g: str, state: Var) -> Var:
        extra = peep(g, state)
        return gate(g) if extra is None else mb.add(x=gate(g), y=extra, name=ctx.fresh(f"lstm_{g}p"))

    i = _act(ctx, acts[0], with_peep("i", c))
    f = _act(ctx, acts[0], with_peep("f", c))
    g = _act(ctx, acts[1], gate("g"))
    c_next = mb.add(x=mb.mul(x=f, y=c, name=ctx.fresh("lstm_fc")), y=mb.mul(x=i, y=g, name=ctx.fresh("lstm_ig")),
                    name=ctx.fresh("lstm_c_next"))
    o = _act(ctx, acts[0], with_peep("o", c_next))
    h_next = mb.mul(x=o, y=_act(ctx, acts[2], c_next), name=ctx.fresh("lstm_h_next"))
    return h_next, c_next


def _opt(ctx: MilContext, v: Value | None) -> Var | None:
    return None if v is None else ctx.var(v)


def _zeros(ctx: MilContext, shape: Sequence[int], dt: DataType) -> Var:
    return ctx.const(np.zeros(shape), dt, "zeros")


@lowers("gruCell", data_types=FLOATS)
def _gru_cell(ctx: MilContext, node: Node) -> Var:
    x, w, r, h, b, rb = node.inputs
    a = node.attributes
    return _gru_step(
        ctx, ctx.var(x), ctx.var(h), ctx.var(w), ctx.var(r), _opt(ctx, b), _opt(ctx, rb),
        int(a["hidden_size"]), str(a["layout"]), bool(a["reset_after"]), [str(s) for s in a["activations"]],
    )


@lowers("lstmCell", data_types=FLOATS)
def _lstm_cell(ctx: MilContext, node: Node) -> Sequence[Var]:
    x, w, r, h, b, rb, c, p = node.inputs
    a = node.attributes
    return _lstm_step(
        ctx, ctx.var(x), ctx.var(h), ctx.var(c), ctx.var(w), ctx.var(r), _opt(ctx, b), _opt(ctx, rb),
        _opt(ctx, p), int(a["hidden_size"]), str(a["layout"]), [str(s) for s in a["activations"]],
    )


@lowers("gru", "lstm", data_types=FLOATS)
def _recurrent_network(ctx: MilContext, node: Node) -> Sequence[Var]:
    a = node.attributes
    lstm = node.op_type == "lstm"
    x, w, r, b, rb, h0 = node.inputs[:6]
    p, c0 = (node.inputs[6], node.inputs[7]) if lstm else (None, None)
    steps, hidden = int(a["steps"]), int(a["hidden_size"])
    direction = str(a["direction"])
    dirs = 2 if direction == "both" else 1
    dt = _dt(node)
    batch = _x(node).shape[1]
    acts = [str(s) for s in a["activations"]]
    xv = ctx.var(x)
    inputs = [_pick(ctx, xv, t, "x_t") for t in range(steps)]
    finals_h: list[Var] = []
    finals_c: list[Var] = []
    seq: list[list[Var | None]] = [[None] * dirs for _ in range(steps)]
    for d in range(dirs):
        def per_dir(v: Value | None, hint: str, d: int = d) -> Var | None:
            return None if v is None else _pick(ctx, ctx.var(v), d, hint)

        wd, rd = per_dir(w, "w_d"), per_dir(r, "r_d")
        assert wd is not None and rd is not None
        bd, rbd, pd = per_dir(b, "b_d"), per_dir(rb, "rb_d"), per_dir(p, "p_d")
        h_init, c_init = per_dir(h0, "h0_d"), per_dir(c0, "c0_d")
        h = h_init if h_init is not None else _zeros(ctx, [batch, hidden], dt)
        c = c_init if c_init is not None else _zeros(ctx, [batch, hidden], dt)
        backward = d == 1 or direction == "backward"
        for step in range(steps):
            t = steps - 1 - step if backward else step
            if lstm:
                h, c = _lstm_step(ctx, inputs[t], h, c, wd, rd, bd, rbd, pd, hidden, str(a["layout"]), acts)
            else:
                h = _gru_step(ctx, inputs[t], h, wd, rd, bd, rbd, hidden, str(a["layout"]), bool(a["reset_after"]), acts)
            seq[t][d] = h
        finals_h.append(h)
        finals_c.append(c)

    def stack(vs: Sequence[Var | None], hint: str) -> Var:
        return mb.stack(values=list(vs), axis=0, name=ctx.fresh(hint))

    outs = [stack(finals_h, "hidden")]
    if lstm:
        outs.append(stack(finals_c, "cell"))
    if bool(a["return_sequence"]):
        outs.append(stack([stack(row, "seq_t") for row in seq], "sequence"))
    return outs


# ---------------------------------------------------------------- booleans (WebNN uint8)
def as_bool(ctx: MilContext, value: Value | None) -> Var:
    """A MIL bool for a WebNN uint8 operand (nonzero is true)."""
    var = ctx.var(value)
    if var.dtype == types.bool:
        return var
    if var.dtype != types.int32:  # a uint8 constant: ctx.var made it int32 already
        raise CompilerError(f"internal: a boolean operand is {types.builtin_to_string(var.dtype)}")
    return mb.not_equal(x=var, y=np.int32(0), name=ctx.fresh("to_bool"))


_COMPARE = {
    "equal": mb.equal, "notEqual": mb.not_equal, "greater": mb.greater,
    "greaterOrEqual": mb.greater_equal, "lesser": mb.less, "lesserOrEqual": mb.less_equal,
}


@lowers(*_COMPARE)
def _compare(ctx: MilContext, node: Node) -> Var:
    return _COMPARE[node.op_type](x=ctx.var(_x(node, 0)), y=ctx.var(_x(node, 1)), name=_name(ctx, node))


_LOGICAL = {"logicalAnd": mb.logical_and, "logicalOr": mb.logical_or, "logicalXor": mb.logical_xor}


@lowers(*_LOGICAL)
def _logical(ctx: MilContext, node: Node) -> Var:
    return _LOGICAL[node.op_type](x=as_bool(ctx, node.inputs[0]), y=as_bool(ctx, node.inputs[1]), name=_name(ctx, node))


@lowers("logicalNot")
def _logical_not(ctx: MilContext, node: Node) -> Var:
    return mb.logical_not(x=as_bool(ctx, node.inputs[0]), name=_name(ctx, node))


@lowers("isNaN", data_types=FLOATS)
def _is_nan(ctx: MilContext, node: Node) -> Var:
    x = ctx.var(_x(node))
    return mb.not_equal(x=x, y=x, name=_name(ctx, node))  # only NaN differs from itself


@lowers("isInfinite", data_types=FLOATS)
def _is_infinite(ctx: MilContext, node: Node) -> Var:
    a = mb.abs(x=ctx.var(_x(node)), name=ctx.fresh("abs"))
    return mb.equal(x=a, y=ctx.const(np.inf, _dt(node), "inf"), name=_name(ctx, node))


def _broadcast_to(ctx: MilContext, var: Var, shape: tuple[int, ...], out: tuple[int, ...]) -> Var:
    """``var`` (of ``shape``) tiled to ``out`` (numpy broadcasting rules)."""
    if shape == out:
        return var
    padded = (1,) * (len(out) - len(shape)) + shape
    if padded != shape:
        var = mb.reshape(x=var, shape=np.asarray(padded, np.int32), name=ctx.fresh("bcast_rank"))
    reps = [o // i for o, i in zip(out, padded, strict=True)]
    return mb.tile(x=var, reps=reps, name=ctx.fresh("bcast")) if any(r != 1 for r in reps) else var


@lowers("where")
def _where(ctx: MilContext, node: Node) -> Var:
    # MIL's select broadcasts a and b against cond only; make every operand full size
    out = node.outputs[0].shape
    c, a, b = _x(node, 0), _x(node, 1), _x(node, 2)
    return mb.select(
        cond=_broadcast_to(ctx, as_bool(ctx, c), c.shape, out),
        a=_broadcast_to(ctx, ctx.var(a), a.shape, out),
        b=_broadcast_to(ctx, ctx.var(b), b.shape, out),
        name=_name(ctx, node),
    )


for _op in ("logicalAnd", "logicalOr", "logicalXor", "logicalNot"):
    UINT8_OPERANDS[_op] = frozenset({0, 1, 2})
for _op in (*_COMPARE, "isNaN", "isInfinite"):
    UINT8_OPERANDS[_op] = frozenset({2}) if _op in _COMPARE else frozenset({1})
UINT8_OPERANDS["where"] = frozenset({0})
UINT8_OPERANDS["cast"] = frozenset({0})  # from a boolean; casting *to* uint8 is not expressible


# ---------------------------------------------------------------- gather
def _index_var(ctx: MilContext, idx: Value, sizes: int | Sequence[int]) -> Var:
    """int32 indices clamped into [-size, size - 1], then made non-negative (per coordinate)."""
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


@lowers("gather")
def _gather(ctx: MilContext, node: Node) -> Var:
    x, idx = _x(node, 0), _x(node, 1)
    axis = int(node.attributes["axis"])
    return mb.gather(x=ctx.var(x), indices=_index_var(ctx, idx, x.shape[axis]), axis=axis, name=_name(ctx, node))


@lowers("gatherElements")
def _gather_elements(ctx: MilContext, node: Node) -> Var:
    x, idx = _x(node, 0), _x(node, 1)
    axis = int(node.attributes["axis"])
    return mb.gather_along_axis(
        x=ctx.var(x), indices=_index_var(ctx, idx, x.shape[axis]), axis=axis, name=_name(ctx, node)
    )


@lowers("gatherND")
def _gather_nd(ctx: MilContext, node: Node) -> Var:
    x, idx = _x(node, 0), _x(node, 1)
    k = idx.shape[-1]
    return mb.gather_nd(x=ctx.var(x), indices=_index_var(ctx, idx, list(x.shape[:k])), name=_name(ctx, node))


@lowers("scatterElements")
def _scatter_elements(ctx: MilContext, node: Node) -> Var:
    x, idx, upd = _x(node, 0), _x(node, 1), _x(node, 2)
    axis = int(node.attributes["axis"])
    return mb.scatter_along_axis(
        data=ctx.var(x), indices=_index_var(ctx, idx, x.shape[axis]), updates=ctx.var(upd),
        axis=axis, mode="update", name=_name(ctx, node),
    )


@lowers("scatterND")
def _scatter_nd(ctx: MilContext, node: Node) -> Var:
    x, idx, upd = _x(node, 0), _x(node, 1), _x(node, 2)
    k = idx.shape[-1]
    return mb.scatter_nd(
        data=ctx.var(x), indices=_index_var(ctx, idx, list(x.shape[:k])), updates=ctx.var(upd),
        mode="update", name=_name(ctx, node),
    )


# ---------------------------------------------------------------- quantization
def _blockwise(v: Value, shape: tuple[int, ...]) -> np.ndarray[Any, Any]:
    """A constant scale / zero point repeated block-wise up to the input's shape."""
    assert v.const is not None
    arr = np.asarray(v.const)
    for d, (n, k) in enumerate(zip(shape, arr.shape, strict=True)):
        if k != n:
            arr = np.repeat(arr, n // k, axis=d)
    return arr


@lowers("dequantizeLinear")
def _dequantize_linear(ctx: MilContext, node: Node) -> Var:
    x, scale, zero = _x(node, 0), _x(node, 1), _x(node, 2)
    out_dt = node.outputs[0].data_type
    if not (scale.is_constant and zero.is_constant):
        raise unsupported(node, "only constant scale and zeroPoint are lowered (block-wise repeat at build time)")
    s, z = _blockwise(scale, x.shape), _blockwise(zero, x.shape).astype(np.int64)
    if x.is_constant:  # quantized weights: dequantize now
        assert x.const is not None
        return ctx.const(((x.const.astype(np.int64) - z) * s.astype(np.float64)), out_dt, "dequantized")
    # int32 input: the difference is exact in int32, then one multiply in the scale's type
    diff = mb.sub(x=ctx.var(x), y=ctx.const(z, DataType.INT32, "zero_point"), name=ctx.fresh("dq_diff"))
    as_float = mb.cast(x=diff, dtype=_CAST[out_dt], name=ctx.fresh("dq_cast"))
    return mb.mul(x=as_float, y=ctx.const(s, out_dt, "scale"), name=_name(ctx, node))


@lowers("quantizeLinear", data_types=FLOATS)
def _quantize_linear(ctx: MilContext, node: Node) -> Var:
    x, scale, zero = _x(node, 0), _x(node, 1), _x(node, 2)
    out_dt = node.outputs[0].data_type
    if out_dt != DataType.INT32 and not qdq_carrier(node.outputs[0]):
        raise unsupported(
            node, f"a {out_dt.value} result has no CoreML tensor type",
            "lowered only when every use is a dequantizeLinear (a QDQ pair) or for int32",
        )
    if not (scale.is_constant and zero.is_constant):
        raise unsupported(node, "only constant scale and zeroPoint are lowered (block-wise repeat at build time)")
    lo, hi = _NARROW_INTS.get(out_dt, (-(2.0**31), 2.0**31 - 128))  # int32: what float32 holds
    # saturate(roundEven(x / scale) + zero_point) in float32, then cast to int32 (narrow
    # types of a QDQ pair travel as int32 with their own range)
    xf = ctx.var(x)
    if x.data_type != DataType.FLOAT32:
        xf = mb.cast(x=xf, dtype="fp32", name=ctx.fresh("q_fp32"))
    q = mb.round(x=mb.real_div(x=xf, y=ctx.const(_blockwise(scale, x.shape), DataType.FLOAT32, "scale"),
                               name=ctx.fresh("q_div")), name=ctx.fresh("q_round"))
    q = mb.add(x=q, y=ctx.const(_blockwise(zero, x.shape), DataType.FLOAT32, "zero_point"), name=ctx.fresh("q_zp"))
    q = mb.clip(x=q, alpha=np.float32(lo), beta=np.float32(hi), name=ctx.fresh("q_sat"))
    return mb.cast(x=q, dtype="int32", name=_name(ctx, node))


# ---------------------------------------------------------------- convTranspose2d, resample2d
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
    x, w, b = _x(node, 0), _x(node, 1), node.inputs[2]
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
    y = mb.conv(x=up, weight=wv, pad_type="custom", pad=[pt, pbot, pl, pr], groups=groups, name=_name(ctx, node))
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
    x, w, b = _x(node, 0), _x(node, 1), node.inputs[2]
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
        name=_name(ctx, node),
        **kwargs,
    )
    if b is not None and not b.is_constant:
        bias = mb.reshape(x=ctx.var(b), shape=[1, b.shape[0], 1, 1], name=ctx.fresh("bias"))
        y = mb.add(x=y, y=bias, name=ctx.fresh("conv_bias"))
    return _from_nchw(ctx, y, str(a["input_layout"]))


@lowers("resample2d", data_types=FLOATS)
def _resample2d(ctx: MilContext, node: Node) -> Var:
    a = node.attributes
    x = _x(node)
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
            name=_name(ctx, node),
        )
    elif oh % ih == 0 and ow % iw == 0:
        # integer factors: half-pixel nearest (rounding .5 down) picks source floor(i / factor)
        y = mb.upsample_nearest_neighbor(
            x=var, scale_factor_height=oh // ih, scale_factor_width=ow // iw, name=_name(ctx, node)
        )
    else:
        raise unsupported(node, f"MIL's nearest-neighbor resize takes integer factors only ({ih}x{iw} -> {oh}x{ow})")
    if perm != [0, 1, 2, 3]:
        y = mb.transpose(x=y, perm=[perm.index(d) for d in range(4)], name=ctx.fresh("resample_out"))
    return y


# ---------------------------------------------------------------- driver
_NARROW_INTS: dict[DataType, tuple[int, int]] = {
    DataType.INT8: (-128, 127), DataType.UINT8: (0, 255), DataType.INT4: (-8, 7), DataType.UINT4: (0, 15),
}


def qdq_carrier(v: Value) -> bool:
    """Whether ``v`` is a quantizeLinear result read only by dequantizeLinear (a QDQ pair):
    its narrow integers then travel inside the model as int32, never crossing its boundary."""
    p = v.producer
    if p is None or p.op_type != "quantizeLinear" or v.data_type not in _NARROW_INTS or not v.uses:
        return False
    if p.graph is not None and any(o is v for o in p.graph.outputs.values()):
        return False
    return all(n.op_type == "dequantizeLinear" and i == 0 for n, i in v.uses)


def check_node(node: Node) -> None:
    """Raise UnsupportedOperatorError if ``node`` cannot be lowered (op or data types)."""
    if node.op_type not in LOWERINGS:
        raise unsupported(
            node,
            "no CoreML lowering for this operator",
            f"supported: {', '.join(sorted(LOWERINGS))}; or compile for onnx-cpu",
        )
    for v in [*node.inputs, *node.outputs]:
        if v is not None and v.rank > MAX_RANK:
            raise unsupported(node, f"CoreML tensors have rank <= {MAX_RANK}; found rank {v.rank}")
    allowed = OP_TYPES[node.op_type]
    bool_ok = UINT8_OPERANDS.get(node.op_type, frozenset())
    n_in = len(node.inputs)
    for pos, v in [*enumerate(node.inputs), *((n_in + i, o) for i, o in enumerate(node.outputs))]:
        if v is None or v.data_type in MIL_TYPES:
            continue
        if v.data_type == DataType.UINT8 and pos in bool_ok:
            continue
        if qdq_carrier(v):
            continue
        if pos in CONST_INT_OPERANDS.get(node.op_type, ()) and v.is_constant and v.data_type.is_integer:
            continue
        raise unsupported(
            node,
            f"data type {v.data_type.value} has no CoreML counterpart here "
            f"(CoreML computes on {', '.join(t.value for t in MIL_TYPES)}"
            f"{'; uint8 only as a boolean' if bool_ok else ''})",
            "cast to one of those, or compile for onnx-cpu",
        )
    const_ok = CONST_INT_OPERANDS.get(node.op_type, frozenset())
    computed = [
        v.data_type for i, v in enumerate(node.inputs)
        if v is not None and i not in bool_ok and not (i in const_ok and v.is_constant) and not qdq_carrier(v)
    ]
    for dt in computed[:1]:
        if dt not in allowed:
            raise unsupported(
                node,
                f"MIL computes {node.op_type} on {', '.join(sorted(t.value for t in allowed))} only; "
                f"found {dt.value}",
                "compile for onnx-cpu",
            )


def lower_node(ctx: MilContext, node: Node) -> None:
    """Lower one node and bind its outputs; check MIL's shapes against the IR's."""
    check_node(node)
    result = LOWERINGS[node.op_type](ctx, node)
    outs = [result] if isinstance(result, Var) else list(result)
    if len(outs) != len(node.outputs):
        raise CompilerError(
            f"internal: the CoreML lowering of {node.op_type} made {len(outs)} outputs, expected {len(node.outputs)}"
        )
    for value, var in zip(node.outputs, outs, strict=True):
        got = tuple(int(d) for d in var.shape)
        if got != value.shape:
            raise CompilerError(
                f"internal: the CoreML lowering of {node.op_type} (node {node_label(node)}) gives shape "
                f"{list(got)}, the IR says {list(value.shape)}"
            )
        ctx.bind(value, var)
