"""Element-wise binary and unary operators, and clamp."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from webnnc.compiler.errors import ValidationError, WebNNTypeError
from webnnc.compiler.frontend._validation import (
    ALL_TYPES,
    FLOAT_TYPES,
    broadcast_shapes,
    check_data_type,
)
from webnnc.compiler.ir import DataType, OperandDescriptor

if TYPE_CHECKING:
    from webnnc.compiler.frontend._operand import MLOperand
    from webnnc.compiler.frontend.builder import MLGraphBuilder as _Base
else:
    _Base = object

__all__ = ["ElementwiseOps"]

_NUMERIC = frozenset(ALL_TYPES - {DataType.INT4, DataType.UINT4})
_SIGNED_NUMERIC = frozenset(
    {DataType.FLOAT32, DataType.FLOAT16, DataType.INT32, DataType.INT64, DataType.INT8}
)


OPS: dict[str, str] = {
    "add": "add",
    "sub": "sub",
    "mul": "mul",
    "div": "div",
    "max": "max",
    "min": "min",
    "pow": "pow",
    "relu": "relu",
    "sigmoid": "sigmoid",
    "tanh": "tanh",
    "exp": "exp",
    "abs": "abs",
    "neg": "neg",
    "sqrt": "sqrt",
    "clamp": "clamp",
}


class ElementwiseOps(_Base):
    """add, sub, mul, div, max, min, pow; relu, sigmoid, tanh, exp, abs, neg, sqrt; clamp."""

    def _binary(self, op: str, a: MLOperand, b: MLOperand, allowed: frozenset[DataType] = _NUMERIC) -> MLOperand:
        va = self._value(op, "a", a)
        vb = self._value(op, "b", b)
        if va.data_type != vb.data_type:
            raise WebNNTypeError(
                f"{op}: a and b must have the same data type; found {va.data_type.value} and {vb.data_type.value}"
            )
        check_data_type(op, "a", va.data_type, allowed)
        shape = broadcast_shapes(op, va.shape, vb.shape)
        return self._add1(op, [va, vb], OperandDescriptor(va.data_type, shape))

    def add(self, a: MLOperand, b: MLOperand) -> MLOperand:
        """Element-wise ``a + b`` with bidirectional broadcasting."""
        return self._binary("add", a, b)

    def sub(self, a: MLOperand, b: MLOperand) -> MLOperand:
        """Element-wise ``a - b`` with bidirectional broadcasting."""
        return self._binary("sub", a, b)

    def mul(self, a: MLOperand, b: MLOperand) -> MLOperand:
        """Element-wise ``a * b`` with bidirectional broadcasting."""
        return self._binary("mul", a, b)

    def div(self, a: MLOperand, b: MLOperand) -> MLOperand:
        """Element-wise ``a / b`` (integer division truncates) with broadcasting."""
        return self._binary("div", a, b)

    def max(self, a: MLOperand, b: MLOperand) -> MLOperand:
        """Element-wise maximum with broadcasting."""
        return self._binary("max", a, b)

    def min(self, a: MLOperand, b: MLOperand) -> MLOperand:
        """Element-wise minimum with broadcasting."""
        return self._binary("min", a, b)

    def pow(self, a: MLOperand, b: MLOperand) -> MLOperand:
        """Element-wise ``a ** b`` with broadcasting."""
        return self._binary("pow", a, b)

    # -- unary
    def _unary(self, op: str, x: MLOperand, allowed: frozenset[DataType], attrs: dict[str, Any] | None = None) -> MLOperand:
        v = self._value(op, "input", x)
        check_data_type(op, "input", v.data_type, allowed)
        return self._add1(op, [v], v.descriptor, attrs)

    def relu(self, input: MLOperand) -> MLOperand:
        """``max(input, 0)``."""
        return self._unary("relu", input, _SIGNED_NUMERIC)

    def sigmoid(self, input: MLOperand) -> MLOperand:
        """``1 / (1 + exp(-input))``."""
        return self._unary("sigmoid", input, FLOAT_TYPES)

    def tanh(self, input: MLOperand) -> MLOperand:
        """Hyperbolic tangent."""
        return self._unary("tanh", input, FLOAT_TYPES)

    def exp(self, input: MLOperand) -> MLOperand:
        """Natural exponential."""
        return self._unary("exp", input, FLOAT_TYPES)

    def abs(self, input: MLOperand) -> MLOperand:
        """Absolute value."""
        return self._unary("abs", input, _SIGNED_NUMERIC)

    def neg(self, input: MLOperand) -> MLOperand:
        """Negation."""
        return self._unary("neg", input, _SIGNED_NUMERIC)

    def sqrt(self, input: MLOperand) -> MLOperand:
        """Square root."""
        return self._unary("sqrt", input, FLOAT_TYPES)

    def clamp(
        self,
        input: MLOperand,
        min_value: float | None = None,
        max_value: float | None = None,
        **aliases: Any,
    ) -> MLOperand:
        """Clamp to ``[min_value, max_value]`` (defaults: -inf / +inf, per the spec).

        ``minValue`` / ``maxValue`` (the spec's spelling) are accepted as aliases.
        """
        if "minValue" in aliases:
            min_value = aliases.pop("minValue")
        if "maxValue" in aliases:
            max_value = aliases.pop("maxValue")
        if aliases:
            raise WebNNTypeError(f"clamp: unknown options {sorted(aliases)}")
        v = self._value("clamp", "input", input)
        check_data_type("clamp", "input", v.data_type, _NUMERIC)
        lo = -math.inf if min_value is None else float(min_value)
        hi = math.inf if max_value is None else float(max_value)
        if math.isnan(lo) or math.isnan(hi):
            raise ValidationError(f"clamp: min_value and max_value must not be NaN; found {lo}, {hi}")
        if lo > hi:
            raise ValidationError(f"clamp: min_value ({lo}) must be <= max_value ({hi})")
        return self._add1("clamp", [v], v.descriptor, {"min_value": lo, "max_value": hi})
