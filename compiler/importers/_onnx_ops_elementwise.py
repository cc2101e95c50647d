"""ONNX element-wise operators -> WebNN: arithmetic, comparisons, logic, activations, Cast, Clip."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from webnnc.compiler.frontend import MLOperand
from webnnc.compiler.importers._onnx_core import (
    ONNX_TO_NUMPY,
    ImportContext,
    OnnxNode,
    Tensor,
    Unsupported,
    onnx_op,
    prod,
)

__all__: list[str] = []

# ONNX op -> WebNN op, same operands, no attributes.
_BINARY = {
    "Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div",
    "Equal": "equal", "Greater": "greater", "Less": "lesser",
    "GreaterOrEqual": "greaterOrEqual", "LessOrEqual": "lesserOrEqual",
    "And": "logicalAnd", "Or": "logicalOr", "Xor": "logicalXor",
}
_UNARY = {
    "Abs": "abs", "Neg": "neg", "Sqrt": "sqrt", "Exp": "exp", "Log": "log", "Relu": "relu",
    "Sigmoid": "sigmoid", "Tanh": "tanh", "Erf": "erf", "Floor": "floor", "Ceil": "ceil",
    "Reciprocal": "reciprocal", "Sin": "sin", "Cos": "cos", "Tan": "tan", "Sign": "sign",
    "Round": "roundEven", "Softsign": "softsign", "Not": "logicalNot", "IsNaN": "isNaN",
    "HardSwish": "hardSwish",
}


@onnx_op("PRelu", webnn=["prelu", "reshape"],
         note="a 1-D per-channel slope (pre-opset-7 exports) is laid along axis 1")
def _prelu(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    x, slope = ctx.operand(node.inputs[0]), node.inputs[1]  # type: ignore[arg-type]
    assert slope is not None
    s_shape = ctx.shape(slope)
    if x.rank > 2 and len(s_shape) == 1 and s_shape[0] == x.shape[1] != x.shape[-1]:
        slope = ctx.reshape(slope, [x.shape[1]] + [1] * (x.rank - 2))
    return [ctx.call("prelu", x, ctx.operand(slope, like=x) if not isinstance(slope, MLOperand) else slope)]


def _binary_converter(webnn: str) -> Any:
    def convert(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
        a, b = node.input(0), node.input(1)
        assert a is not None and b is not None
        return [ctx.call(webnn, ctx.operand(a), ctx.operand(b))]

    return convert


def _unary_converter(webnn: str) -> Any:
    def convert(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
        return [ctx.call(webnn, ctx.operand(node.inputs[0]))]  # type: ignore[arg-type]

    return convert


for _onnx, _webnn in _BINARY.items():
    onnx_op(_onnx, webnn=[_webnn])(_binary_converter(_webnn))
for _onnx, _webnn in _UNARY.items():
    onnx_op(_onnx, webnn=[_webnn])(_unary_converter(_webnn))


@onnx_op("Pow", webnn=["pow"], note="a constant exponent is cast to the base's data type")
def _pow(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    x, y = node.inputs[0], node.inputs[1]
    assert x is not None and y is not None
    base = ctx.operand(x)
    if isinstance(y, MLOperand):
        if y.data_type != base.data_type:
            y = ctx.call("cast", y, base.data_type)
        return [ctx.call("pow", base, y)]
    return [ctx.call("pow", base, ctx.operand(y, like=base))]


@onnx_op("Sum", "Max", "Min", "Mean",
         webnn={"Sum": ["add"], "Max": ["max"], "Min": ["min"], "Mean": ["add", "div"]},
         note="variadic: a chain of binary ops (Mean: sum, then div by the count)")
def _variadic(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    op = {"Sum": "add", "Mean": "add", "Max": "max", "Min": "min"}[node.op_type]
    items = [t for t in node.inputs if t is not None]
    acc = ctx.operand(items[0])
    for t in items[1:]:
        acc = ctx.call(op, acc, ctx.operand(t))
    if len(items) == 1:
        acc = ctx.call("identity", acc) if ctx.has("identity") else acc
    if node.op_type == "Mean" and len(items) > 1:
        acc = ctx.call("div", acc, ctx.scalar(len(items), acc))
    return [acc]


@onnx_op("Identity", "Dropout", webnn=[], note="removed (inference: Dropout is the identity)")
def _identity(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    if node.op_type == "Dropout":
        node.reject_attr("training_mode", 0, "training-mode dropout is random")
        training = node.input(2)
        if training is not None and not isinstance(training, MLOperand) and bool(np.asarray(training)):
            raise Unsupported("training_mode input is true; WebNN runs inference only")
        if 1 in node.used_outputs:
            x = node.inputs[0]
            assert x is not None
            return [x, np.ones(ctx.shape(x), dtype=np.bool_)]
    return [node.inputs[0]]


@onnx_op("Cast", webnn=["cast", "notEqual"], note="to bool: notEqual(x, 0), as WebNN booleans are uint8")
def _cast(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    to = ONNX_TO_NUMPY.get(int(node.attr("to")), str(node.attr("to")))
    x = ctx.operand(node.inputs[0])  # type: ignore[arg-type]
    if to == "bool":  # WebNN booleans are uint8 0/1; any nonzero value is true
        return [ctx.call("notEqual", x, ctx.scalar(0, x))]
    if to not in ("float32", "float16", "int32", "uint32", "int64", "uint64", "int8", "uint8"):
        raise Unsupported(f"cast to {to}: WebNN has no such data type")
    if x.data_type == to:
        return [x]
    return [ctx.call("cast", x, to)]


@onnx_op("CastLike", webnn=["cast"])
def _cast_like(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    x, like = node.inputs[0], node.inputs[1]
    assert x is not None and like is not None
    target = like.data_type if isinstance(like, MLOperand) else str(np.asarray(like).dtype)
    if target == "bool":
        target = "uint8"
    xo = ctx.operand(x)
    return [xo if xo.data_type == target else ctx.call("cast", xo, target)]


@onnx_op("Clip", webnn=["clamp", "max", "min"], note="run-time bounds become max/min")
def _clip(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    x = ctx.operand(node.inputs[0])  # type: ignore[arg-type]
    if node.opset < 11:
        lo: Any = node.attr("min", -math.inf)
        hi: Any = node.attr("max", math.inf)
    else:
        lo, hi = node.input(1), node.input(2)
    if isinstance(lo, MLOperand) or isinstance(hi, MLOperand):
        y = x
        if lo is not None:
            y = ctx.call("max", y, ctx.operand(lo, like=x))
        if hi is not None:
            y = ctx.call("min", y, ctx.operand(hi, like=x))
        return [y]
    for what, bound in (("min", lo), ("max", hi)):
        if bound is not None and np.asarray(bound).size != 1:
            raise Unsupported(f"{what}: expected a scalar; found shape {list(np.asarray(bound).shape)}")
    lo_v = None if lo is None else float(np.asarray(lo).reshape(()))
    hi_v = None if hi is None else float(np.asarray(hi).reshape(()))
    return [ctx.call("clamp", x, min_value=lo_v, max_value=hi_v)]


@onnx_op("Where", webnn=["where"])
def _where(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    c, a, b = (ctx.operand(t) for t in node.inputs)  # type: ignore[arg-type]
    return [ctx.call("where", c, a, b)]


@onnx_op("IsInf", webnn=["isInfinite", "greater", "lesser", "logicalAnd"])
def _isinf(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    x = ctx.operand(node.inputs[0])  # type: ignore[arg-type]
    pos, neg = bool(node.attr("detect_positive", 1)), bool(node.attr("detect_negative", 1))
    inf = ctx.call("isInfinite", x)
    if pos and neg:
        return [inf]
    if not pos and not neg:
        return [ctx.call("logicalAnd", inf, ctx.operand(np.zeros([1] * x.rank, np.uint8)))]
    sign = ctx.call("greater" if pos else "lesser", x, ctx.scalar(0, x))
    return [ctx.call("logicalAnd", inf, sign)]


@onnx_op("Elu", webnn=["elu"])
def _elu(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    return [ctx.call("elu", ctx.operand(node.inputs[0]), alpha=float(node.attr("alpha", 1.0)))]  # type: ignore[arg-type]


@onnx_op("Selu", webnn=["elu", "mul"], note="gamma * elu(x, alpha)")
def _selu(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    x = ctx.operand(node.inputs[0])  # type: ignore[arg-type]
    alpha = float(node.attr("alpha", 1.67326319217681884765625))
    gamma = float(node.attr("gamma", 1.05070102214813232421875))
    return [ctx.call("mul", ctx.call("elu", x, alpha=alpha), ctx.scalar(gamma, x))]


@onnx_op("LeakyRelu", webnn=["leakyRelu"])
def _leaky(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    return [ctx.call("leakyRelu", ctx.operand(node.inputs[0]), alpha=float(node.attr("alpha", 0.01)))]  # type: ignore[arg-type]


@onnx_op("HardSigmoid", webnn=["hardSigmoid"])
def _hard_sigmoid(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    x = ctx.operand(node.inputs[0])  # type: ignore[arg-type]
    return [ctx.call("hardSigmoid", x, alpha=float(node.attr("alpha", 0.2)), beta=float(node.attr("beta", 0.5)))]


@onnx_op("Softplus", webnn=["softplus"])
def _softplus(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    return [ctx.call("softplus", ctx.operand(node.inputs[0]))]  # type: ignore[arg-type]


@onnx_op("ThresholdedRelu", webnn=["greater", "cast", "mul"], note="x * (x > alpha)")
def _thresholded_relu(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    x = ctx.operand(node.inputs[0])  # type: ignore[arg-type]
    mask = ctx.call("greater", x, ctx.scalar(float(node.attr("alpha", 1.0)), x))
    return [ctx.call("mul", x, ctx.call("cast", mask, x.data_type))]


@onnx_op("Gelu", webnn=["gelu", "tanh", "mul", "add", "pow"],
         note='approximate="tanh" is composed from its formula')
def _gelu(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    x = ctx.operand(node.inputs[0])  # type: ignore[arg-type]
    approximate = node.attr("approximate", "none")
    if approximate == "none":
        return [ctx.call("gelu", x)]
    if approximate != "tanh":
        raise Unsupported(f"approximate={approximate!r} is not one of 'none', 'tanh'")
    # 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))
    cube = ctx.call("mul", ctx.call("mul", x, x), x)
    inner = ctx.call("add", x, ctx.call("mul", cube, ctx.scalar(0.044715, x)))
    t = ctx.call("tanh", ctx.call("mul", inner, ctx.scalar(math.sqrt(2 / math.pi), x)))
    half_x = ctx.call("mul", x, ctx.scalar(0.5, x))
    return [ctx.call("mul", half_x, ctx.call("add", t, ctx.scalar(1.0, x)))]


@onnx_op("Mish", webnn=["softplus", "tanh", "mul"], note="x * tanh(softplus(x))")
def _mish(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    x = ctx.operand(node.inputs[0])  # type: ignore[arg-type]
    return [ctx.call("mul", x, ctx.call("tanh", ctx.call("softplus", x)))]


@onnx_op("QuantizeLinear", "DequantizeLinear",
         webnn={"QuantizeLinear": ["quantizeLinear", "reshape"],
                "DequantizeLinear": ["dequantizeLinear", "reshape"]},
         note="per-axis scales are reshaped to broadcast; blocked quantization unsupported")
def _quant(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    x, scale, zero = node.input(0), node.input(1), node.input(2)
    assert x is not None and scale is not None
    if node.attr("block_size", 0):
        raise Unsupported("blocked quantization (block_size) is not mapped")
    rank = len(ctx.shape(x))
    axis = int(node.attr("axis", 1)) % max(rank, 1)
    # WebNN wants scale and zero point at the input's rank, both of one shape; ONNX has a
    # scalar or 1-D scale (per tensor or per axis), and may give a [1] scale a scalar zero point
    count = prod(ctx.shape(scale))
    shape = [1] * rank
    if count != 1:
        if len(ctx.shape(scale)) != 1:
            raise Unsupported(f"scale of shape {list(ctx.shape(scale))}: expected a scalar or a 1-D scale")
        shape[axis] = count
    if list(ctx.shape(scale)) != shape:
        scale = ctx.reshape(scale, shape)
    if zero is not None and list(ctx.shape(zero)) != shape:
        if prod(ctx.shape(zero)) != count:
            raise Unsupported(f"zero point of shape {list(ctx.shape(zero))}: expected {count} value(s), as the scale")
        zero = ctx.reshape(zero, shape)
    if zero is None:
        if node.op_type == "DequantizeLinear":
            raise Unsupported("a zero point is required by WebNN dequantizeLinear")
        zero = np.zeros(ctx.shape(scale), dtype=np.uint8)
    if node.op_type == "QuantizeLinear":
        return [ctx.call("quantizeLinear", ctx.operand(x), ctx.operand(scale), ctx.operand(zero))]
    return [ctx.call("dequantizeLinear", ctx.operand(x), ctx.operand(scale), ctx.operand(zero))]
