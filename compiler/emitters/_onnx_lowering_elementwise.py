"""ONNX lowerings of the element-wise operators: arithmetic, comparisons, logical operators,
where, clamp, unary math, cast, and activations.

Where ONNX Runtime's CPU provider lacks a kernel for a data type the support table promises
(``webnnc.compiler.frontend._support``), the lowering computes in a type it has, exactly:
uint64 selects through a bit-preserving int64 view, integer relu / prelu through max /
where. Comparisons and logical operators produce ONNX booleans, cast to WebNN's uint8.
"""

from __future__ import annotations

import math

import numpy as np
import onnx

from webnnc.compiler.emitters._onnx_lowering import (
    ONNX_TYPES,
    LoweringContext,
    in_name,
    lowers,
    out_name,
)
from webnnc.compiler.ir import DataType, Node, Value

__all__: list[str] = []

_BOOL = onnx.TensorProto.BOOL
_UINT8 = onnx.TensorProto.UINT8


def _input(node: Node, i: int = 0) -> Value:
    v = node.inputs[i]
    assert v is not None, f"{node.op_type}: input {i} is required"
    return v


def _cast(ctx: LoweringContext, name: str, to: DataType | int, out: str | None = None) -> str:
    onnx_to = ONNX_TYPES[to] if isinstance(to, DataType) else to
    return ctx.add("Cast", [name], [out] if out else None, to=onnx_to)


# ---------------------------------------------------------------- arithmetic
_BINARY = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "max": "Max", "min": "Min", "pow": "Pow"}


_NATIVE_POW = frozenset({DataType.FLOAT32, DataType.FLOAT16, DataType.INT32, DataType.INT64})


@lowers(*_BINARY)
def _binary(ctx: LoweringContext, node: Node) -> None:
    a, b = in_name(ctx, node, 0), in_name(ctx, node, 1)
    dt = _input(node).data_type
    if node.op_type == "pow" and dt not in _NATIVE_POW:
        # int8 / uint8 / uint32 have no Pow kernel: compute in int64, wrap back on the cast
        wide = ctx.add("Pow", [_cast(ctx, a, DataType.INT64), _cast(ctx, b, DataType.INT64)])
        _cast(ctx, wide, dt, out_name(ctx, node))
        return
    ctx.add(_BINARY[node.op_type], [a, b], [out_name(ctx, node)])


# ---------------------------------------------------------------- comparisons, logical
_COMPARE = {
    "equal": "Equal",
    "greater": "Greater",
    "greaterOrEqual": "GreaterOrEqual",
    "lesser": "Less",
    "lesserOrEqual": "LessOrEqual",
}


@lowers(*_COMPARE, "notEqual")
def _compare(ctx: LoweringContext, node: Node) -> None:
    a, b = in_name(ctx, node, 0), in_name(ctx, node, 1)
    if node.op_type == "notEqual":
        result = ctx.add("Not", [ctx.add("Equal", [a, b])])
    else:
        result = ctx.add(_COMPARE[node.op_type], [a, b])
    _cast(ctx, result, _UINT8, out_name(ctx, node))


_LOGICAL = {"logicalAnd": "And", "logicalOr": "Or", "logicalXor": "Xor"}


@lowers(*_LOGICAL)
def _logical(ctx: LoweringContext, node: Node) -> None:
    a = _cast(ctx, in_name(ctx, node, 0), _BOOL)
    b = _cast(ctx, in_name(ctx, node, 1), _BOOL)
    _cast(ctx, ctx.add(_LOGICAL[node.op_type], [a, b]), _UINT8, out_name(ctx, node))


@lowers("logicalNot")
def _logical_not(ctx: LoweringContext, node: Node) -> None:
    a = _cast(ctx, in_name(ctx, node, 0), _BOOL)
    _cast(ctx, ctx.add("Not", [a]), _UINT8, out_name(ctx, node))


@lowers("where")
def _where(ctx: LoweringContext, node: Node) -> None:
    cond = _cast(ctx, in_name(ctx, node, 0), _BOOL)
    t, f = in_name(ctx, node, 1), in_name(ctx, node, 2)
    if node.outputs[0].data_type == DataType.UINT64:  # no uint64 Where kernel: select int64 bits
        t, f = _cast(ctx, t, DataType.INT64), _cast(ctx, f, DataType.INT64)
        _cast(ctx, ctx.add("Where", [cond, t, f]), DataType.UINT64, out_name(ctx, node))
        return
    ctx.add("Where", [cond, t, f], [out_name(ctx, node)])


def _int_bound(value: float | int, dt: DataType) -> int:
    """A clamp bound saturated to integer type ``dt``. The builder already stores exact ints;
    a clamp made by a pass may carry float bounds (+-inf)."""
    info = np.iinfo(dt.numpy_dtype)
    if isinstance(value, float):
        value = math.trunc(min(max(value, -(2.0**64)), 2.0**64))
    return int(min(max(int(value), int(info.min)), int(info.max)))


@lowers("clamp")
def _clamp(ctx: LoweringContext, node: Node) -> None:
    dt = _input(node).data_type
    lo, hi = node.attributes["min_value"], node.attributes["max_value"]
    if dt.is_integer:
        lo, hi = _int_bound(lo, dt), _int_bound(hi, dt)
    lo_name = ctx.const(np.asarray(lo, dtype=dt.numpy_dtype), "min")
    hi_name = ctx.const(np.asarray(hi, dtype=dt.numpy_dtype), "max")
    ctx.add("Clip", [in_name(ctx, node, 0), lo_name, hi_name], [out_name(ctx, node)])


# ---------------------------------------------------------------- unary
_UNARY = {
    "abs": "Abs",
    "ceil": "Ceil",
    "cos": "Cos",
    "erf": "Erf",
    "exp": "Exp",
    "floor": "Floor",
    "log": "Log",
    "neg": "Neg",
    "reciprocal": "Reciprocal",
    "sin": "Sin",
    "sqrt": "Sqrt",
    "tan": "Tan",
    "sign": "Sign",
    "roundEven": "Round",  # ONNX Round rounds half to even
    "tanh": "Tanh",
    "gelu": "Gelu",
    "softplus": "Softplus",
    "softsign": "Softsign",
}


@lowers(*_UNARY)
def _unary(ctx: LoweringContext, node: Node) -> None:
    ctx.add(_UNARY[node.op_type], [in_name(ctx, node, 0)], [out_name(ctx, node)])


@lowers("isNaN", "isInfinite")
def _is_special(ctx: LoweringContext, node: Node) -> None:
    onnx_op = "IsNaN" if node.op_type == "isNaN" else "IsInf"
    _cast(ctx, ctx.add(onnx_op, [in_name(ctx, node, 0)]), _UINT8, out_name(ctx, node))


@lowers("cast")
def _cast_op(ctx: LoweringContext, node: Node) -> None:
    _cast(ctx, in_name(ctx, node, 0), node.outputs[0].data_type, out_name(ctx, node))


# ---------------------------------------------------------------- activations
@lowers("sigmoid")
def _sigmoid(ctx: LoweringContext, node: Node) -> None:
    # ONNX Runtime's Sigmoid kernel loses all relative precision below about -8 (it returns
    # 0 from -16 on); 1 / (1 + exp(-x)) stays within 2 ULP down to the float32 denormals.
    dt = _input(node).data_type
    x = in_name(ctx, node, 0)
    if dt == DataType.FLOAT16:
        x = _cast(ctx, x, DataType.FLOAT32)
    one = ctx.scalar(1.0, DataType.FLOAT32, "one")
    denom = ctx.add("Add", [ctx.add("Exp", [ctx.add("Neg", [x])]), one])
    if dt == DataType.FLOAT16:
        _cast(ctx, ctx.add("Div", [one, denom]), DataType.FLOAT16, out_name(ctx, node))
    else:
        ctx.add("Div", [one, denom], [out_name(ctx, node)])


@lowers("hardSwish")
def _hard_swish(ctx: LoweringContext, node: Node) -> None:
    # The spec's x * clip(x + 3, 0, 6) / 6: near x = -3 the sum is exact, while ONNX
    # Runtime's HardSwish (x * clip(x / 6 + 0.5)) is off by hundreds of ULP there.
    # float16 computes in float32 and rounds once.
    dt = _input(node).data_type
    x = _widen(ctx, node)
    f32 = DataType.FLOAT32
    shifted = ctx.add("Add", [x, ctx.scalar(3.0, f32, "three")])
    gate = ctx.add("Clip", [shifted, ctx.scalar(0.0, f32, "zero"), ctx.scalar(6.0, f32, "six")])
    y = ctx.add("Div", [ctx.add("Mul", [x, gate]), ctx.scalar(6.0, f32, "six")])
    _narrow(ctx, y, dt, out_name(ctx, node))


def _widen(ctx: LoweringContext, node: Node) -> str:
    """Input 0 as float32 (float16 is cast; composite formulas then round only once)."""
    x = in_name(ctx, node, 0)
    return _cast(ctx, x, DataType.FLOAT32) if _input(node).data_type == DataType.FLOAT16 else x


def _narrow(ctx: LoweringContext, y: str, dt: DataType, out: str) -> None:
    if dt == DataType.FLOAT16:
        _cast(ctx, y, DataType.FLOAT16, out)
    else:
        ctx.add("Identity", [y], [out])


_NATIVE_RELU = frozenset({DataType.FLOAT32, DataType.FLOAT16, DataType.INT32, DataType.INT8})


@lowers("relu")
def _relu(ctx: LoweringContext, node: Node) -> None:
    dt = _input(node).data_type
    if dt in _NATIVE_RELU:
        ctx.add("Relu", [in_name(ctx, node, 0)], [out_name(ctx, node)])
    else:  # int64 has no Relu kernel
        ctx.add("Max", [in_name(ctx, node, 0), ctx.scalar(0, dt, "zero")], [out_name(ctx, node)])


@lowers("leakyRelu")
def _leaky_relu(ctx: LoweringContext, node: Node) -> None:
    ctx.add("LeakyRelu", [in_name(ctx, node, 0)], [out_name(ctx, node)], alpha=float(node.attributes["alpha"]))


@lowers("elu")
def _elu(ctx: LoweringContext, node: Node) -> None:
    # x < 0 ? alpha * (exp(x) - 1) : x. Near 0, exp(x) - 1 cancels (ONNX Runtime's Elu is off
    # by hundreds of ULP for |x| < 0.01), so for -1 < x < 0 it uses Kahan's expm1:
    # (u - 1) * x / log(u) with u = exp(x), and x itself once u rounds to 1.
    dt = _input(node).data_type
    f32 = DataType.FLOAT32
    x = _widen(ctx, node)
    u = ctx.add("Exp", [x])
    u_minus_1 = ctx.add("Sub", [u, ctx.scalar(1.0, f32, "one")])
    kahan = ctx.add("Div", [ctx.add("Mul", [u_minus_1, x]), ctx.add("Log", [u])])
    small = ctx.add("Where", [ctx.add("Equal", [u, ctx.scalar(1.0, f32, "one")]), x, kahan])
    near_zero = ctx.add("Greater", [x, ctx.scalar(-1.0, f32, "minus_one")])
    expm1 = ctx.add("Where", [near_zero, small, u_minus_1])
    negative = ctx.add("Mul", [expm1, ctx.scalar(float(node.attributes["alpha"]), f32, "alpha")])
    is_negative = ctx.add("Less", [x, ctx.scalar(0.0, f32, "zero")])
    _narrow(ctx, ctx.add("Where", [is_negative, negative, x]), dt, out_name(ctx, node))


@lowers("hardSigmoid")
def _hard_sigmoid(ctx: LoweringContext, node: Node) -> None:
    a = node.attributes
    ctx.add(
        "HardSigmoid", [in_name(ctx, node, 0)], [out_name(ctx, node)],
        alpha=float(a["alpha"]), beta=float(a["beta"]),
    )


@lowers("linear")
def _linear(ctx: LoweringContext, node: Node) -> None:
    # alpha and beta are doubles in the spec: float16 computes in float32 (alpha rounded to
    # float16 first would cost several ULP), rounding once at the end.
    dt = _input(node).data_type
    a = node.attributes
    f32 = DataType.FLOAT32
    scaled = ctx.add("Mul", [_widen(ctx, node), ctx.scalar(float(a["alpha"]), f32, "alpha")])
    y = ctx.add("Add", [scaled, ctx.scalar(float(a["beta"]), f32, "beta")])
    _narrow(ctx, y, dt, out_name(ctx, node))


@lowers("prelu")
def _prelu(ctx: LoweringContext, node: Node) -> None:
    x, slope = in_name(ctx, node, 0), in_name(ctx, node, 1)
    dt = _input(node).data_type
    if dt.is_float and node.outputs[0].shape == _input(node).shape:
        ctx.add("PRelu", [x, slope], [out_name(ctx, node)])
        return
    # integers (PRelu has float kernels only), or a slope that widens the output (PRelu
    # broadcasts the slope one way only)
    negative = ctx.add("Less", [x, ctx.scalar(0, dt, "zero")])
    ctx.add("Where", [negative, ctx.add("Mul", [x, slope]), x], [out_name(ctx, node)])


@lowers("softmax")
def _softmax(ctx: LoweringContext, node: Node) -> None:
    ctx.add("Softmax", [in_name(ctx, node, 0)], [out_name(ctx, node)], axis=int(node.attributes["axis"]))
