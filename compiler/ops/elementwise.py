"""Element-wise binary operators, comparisons, logical operators, where, and clamp.

Types and ranks come from the support table (:mod:`webnnc.compiler.ops._support`);
shapes broadcast bidirectionally as in numpy (the spec's rule). Comparisons and logical
operators return ``uint8`` (0 or 1), as the spec says.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from webnnc.compiler.errors import ValidationError, WebNNTypeError
from webnnc.compiler.ir import DataType, Node, OperandDescriptor
from webnnc.compiler.ops._fold import Array, first, fold_rule, wide
from webnnc.compiler.ops._options import parse_options
from webnnc.compiler.ops._range import Range, constant_range, range_rule
from webnnc.compiler.ops._support import (
    ALL,
    NUMERIC,
    UINT8,
    OperandLimits,
    binary_limits,
    check_operand,
    operand,
    same_limits,
    unary_limits,
)
from webnnc.compiler.ops._validation import broadcast_shapes

if TYPE_CHECKING:
    from webnnc.compiler.frontend._core import BuilderCore as _Base
    from webnnc.compiler.frontend._operand import MLOperand
else:
    _Base = object

__all__ = ["OPS", "SUPPORT", "ElementwiseOps", "clamp_bound"]


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


# ---------------------------------------------------------------- support limits (onnx-cpu)
_COMPARE_LIMITS = {
    "a": operand(NUMERIC, spec=ALL), "b": operand(NUMERIC, spec=ALL), "output": operand(UINT8)
}
_LOGICAL_LIMITS = same_limits(operand(UINT8), "a", "b", "output")

SUPPORT: dict[str, dict[str, OperandLimits]] = {
    "add": binary_limits(NUMERIC),
    "sub": binary_limits(NUMERIC),
    "mul": binary_limits(NUMERIC),
    "div": binary_limits(NUMERIC),
    "max": binary_limits(NUMERIC),
    "min": binary_limits(NUMERIC),
    "pow": binary_limits(NUMERIC - {DataType.UINT64}),
    # comparisons and logical operators (outputs are uint8 0 / 1)
    "equal": _COMPARE_LIMITS,
    "notEqual": _COMPARE_LIMITS,
    "greater": _COMPARE_LIMITS,
    "greaterOrEqual": _COMPARE_LIMITS,
    "lesser": _COMPARE_LIMITS,
    "lesserOrEqual": _COMPARE_LIMITS,
    "logicalAnd": _LOGICAL_LIMITS,
    "logicalOr": _LOGICAL_LIMITS,
    "logicalXor": _LOGICAL_LIMITS,
    "logicalNot": same_limits(operand(UINT8), "a", "output"),
    "where": {
        "condition": operand(UINT8),
        "trueValue": operand(NUMERIC, spec=ALL),
        "falseValue": operand(NUMERIC, spec=ALL),
        "output": operand(NUMERIC, spec=ALL),
    },
    "clamp": unary_limits(NUMERIC, spec=ALL),
}


# ---------------------------------------------------------------- constant folding
_BINARY: dict[str, Callable[[Array, Array], Array]] = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "max": np.maximum,
    "min": np.minimum,
}


@fold_rule(*_BINARY)
def _fold_binary(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    a, b = args
    assert a is not None and b is not None
    return [_BINARY[node.op_type](wide(a), wide(b))]


@fold_rule("div")
def _fold_div(node: Node, args: Sequence[Array | None]) -> Sequence[Array] | None:
    a, b = args
    assert a is not None and b is not None
    if a.dtype.kind in "iu":
        if np.any(b == 0):
            return None  # integer division by zero: leave it to the backend
        q = np.abs(a) // np.abs(b)  # WebNN integer division truncates toward zero
        return [np.where((a < 0) != (b < 0), -q, q) if a.dtype.kind == "i" else q]
    return [np.true_divide(wide(a), wide(b))]


@fold_rule("pow")
def _fold_pow(node: Node, args: Sequence[Array | None]) -> Sequence[Array] | None:
    a, b = args
    assert a is not None and b is not None
    if a.dtype.kind in "iu" and np.any(b < 0):
        return None
    return [np.power(wide(a), wide(b))]


@fold_rule("clamp")
def _fold_clamp(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    x = wide(first(args))
    lo, hi = node.attributes["min_value"], node.attributes["max_value"]
    if x.dtype.kind in "iu":
        # exact integer bounds (a float64 near 2**63 does not round-trip through int64)
        info = np.iinfo(x.dtype)
        lo_i = info.min if lo <= info.min else min(math.ceil(lo), info.max)
        hi_i = info.max if hi >= info.max else max(math.floor(hi), info.min)
        return [np.clip(x, x.dtype.type(lo_i), x.dtype.type(hi_i))]
    lo, hi = float(lo), float(hi)
    return [np.clip(x, x.dtype.type(lo), x.dtype.type(hi))]


_COMPARE: dict[str, Callable[[Array, Array], Array]] = {
    "equal": np.equal,
    "notEqual": np.not_equal,
    "greater": np.greater,
    "greaterOrEqual": np.greater_equal,
    "lesser": np.less,
    "lesserOrEqual": np.less_equal,
}
_LOGIC: dict[str, Callable[[Array, Array], Array]] = {
    "logicalAnd": np.logical_and,
    "logicalOr": np.logical_or,
    "logicalXor": np.logical_xor,
}


@fold_rule(*_COMPARE, *_LOGIC)
def _fold_compare(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    a, b = args
    assert a is not None and b is not None
    if node.op_type in _LOGIC:
        return [_LOGIC[node.op_type](a != 0, b != 0).astype(np.uint8)]
    return [_COMPARE[node.op_type](a, b).astype(np.uint8)]


@fold_rule("logicalNot")
def _fold_logical_not(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    return [(first(args) == 0).astype(np.uint8)]


@fold_rule("where")
def _fold_where(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    cond, t, f = args
    assert cond is not None and t is not None and f is not None
    return [np.broadcast_to(np.where(cond != 0, t, f), node.outputs[0].shape)]


# ---------------------------------------------------------------- value ranges
range_rule(*_COMPARE, *_LOGIC, "logicalNot")(constant_range(0.0, 1.0))


@range_rule("clamp")
def _range_clamp(node: Node, r: Sequence[Range]) -> Range:
    return r[0].clamp(float(node.attributes["min_value"]), float(node.attributes["max_value"]))


@range_rule("where")
def _range_where(node: Node, r: Sequence[Range]) -> Range:
    return r[1].union(r[2])


@range_rule("add")
def _range_add(node: Node, r: Sequence[Range]) -> Range:
    return r[0] + r[1]


@range_rule("sub")
def _range_sub(node: Node, r: Sequence[Range]) -> Range:
    return r[0] + (-r[1])


@range_rule("mul")
def _range_mul(node: Node, r: Sequence[Range]) -> Range:
    if node.inputs[0] is node.inputs[1]:  # x * x: a square is never negative
        hi = max(r[0].lo * r[0].lo, r[0].hi * r[0].hi)
        lo = 0.0 if r[0].lo <= 0.0 <= r[0].hi else min(r[0].lo * r[0].lo, r[0].hi * r[0].hi)
        return Range(lo, hi)
    return r[0] * r[1]


@range_rule("max")
def _range_max(node: Node, r: Sequence[Range]) -> Range:
    return Range(max(r[0].lo, r[1].lo), max(r[0].hi, r[1].hi))


@range_rule("min")
def _range_min(node: Node, r: Sequence[Range]) -> Range:
    return Range(min(r[0].lo, r[1].lo), min(r[0].hi, r[1].hi))
