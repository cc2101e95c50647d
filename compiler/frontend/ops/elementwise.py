"""Element-wise binary operators, comparisons, logical operators, where, and clamp.

Types and ranks come from the support table (:mod:`webnnc.compiler.frontend._support`);
shapes broadcast bidirectionally as in numpy (the spec's rule). Comparisons and logical
operators return ``uint8`` (0 or 1), as the spec says.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from webnnc.compiler.errors import ValidationError, WebNNTypeError
from webnnc.compiler.frontend._support import check_operand
from webnnc.compiler.frontend._validation import broadcast_shapes
from webnnc.compiler.frontend.ops._options import parse_options
from webnnc.compiler.ir import DataType, OperandDescriptor

if TYPE_CHECKING:
    from webnnc.compiler.frontend._operand import MLOperand
    from webnnc.compiler.frontend.builder import MLGraphBuilder as _Base
else:
    _Base = object

__all__ = ["ElementwiseOps", "clamp_bound"]


OPS: dict[str, str] = {
    "add": "add",
    "sub": "sub",
    "mul": "mul",
    "div": "div",
    "max": "max",
    "min": "min",
    "pow": "pow",
    "equal": "equal",
    "notEqual": "not_equal",
    "greater": "greater",
    "greaterOrEqual": "greater_or_equal",
    "lesser": "lesser",
    "lesserOrEqual": "lesser_or_equal",
    "logicalAnd": "logical_and",
    "logicalOr": "logical_or",
    "logicalXor": "logical_xor",
    "logicalNot": "logical_not",
    "where": "where_",
    "clamp": "clamp",
}


def clamp_bound(value: Any, data_type: DataType, default: float) -> float | int:
    """A clamp bound converted to the input's data type, as the spec's MLNumber casting does.

    Floats keep their value (NaN means "no bound"); for an integer type the bound is
    truncated toward zero and saturated to the type's range, exactly (big integers too).

    >>> clamp_bound(3.9, DataType.INT64, -math.inf), clamp_bound(1000, DataType.UINT8, 0.0)
    (3, 255)
    >>> clamp_bound("NaN", DataType.FLOAT32, -math.inf)
    -inf
    """
    if value is None:
        value = default
    if isinstance(value, str):
        try:
            value = int(value) if value.lstrip("+-").isdigit() else float(value)
        except ValueError:
            raise WebNNTypeError(f"clamp: bound must be a number; found {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        if not hasattr(value, "__float__"):
            raise WebNNTypeError(f"clamp: bound must be a number; found {value!r}")
        value = float(value)
    if isinstance(value, float) and math.isnan(value):
        value = default
    if data_type.is_float:
        return float(value)
    import numpy as np

    info = np.iinfo(data_type.numpy_dtype)
    if isinstance(value, float):
        if math.isinf(value):
            return int(info.min) if value < 0 else int(info.max)
        value = math.trunc(value)
    return int(min(max(int(value), int(info.min)), int(info.max)))


class ElementwiseOps(_Base):
    """add, sub, mul, div, max, min, pow; comparisons; logical ops; where_; clamp."""

    def _binary(self, op: str, a: MLOperand, b: MLOperand, out_type: DataType | None = None) -> MLOperand:
        va = self._value(op, "a", a)
        vb = self._value(op, "b", b)
        check_operand(op, "a", va)
        check_operand(op, "b", vb)
        if va.data_type != vb.data_type:
            raise WebNNTypeError(
                f"{op}: a and b must have the same data type; found {va.data_type.value} "
                f"and {vb.data_type.value}"
            )
        shape = broadcast_shapes(op, va.shape, vb.shape)
        return self._add1(op, [va, vb], OperandDescriptor(out_type or va.data_type, shape))

    # -- arithmetic
    def add(self, a: MLOperand, b: MLOperand, **options: Any) -> MLOperand:
        """Element-wise ``a + b`` with bidirectional broadcasting."""
        parse_options("add", options, ())
        return self._binary("add", a, b)

    def sub(self, a: MLOperand, b: MLOperand, **options: Any) -> MLOperand:
        """Element-wise ``a - b`` with bidirectional broadcasting."""
        parse_options("sub", options, ())
        return self._binary("sub", a, b)

    def mul(self, a: MLOperand, b: MLOperand, **options: Any) -> MLOperand:
        """Element-wise ``a * b`` with bidirectional broadcasting."""
        parse_options("mul", options, ())
        return self._binary("mul", a, b)

    def div(self, a: MLOperand, b: MLOperand, **options: Any) -> MLOperand:
        """Element-wise ``a / b`` (integer division truncates) with broadcasting."""
        parse_options("div", options, ())
        return self._binary("div", a, b)

    def max(self, a: MLOperand, b: MLOperand, **options: Any) -> MLOperand:
        """Element-wise maximum with broadcasting."""
        parse_options("max", options, ())
        return self._binary("max", a, b)

    def min(self, a: MLOperand, b: MLOperand, **options: Any) -> MLOperand:
        """Element-wise minimum with broadcasting."""
        parse_options("min", options, ())
        return self._binary("min", a, b)

    def pow(self, a: MLOperand, b: MLOperand, **options: Any) -> MLOperand:
        """Element-wise ``a ** b`` with broadcasting."""
        parse_options("pow", options, ())
        return self._binary("pow", a, b)

    # -- comparisons: uint8 results
    def equal(self, a: MLOperand, b: MLOperand, **options: Any) -> MLOperand:
        """``a == b`` as uint8 0 / 1, with broadcasting."""
        parse_options("equal", options, ())
        return self._binary("equal", a, b, DataType.UINT8)

    def not_equal(self, a: MLOperand, b: MLOperand, **options: Any) -> MLOperand:
        """``a != b`` as uint8 0 / 1, with broadcasting."""
        parse_options("notEqual", options, ())
        return self._binary("notEqual", a, b, DataType.UINT8)

    def greater(self, a: MLOperand, b: MLOperand, **options: Any) -> MLOperand:
        """``a > b`` as uint8 0 / 1, with broadcasting."""
        parse_options("greater", options, ())
        return self._binary("greater", a, b, DataType.UINT8)

    def greater_or_equal(self, a: MLOperand, b: MLOperand, **options: Any) -> MLOperand:
        """``a >= b`` as uint8 0 / 1, with broadcasting."""
        parse_options("greaterOrEqual", options, ())
        return self._binary("greaterOrEqual", a, b, DataType.UINT8)

    def lesser(self, a: MLOperand, b: MLOperand, **options: Any) -> MLOperand:
        """``a < b`` as uint8 0 / 1, with broadcasting."""
        parse_options("lesser", options, ())
        return self._binary("lesser", a, b, DataType.UINT8)

    def lesser_or_equal(self, a: MLOperand, b: MLOperand, **options: Any) -> MLOperand:
        """``a <= b`` as uint8 0 / 1, with broadcasting."""
        parse_options("lesserOrEqual", options, ())
        return self._binary("lesserOrEqual", a, b, DataType.UINT8)

    # -- logical: uint8 in (nonzero = true), uint8 0 / 1 out
    def logical_and(self, a: MLOperand, b: MLOperand, **options: Any) -> MLOperand:
        """``a && b`` on uint8 truth values."""
        parse_options("logicalAnd", options, ())
        return self._binary("logicalAnd", a, b, DataType.UINT8)

    def logical_or(self, a: MLOperand, b: MLOperand, **options: Any) -> MLOperand:
        """``a || b`` on uint8 truth values."""
        parse_options("logicalOr", options, ())
        return self._binary("logicalOr", a, b, DataType.UINT8)

    def logical_xor(self, a: MLOperand, b: MLOperand, **options: Any) -> MLOperand:
        """``a != b`` as truth values, on uint8."""
        parse_options("logicalXor", options, ())
        return self._binary("logicalXor", a, b, DataType.UINT8)

    def logical_not(self, a: MLOperand, **options: Any) -> MLOperand:
        """``!a`` on uint8 truth values."""
        op = "logicalNot"
        parse_options(op, options, ())
        v = self._value(op, "a", a)
        check_operand(op, "a", v)
        return self._add1(op, [v], OperandDescriptor(DataType.UINT8, v.shape))

    # -- selection
    def where_(
        self, condition: MLOperand, true_value: MLOperand, false_value: MLOperand, **options: Any
    ) -> MLOperand:
        """``condition ? true_value : false_value`` element-wise; all three broadcast."""
        op = "where"
        parse_options(op, options, ())
        c = self._value(op, "condition", condition)
        t = self._value(op, "trueValue", true_value)
        f = self._value(op, "falseValue", false_value)
        check_operand(op, "condition", c)
        check_operand(op, "trueValue", t)
        check_operand(op, "falseValue", f)
        if t.data_type != f.data_type:
            raise WebNNTypeError(
                f"{op}: trueValue and falseValue must have the same data type; found "
                f"{t.data_type.value} and {f.data_type.value}"
            )
        shape = broadcast_shapes(op, t.shape, f.shape, names=("trueValue", "falseValue"))
        shape = broadcast_shapes(op, c.shape, shape, names=("condition", "trueValue/falseValue"))
        return self._add1(op, [c, t, f], OperandDescriptor(t.data_type, shape))

    def clamp(
        self,
        input: MLOperand,
        min_value: Any = None,
        max_value: Any = None,
        **options: Any,
    ) -> MLOperand:
        """Clamp to ``[min_value, max_value]`` (defaults: no bound).

        The bounds are cast to the input's data type as the spec's ``MLNumber`` is (integers:
        truncated, then saturated; a NaN bound means no bound). ``minValue`` / ``maxValue``
        (the spec's spelling) work too.
        """
        op = "clamp"
        opts = parse_options(op, options, ("min_value", "max_value"))
        if "min_value" in opts:
            if min_value is not None:
                raise WebNNTypeError(f"{op}: min_value is given twice")
            min_value = opts["min_value"]
        if "max_value" in opts:
            if max_value is not None:
                raise WebNNTypeError(f"{op}: max_value is given twice")
            max_value = opts["max_value"]
        v = self._value(op, "input", input)
        check_operand(op, "input", v)
        lo = clamp_bound(min_value, v.data_type, -math.inf)
        hi = clamp_bound(max_value, v.data_type, math.inf)
        if lo > hi:
            raise ValidationError(f"{op}: min_value ({lo}) must be <= max_value ({hi})")
        return self._add1(op, [v], v.descriptor, {"min_value": lo, "max_value": hi})

