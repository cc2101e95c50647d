"""Element-wise unary math operators, isNaN / isInfinite, and cast."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from webnnc.compiler.errors import WebNNTypeError
from webnnc.compiler.ir import DataType, Node, OperandDescriptor
from webnnc.compiler.ops._fold import Array, first, fold_rule, wide
from webnnc.compiler.ops._options import parse_options
from webnnc.compiler.ops._range import Range, constant_range, range_rule
from webnnc.compiler.ops._support import (
    ALL,
    FLOATS,
    SIGNED,
    UINT8,
    OperandLimits,
    check_operand,
    limits_for,
    operand,
    unary_limits,
)

if TYPE_CHECKING:
    from webnnc.compiler.frontend._core import BuilderCore as _Base
    from webnnc.compiler.frontend._operand import MLOperand
else:
    _Base = object

__all__ = ["OPS", "SUPPORT", "UnaryOps"]


OPS: dict[str, str] = {
    "abs": "abs",
    "ceil": "ceil",
    "cos": "cos",
    "erf": "erf",
    "exp": "exp",
    "floor": "floor",
    "log": "log",
    "neg": "neg",
    "reciprocal": "reciprocal",
    "sin": "sin",
    "sqrt": "sqrt",
    "tan": "tan",
    "sign": "sign",
    "roundEven": "round_even",
    "isNaN": "is_nan",
    "isInfinite": "is_infinite",
    "cast": "cast",
}


class UnaryOps(_Base):
    """abs, ceil, cos, erf, exp, floor, log, neg, reciprocal, sin, sqrt, tan, sign,
    round_even, is_nan, is_infinite, cast."""

    def _unary(
        self,
        op: str,
        x: MLOperand,
        options: dict[str, Any],
        out_type: DataType | None = None,
    ) -> MLOperand:
        parse_options(op, options, ())
        v = self._value(op, "input", x)
        check_operand(op, "input", v)
        return self._add1(op, [v], OperandDescriptor(out_type or v.data_type, v.shape))

    def abs(self, input: MLOperand, **options: Any) -> MLOperand:
        """Absolute value."""
        return self._unary("abs", input, options)

    def ceil(self, input: MLOperand, **options: Any) -> MLOperand:
        """Round up to an integer value."""
        return self._unary("ceil", input, options)

    def cos(self, input: MLOperand, **options: Any) -> MLOperand:
        """Cosine (radians)."""
        return self._unary("cos", input, options)

    def erf(self, input: MLOperand, **options: Any) -> MLOperand:
        """Gauss error function."""
        return self._unary("erf", input, options)

    def exp(self, input: MLOperand, **options: Any) -> MLOperand:
        """Natural exponential."""
        return self._unary("exp", input, options)

    def floor(self, input: MLOperand, **options: Any) -> MLOperand:
        """Round down to an integer value."""
        return self._unary("floor", input, options)

    def log(self, input: MLOperand, **options: Any) -> MLOperand:
        """Natural logarithm."""
        return self._unary("log", input, options)

    def neg(self, input: MLOperand, **options: Any) -> MLOperand:
        """Negation."""
        return self._unary("neg", input, options)

    def reciprocal(self, input: MLOperand, **options: Any) -> MLOperand:
        """``1 / input``."""
        return self._unary("reciprocal", input, options)

    def sin(self, input: MLOperand, **options: Any) -> MLOperand:
        """Sine (radians)."""
        return self._unary("sin", input, options)

    def sqrt(self, input: MLOperand, **options: Any) -> MLOperand:
        """Square root."""
        return self._unary("sqrt", input, options)

    def tan(self, input: MLOperand, **options: Any) -> MLOperand:
        """Tangent (radians)."""
        return self._unary("tan", input, options)

    def sign(self, input: MLOperand, **options: Any) -> MLOperand:
        """-1, 0 or 1 by the sign of ``input``."""
        return self._unary("sign", input, options)

    def round_even(self, input: MLOperand, **options: Any) -> MLOperand:
        """Round to the nearest integer, ties to even."""
        return self._unary("roundEven", input, options)

    def is_nan(self, input: MLOperand, **options: Any) -> MLOperand:
        """1 (uint8) where ``input`` is NaN, else 0."""
        return self._unary("isNaN", input, options, DataType.UINT8)

    def is_infinite(self, input: MLOperand, **options: Any) -> MLOperand:
        """1 (uint8) where ``input`` is +-infinity, else 0."""
        return self._unary("isInfinite", input, options, DataType.UINT8)

    def cast(self, input: MLOperand, type: Any = None, **options: Any) -> MLOperand:
        """Convert ``input`` to data type ``type`` (``data_type=`` / ``dtype=`` work too).

        Float to integer truncates toward zero; out-of-range values follow ONNX Runtime's
        conversion (the spec leaves them implementation-defined).
        """
        op = "cast"
        opts = parse_options(op, options, ("data_type",), {"dtype": "data_type", "to": "data_type"})
        if "data_type" in opts:
            if type is not None:
                raise WebNNTypeError(f"{op}: the target type is given twice")
            type = opts["data_type"]
        if type is None:
            raise WebNNTypeError(f"{op}: a target data type is required")
        try:
            target = DataType.parse(type, what=f"{op} type")
        except TypeError as e:
            raise WebNNTypeError(str(e)) from None
        v = self._value(op, "input", input)
        check_operand(op, "input", v)
        out = limits_for(op, "output")
        if target not in out.data_types:
            raise WebNNTypeError(
                f"{op}: unsupported data type for cast on onnx-cpu: type is {target.value}; "
                f"supported: [{', '.join(t.value for t in DataType if t in out.data_types)}]"
            )
        return self._add1(op, [v], OperandDescriptor(target, v.shape), {"to": target.value})


# ---------------------------------------------------------------- support limits (onnx-cpu)
SUPPORT: dict[str, dict[str, OperandLimits]] = {
    "abs": unary_limits(SIGNED),
    "neg": unary_limits(SIGNED),
    "sign": unary_limits(SIGNED),
    "ceil": unary_limits(FLOATS),
    "floor": unary_limits(FLOATS),
    "roundEven": unary_limits(FLOATS),
    "cos": unary_limits(FLOATS),
    "sin": unary_limits(FLOATS),
    "tan": unary_limits(FLOATS),
    "erf": unary_limits(FLOATS),
    "exp": unary_limits(FLOATS),
    "log": unary_limits(FLOATS),
    "reciprocal": unary_limits(FLOATS),
    "sqrt": unary_limits(FLOATS),
    "isNaN": {"input": operand(FLOATS), "output": operand(UINT8)},
    "isInfinite": {"input": operand(FLOATS), "output": operand(UINT8)},
    "cast": {"input": operand(ALL), "output": operand(ALL)},
}


# ---------------------------------------------------------------- constant folding
_UNARY: dict[str, Callable[[Array], Array]] = {
    "exp": np.exp,
    "log": np.log,
    "abs": np.abs,
    "neg": np.negative,
    "sqrt": np.sqrt,
    "floor": np.floor,
    "ceil": np.ceil,
    "sin": np.sin,
    "cos": np.cos,
    "reciprocal": np.reciprocal,
    "sign": np.sign,
    "roundEven": np.rint,  # rounds half to even
    "tan": np.tan,
}


@fold_rule(*_UNARY)
def _fold_unary(node: Node, args: Sequence[Array | None]) -> Sequence[Array] | None:
    x = first(args)
    if node.op_type == "reciprocal" and x.dtype.kind in "iu":
        return None
    return [_UNARY[node.op_type](wide(x))]


@fold_rule("cast")
def _fold_cast(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    return [first(args).astype(node.outputs[0].data_type.numpy_dtype)]


@fold_rule("isNaN", "isInfinite")
def _fold_classify(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    x = first(args)
    test = np.isnan if node.op_type == "isNaN" else np.isinf
    return [test(x).astype(np.uint8)]


# ---------------------------------------------------------------- value ranges
range_rule("exp", "sqrt")(constant_range(0.0, math.inf))
range_rule("sign")(constant_range(-1.0, 1.0))
range_rule("isNaN", "isInfinite")(constant_range(0.0, 1.0))


@range_rule("abs")
def _range_abs(node: Node, r: Sequence[Range]) -> Range:
    hi = max(abs(r[0].lo), abs(r[0].hi))
    lo = 0.0 if r[0].lo <= 0.0 <= r[0].hi else min(abs(r[0].lo), abs(r[0].hi))
    return Range(lo, hi)


@range_rule("neg")
def _range_neg(node: Node, r: Sequence[Range]) -> Range:
    return -r[0]
