"""Activation functions: relu, sigmoid, tanh, elu, gelu, hardSigmoid, hardSwish, leakyRelu,
linear, softplus, softsign, prelu, softmax (option defaults as in the spec)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from webnnc.compiler.errors import WebNNTypeError
from webnnc.compiler.ir import Node, OperandDescriptor
from webnnc.compiler.ops._fold import Array, first, fold_rule, wide
from webnnc.compiler.ops._options import number, parse_options
from webnnc.compiler.ops._range import Range, constant_range, range_rule
from webnnc.compiler.ops._support import (
    FLOATS,
    MAX_RANK,
    SIGNED,
    OperandLimits,
    check_operand,
    operand,
    same_limits,
    unary_limits,
)
from webnnc.compiler.ops._validation import broadcast_shapes, check_axis

if TYPE_CHECKING:
    from webnnc.compiler.frontend._core import BuilderCore as _Base
    from webnnc.compiler.frontend._operand import MLOperand
else:
    _Base = object

__all__ = ["OPS", "SUPPORT", "ActivationOps"]


OPS: dict[str, str] = {
    "relu": "relu",
    "sigmoid": "sigmoid",
    "tanh": "tanh",
    "elu": "elu",
    "gelu": "gelu",
    "hardSigmoid": "hard_sigmoid",
    "hardSwish": "hard_swish",
    "leakyRelu": "leaky_relu",
    "linear": "linear",
    "softplus": "softplus",
    "softsign": "softsign",
    "prelu": "prelu",
    "softmax": "softmax",
}


class ActivationOps(_Base):
    """relu, sigmoid, tanh, elu, gelu, hard_sigmoid, hard_swish, leaky_relu, linear,
    softplus, softsign, prelu, softmax."""

    def _activation(
        self, op: str, x: MLOperand, options: dict[str, Any], defaults: dict[str, float] | None = None
    ) -> MLOperand:
        defaults = defaults or {}
        opts = parse_options(op, options, tuple(defaults))
        attrs = {k: number(op, k, opts.get(k, d)) for k, d in defaults.items()}
        v = self._value(op, "input", x)
        check_operand(op, "input", v)
        return self._add1(op, [v], v.descriptor, attrs or None)

    def relu(self, input: MLOperand, **options: Any) -> MLOperand:
        """``max(input, 0)``."""
        return self._activation("relu", input, options)

    def sigmoid(self, input: MLOperand, **options: Any) -> MLOperand:
        """``1 / (1 + exp(-input))``."""
        return self._activation("sigmoid", input, options)

    def tanh(self, input: MLOperand, **options: Any) -> MLOperand:
        """Hyperbolic tangent."""
        return self._activation("tanh", input, options)

    def gelu(self, input: MLOperand, **options: Any) -> MLOperand:
        """``0.5 * x * (1 + erf(x / sqrt(2)))``."""
        return self._activation("gelu", input, options)

    def hard_swish(
        self, input: MLOperand, alpha: float | None = None, beta: float | None = None, **options: Any
    ) -> MLOperand:
        """``x * max(0, min(6, x + 3)) / 6``.

        pywebnn's ``alpha`` / ``beta`` (``x * max(0, min(1, alpha * x + beta))``) are
        accepted at the spec's fixed values, 1/6 and 0.5; other values are an error (use
        ``mul(x, hard_sigmoid(x, alpha=, beta=))``).
        """
        for name, given, fixed in (("alpha", alpha, 1 / 6), ("beta", beta, 0.5)):
            if given is not None and not math.isclose(float(given), fixed, rel_tol=1e-6):
                raise WebNNTypeError(
                    f"hardSwish: {name} is fixed at {fixed:.8g} by the spec; found {given} "
                    "(use mul(x, hard_sigmoid(x, alpha=..., beta=...)))"
                )
        return self._activation("hardSwish", input, options)

    def softplus(self, input: MLOperand, **options: Any) -> MLOperand:
        """``ln(1 + exp(x))``."""
        return self._activation("softplus", input, options)

    def softsign(self, input: MLOperand, **options: Any) -> MLOperand:
        """``x / (1 + |x|)``."""
        return self._activation("softsign", input, options)

    def elu(self, input: MLOperand, alpha: Any = None, **options: Any) -> MLOperand:
        """``x >= 0 ? x : alpha * (exp(x) - 1)``; alpha defaults to 1."""
        if alpha is not None:
            options = {**options, "alpha": alpha}
        return self._activation("elu", input, options, {"alpha": 1.0})

    def hard_sigmoid(self, input: MLOperand, alpha: Any = None, beta: Any = None, **options: Any) -> MLOperand:
        """``max(0, min(1, alpha * x + beta))``; alpha 0.2, beta 0.5 by default."""
        options = {**options, **({"alpha": alpha} if alpha is not None else {}), **({"beta": beta} if beta is not None else {})}
        return self._activation("hardSigmoid", input, options, {"alpha": 0.2, "beta": 0.5})

    def leaky_relu(self, input: MLOperand, alpha: Any = None, **options: Any) -> MLOperand:
        """``x >= 0 ? x : alpha * x``; alpha defaults to 0.01."""
        if alpha is not None:
            options = {**options, "alpha": alpha}
        return self._activation("leakyRelu", input, options, {"alpha": 0.01})

    def linear(self, input: MLOperand, alpha: Any = None, beta: Any = None, **options: Any) -> MLOperand:
        """``alpha * x + beta``; alpha 1, beta 0 by default."""
        options = {**options, **({"alpha": alpha} if alpha is not None else {}), **({"beta": beta} if beta is not None else {})}
        return self._activation("linear", input, options, {"alpha": 1.0, "beta": 0.0})

    def prelu(self, input: MLOperand, slope: MLOperand, **options: Any) -> MLOperand:
        """``x >= 0 ? x : slope * x``; input and slope broadcast bidirectionally."""
        op = "prelu"
        parse_options(op, options, ())
        x = self._value(op, "input", input)
        s = self._value(op, "slope", slope)
        check_operand(op, "input", x)
        check_operand(op, "slope", s)
        if s.data_type != x.data_type:
            raise WebNNTypeError(
                f"{op}: slope data type ({s.data_type.value}) must match input ({x.data_type.value})"
            )
        shape = broadcast_shapes(op, x.shape, s.shape, names=("input", "slope"))
        return self._add1(op, [x, s], OperandDescriptor(x.data_type, shape))

    def softmax(self, input: MLOperand, axis: Any = None, **options: Any) -> MLOperand:
        """Softmax along ``axis`` (the spec requires it; pywebnn's default is the last axis)."""
        op = "softmax"
        parse_options(op, options, ())
        x = self._value(op, "input", input)
        check_operand(op, "input", x)
        axis = check_axis(op, x.rank - 1 if axis is None else axis, x.rank)
        return self._add1(op, [x], x.descriptor, {"axis": axis})


# ---------------------------------------------------------------- support limits (onnx-cpu)
SUPPORT: dict[str, dict[str, OperandLimits]] = {
    "relu": unary_limits(SIGNED),
    "sigmoid": unary_limits(FLOATS),
    "tanh": unary_limits(FLOATS),
    "elu": unary_limits(FLOATS),
    "gelu": unary_limits(FLOATS),
    "hardSigmoid": unary_limits(FLOATS),
    "hardSwish": unary_limits(FLOATS),
    "leakyRelu": unary_limits(FLOATS),
    "linear": unary_limits(FLOATS),
    "softplus": unary_limits(FLOATS),
    "softsign": unary_limits(FLOATS),
    "softmax": unary_limits(FLOATS) | {"input": operand(FLOATS, ranks=(1, MAX_RANK))},
    "prelu": same_limits(operand(SIGNED), "input", "slope", "output"),
}


# ---------------------------------------------------------------- constant folding
def _sigmoid(x: Array) -> Array:
    out: Array = 1.0 / (1.0 + np.exp(-x))
    return out


_ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "relu": lambda x: np.maximum(x, np.zeros((), x.dtype)),
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    "softsign": lambda x: x / (1 + np.abs(x)),
    "softplus": lambda x: np.logaddexp(np.zeros((), x.dtype), x),
    "hardSwish": lambda x: x * np.clip(x + 3, 0, 6) / 6,
}


@fold_rule(*_ACTIVATIONS)
def _fold_activation(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    return [_ACTIVATIONS[node.op_type](wide(first(args)))]


@fold_rule("elu", "leakyRelu", "hardSigmoid", "linear")
def _fold_parametric(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    x = wide(first(args))
    alpha = x.dtype.type(node.attributes["alpha"])
    if node.op_type == "elu":
        return [np.where(x > 0, x, alpha * np.expm1(x))]
    if node.op_type == "leakyRelu":
        return [np.where(x >= 0, x, alpha * x)]
    beta = x.dtype.type(node.attributes["beta"])
    if node.op_type == "hardSigmoid":
        return [np.clip(alpha * x + beta, 0, 1)]
    return [alpha * x + beta]


@fold_rule("softmax")
def _fold_softmax(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    x = wide(first(args))
    axis = int(node.attributes["axis"])
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return [e / np.sum(e, axis=axis, keepdims=True)]


# ---------------------------------------------------------------- value ranges
range_rule("sigmoid", "softmax", "hardSigmoid")(constant_range(0.0, 1.0))
range_rule("tanh", "softsign")(constant_range(-1.0, 1.0))
range_rule("softplus")(constant_range(0.0, math.inf))


@range_rule("relu")
def _range_relu(node: Node, r: Sequence[Range]) -> Range:
    return r[0].clamp(0.0, math.inf)
