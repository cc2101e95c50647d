"""ONNX lowerings of the activation operators.

Native kernels first: each op lowers to the one ONNX op ONNX Runtime runs with a fused,
vectorized kernel (and which its optimizer fuses further: Conv + activation, Sigmoid * x ->
QuickGelu). With ``precision="strict"``, the ops whose kernel is less exact than the spec's
formula on some inputs (sigmoid tails, hardSwish near -3, elu near 0) spell the formula out
instead, unless the value-range analysis proves the input outside the inexact region;
``compiler/emitters/LOWERING.md`` has the measured errors and speeds. Where a kernel lacks
an integer type the support table promises (relu, prelu) the formula is spelled out too.
float16 computes in float32 and rounds once.
"""

from __future__ import annotations

from typing import Any

from webnnc.compiler.emitters.onnx._core import (
    LoweringContext,
    LoweringTable,
    cast,
    in_name,
    operand,
    out_name,
    proven_within,
)
from webnnc.compiler.ir import DataType, Node

__all__ = ["LOWERINGS"]

LOWERINGS = LoweringTable()
lowers = LOWERINGS.lowers

# ONNX's own operator computes these as the spec does
_DIRECT = {"tanh": "Tanh", "gelu": "Gelu", "softplus": "Softplus", "softsign": "Softsign"}


@lowers(*_DIRECT)
def _direct(ctx: LoweringContext, node: Node) -> None:
    ctx.add(_DIRECT[node.op_type], [in_name(ctx, node, 0)], [out_name(ctx, node)])


def _native(ctx: LoweringContext, node: Node, op: str, **attrs: Any) -> None:
    """``op`` on input 0; float16 computes in float32 (ONNX Runtime's CPU kernels are
    float32 ones: it would insert the same casts) and rounds once."""
    x = _widen(ctx, node)
    dt = operand(node).data_type
    if dt == DataType.FLOAT16:
        cast(ctx, ctx.add(op, [x], **attrs), DataType.FLOAT16, out_name(ctx, node))
    else:
        ctx.add(op, [x], [out_name(ctx, node)], **attrs)


@lowers("sigmoid")
def _sigmoid(ctx: LoweringContext, node: Node) -> None:
    # ONNX Runtime's Sigmoid kernel loses relative precision below about -8 (it returns 0
    # from about -16 on): strict spells out 1 / (1 + exp(-x)), within 2 ULP down to the
    # float32 denormals, unless x is proven >= -8 (where the kernel is within 3 ULP).
    if not ctx.strict or proven_within(ctx, node.inputs[0], -8.0, float("inf")):
        _native(ctx, node, "Sigmoid")
        return
    dt = operand(node).data_type
    x = in_name(ctx, node, 0)
    if dt == DataType.FLOAT16:
        x = cast(ctx, x, DataType.FLOAT32)
    one = ctx.scalar(1.0, DataType.FLOAT32, "one")
    denom = ctx.add("Add", [ctx.add("Exp", [ctx.add("Neg", [x])]), one])
    if dt == DataType.FLOAT16:
        cast(ctx, ctx.add("Div", [one, denom]), DataType.FLOAT16, out_name(ctx, node))
    else:
        ctx.add("Div", [one, denom], [out_name(ctx, node)])


@lowers("hardSwish")
def _hard_swish(ctx: LoweringContext, node: Node) -> None:
    # The spec's x * clip(x + 3, 0, 6) / 6: near x = -3 the sum is exact, while ONNX
    # Runtime's HardSwish (x * clip(x / 6 + 0.5)) is off by hundreds of ULP there.
    # float16 computes in float32 and rounds once. Safe for the kernel: x outside (-6, 0).
    x_in = node.inputs[0]
    if not ctx.strict or proven_within(ctx, x_in, 0.0, float("inf")) or proven_within(ctx, x_in, -float("inf"), -6.0):
        _native(ctx, node, "HardSwish")
        return
    dt = operand(node).data_type
    x = _widen(ctx, node)
    f32 = DataType.FLOAT32
    shifted = ctx.add("Add", [x, ctx.scalar(3.0, f32, "three")])
    gate = ctx.add("Clip", [shifted, ctx.scalar(0.0, f32, "zero"), ctx.scalar(6.0, f32, "six")])
    y = ctx.add("Div", [ctx.add("Mul", [x, gate]), ctx.scalar(6.0, f32, "six")])
    _narrow(ctx, y, dt, out_name(ctx, node))


def _widen(ctx: LoweringContext, node: Node) -> str:
    """Input 0 as float32 (float16 is cast; composite formulas then round only once)."""
    x = in_name(ctx, node, 0)
    return cast(ctx, x, DataType.FLOAT32) if operand(node).data_type == DataType.FLOAT16 else x


def _narrow(ctx: LoweringContext, y: str, dt: DataType, out: str) -> None:
    if dt == DataType.FLOAT16:
        cast(ctx, y, DataType.FLOAT16, out)
    else:
        ctx.add("Identity", [y], [out])


_NATIVE_RELU = frozenset({DataType.FLOAT32, DataType.FLOAT16, DataType.INT32, DataType.INT8})


@lowers("relu")
def _relu(ctx: LoweringContext, node: Node) -> None:
    dt = operand(node).data_type
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
    # (u - 1) * x / log(u) with u = exp(x), and x itself once u rounds to 1. Safe for the
    # kernel: x >= 0 (the identity) or x <= -1 (no cancellation).
    x_in, alpha = node.inputs[0], float(node.attributes["alpha"])
    if not ctx.strict or proven_within(ctx, x_in, 0.0, float("inf")) or proven_within(ctx, x_in, -float("inf"), -1.0):
        _native(ctx, node, "Elu", alpha=alpha)
        return
    dt = operand(node).data_type
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
    dt = operand(node).data_type
    a = node.attributes
    f32 = DataType.FLOAT32
    scaled = ctx.add("Mul", [_widen(ctx, node), ctx.scalar(float(a["alpha"]), f32, "alpha")])
    y = ctx.add("Add", [scaled, ctx.scalar(float(a["beta"]), f32, "beta")])
    _narrow(ctx, y, dt, out_name(ctx, node))


@lowers("prelu")
def _prelu(ctx: LoweringContext, node: Node) -> None:
    x, slope = in_name(ctx, node, 0), in_name(ctx, node, 1)
    dt = operand(node).data_type
    if dt.is_float and node.outputs[0].shape == operand(node).shape:
        ctx.add("PRelu", [x, slope], [out_name(ctx, node)])
        return
    # integers (PRelu has float kernels only), or a slope that widens the output (PRelu
    # broadcasts the slope one way only)
    negative = ctx.add("Less", [x, ctx.scalar(0, dt, "zero")])
    ctx.add("Where", [negative, ctx.add("Mul", [x, slope]), x], [out_name(ctx, node)])


@lowers("softmax")
def _softmax(ctx: LoweringContext, node: Node) -> None:
    ctx.add("Softmax", [in_name(ctx, node, 0)], [out_name(ctx, node)], axis=int(node.attributes["axis"]))
