"""CoreML lowerings of the activation operators (MIL has most of them as ops).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from coremltools.converters.mil import Builder as mb  # noqa: N813 - the MIL idiom
from coremltools.converters.mil.mil import Var

from webnnc.compiler.emitters.coreml._core import (
    FLOATS,
    LoweringTable,
    MilContext,
    input_type,
    op_name,
    operand,
)
from webnnc.compiler.ir import Node

__all__ = ["LOWERINGS"]

LOWERINGS = LoweringTable()
lowers = LOWERINGS.lowers


_UNARY_FLOAT: dict[str, Callable[..., Var]] = {
    "sigmoid": mb.sigmoid, "tanh": mb.tanh, "softplus": mb.softplus, "softsign": mb.softsign,
}


@lowers(*_UNARY_FLOAT, data_types=FLOATS)
def _unary_float(ctx: MilContext, node: Node) -> Var:
    return _UNARY_FLOAT[node.op_type](x=ctx.var(operand(node)), name=op_name(ctx, node))


@lowers("relu")
def _relu(ctx: MilContext, node: Node) -> Var:
    x = operand(node)
    if x.data_type in FLOATS:
        return mb.relu(x=ctx.var(x), name=op_name(ctx, node))
    return mb.maximum(x=ctx.var(x), y=ctx.const(0, x.data_type, "zero"), name=op_name(ctx, node))


@lowers("softmax", data_types=FLOATS)
def _softmax(ctx: MilContext, node: Node) -> Var:
    return mb.softmax(x=ctx.var(operand(node)), axis=int(node.attributes["axis"]), name=op_name(ctx, node))


def _alpha(node: Node, key: str = "alpha") -> Any:
    return input_type(node).numpy_dtype.type(float(node.attributes[key]))


@lowers("elu", data_types=FLOATS)
def _elu(ctx: MilContext, node: Node) -> Var:
    return mb.elu(x=ctx.var(operand(node)), alpha=_alpha(node), name=op_name(ctx, node))


@lowers("leakyRelu", data_types=FLOATS)
def _leaky_relu(ctx: MilContext, node: Node) -> Var:
    return mb.leaky_relu(x=ctx.var(operand(node)), alpha=_alpha(node), name=op_name(ctx, node))


@lowers("linear", data_types=FLOATS)
def _linear(ctx: MilContext, node: Node) -> Var:
    return mb.linear_activation(x=ctx.var(operand(node)), alpha=_alpha(node), beta=_alpha(node, "beta"), name=op_name(ctx, node))


@lowers("hardSigmoid", data_types=FLOATS)
def _hard_sigmoid(ctx: MilContext, node: Node) -> Var:
    return mb.sigmoid_hard(x=ctx.var(operand(node)), alpha=_alpha(node), beta=_alpha(node, "beta"), name=op_name(ctx, node))


@lowers("hardSwish", data_types=FLOATS)
def _hard_swish(ctx: MilContext, node: Node) -> Var:
    # x * max(0, min(1, x / 6 + 0.5)) = x * relu6(x + 3) / 6
    x = ctx.var(operand(node))
    t = input_type(node).numpy_dtype.type
    gate = mb.sigmoid_hard(x=x, alpha=t(1.0 / 6.0), beta=t(0.5), name=ctx.fresh("hard_swish_gate"))
    return mb.mul(x=x, y=gate, name=op_name(ctx, node))


@lowers("gelu", data_types=FLOATS)
def _gelu(ctx: MilContext, node: Node) -> Var:
    return mb.gelu(x=ctx.var(operand(node)), mode="EXACT", name=op_name(ctx, node))


@lowers("prelu", data_types=FLOATS)
def _prelu(ctx: MilContext, node: Node) -> Var:
    # MIL's prelu wants a per-channel constant slope; the spec's slope broadcasts freely.
    x, slope = ctx.var(operand(node, 0)), ctx.var(operand(node, 1))
    zero = ctx.const(0, input_type(node), "zero")
    pos = mb.maximum(x=x, y=zero, name=ctx.fresh("prelu_pos"))
    neg = mb.mul(x=mb.minimum(x=x, y=zero, name=ctx.fresh("prelu_neg")), y=slope, name=ctx.fresh("prelu_scaled"))
    return mb.add(x=pos, y=neg, name=op_name(ctx, node))
