"""Reductions (reduceL1 ... reduceSumSquare), argMin / argMax, cumulativeSum."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from webnnc.compiler.errors import WebNNTypeError
from webnnc.compiler.ir import DataType, Node, OperandDescriptor
from webnnc.compiler.ops._fold import Array, first, fold_rule, wide
from webnnc.compiler.ops._options import flag, parse_options
from webnnc.compiler.ops._range import constant_range, first_range, range_rule
from webnnc.compiler.ops._support import (
    ALL,
    FLOATS,
    INDEX,
    MAX_RANK,
    NUMERIC,
    SUMMABLE,
    OperandLimits,
    check_operand,
    limits_for,
    operand,
    unary_limits,
)
from webnnc.compiler.ops._validation import check_axes, check_axis

if TYPE_CHECKING:
    from webnnc.compiler.frontend._core import BuilderCore as _Base
    from webnnc.compiler.frontend._operand import MLOperand
else:
    _Base = object

__all__ = ["OPS", "SUPPORT", "ReductionOps", "reduced_shape"]


OPS: dict[str, str] = {
    "reduceL1": "reduce_l1",
    "reduceL2": "reduce_l2",
    "reduceLogSum": "reduce_log_sum",
    "reduceLogSumExp": "reduce_log_sum_exp",
    "reduceMax": "reduce_max",
    "reduceMean": "reduce_mean",
    "reduceMin": "reduce_min",
    "reduceProduct": "reduce_product",
    "reduceSum": "reduce_sum",
    "reduceSumSquare": "reduce_sum_square",
    "argMax": "arg_max",
    "argMin": "arg_min",
    "cumulativeSum": "cumulative_sum",
}

_KEEP_ALIASES = {"keepdims": "keep_dimensions", "keep_dims": "keep_dimensions"}


def reduced_shape(shape: tuple[int, ...], axes: tuple[int, ...], keep: bool) -> tuple[int, ...]:
    """The output shape of reducing ``axes`` of ``shape``.

    >>> reduced_shape((2, 3, 4), (1,), False), reduced_shape((2, 3, 4), (0, 2), True)
    ((2, 4), (1, 3, 1))
    """
    if keep:
        return tuple(1 if d in axes else s for d, s in enumerate(shape))
    return tuple(s for d, s in enumerate(shape) if d not in axes)


class ReductionOps(_Base):
    """reduce_l1, reduce_l2, reduce_log_sum, reduce_log_sum_exp, reduce_max, reduce_mean,
    reduce_min, reduce_product, reduce_sum, reduce_sum_square; arg_max, arg_min;
    cumulative_sum."""

    def _reduce(
        self, op: str, x: MLOperand, axes: Any, keep_dimensions: bool | None, options: dict[str, Any]
    ) -> MLOperand:
        opts = parse_options(op, options, ("axes", "keep_dimensions"), _KEEP_ALIASES)
        if "axes" in opts:
            if axes is not None:
                raise WebNNTypeError(f"{op}: axes is given twice")
            axes = opts["axes"]
        if "keep_dimensions" in opts and keep_dimensions is not None:
            raise WebNNTypeError(f"{op}: keep_dimensions is given twice")
        keep = flag(op, "keep_dimensions", opts.get("keep_dimensions", keep_dimensions or False))
        v = self._value(op, "input", x)
        check_operand(op, "input", v)
        # Spec: axes absent = every axis; an empty list reduces nothing (the identity).
        ax = tuple(range(v.rank)) if axes is None else check_axes(op, axes, v.rank)
        shape = reduced_shape(v.shape, ax, keep)
        attrs = {"axes": tuple(sorted(ax)), "keep_dimensions": keep}
        return self._add1(op, [v], OperandDescriptor(v.data_type, shape), attrs)

    def reduce_l1(self, input: MLOperand, axes: Any = None, keep_dimensions: bool | None = None, **options: Any) -> MLOperand:
        """Sum of absolute values over ``axes`` (default: all axes)."""
        return self._reduce("reduceL1", input, axes, keep_dimensions, options)

    def reduce_l2(self, input: MLOperand, axes: Any = None, keep_dimensions: bool | None = None, **options: Any) -> MLOperand:
        """Square root of the sum of squares over ``axes``."""
        return self._reduce("reduceL2", input, axes, keep_dimensions, options)

    def reduce_log_sum(self, input: MLOperand, axes: Any = None, keep_dimensions: bool | None = None, **options: Any) -> MLOperand:
        """Natural log of the sum over ``axes``."""
        return self._reduce("reduceLogSum", input, axes, keep_dimensions, options)

    def reduce_log_sum_exp(self, input: MLOperand, axes: Any = None, keep_dimensions: bool | None = None, **options: Any) -> MLOperand:
        """Natural log of the sum of exponentials over ``axes``."""
        return self._reduce("reduceLogSumExp", input, axes, keep_dimensions, options)

    def reduce_max(self, input: MLOperand, axes: Any = None, keep_dimensions: bool | None = None, **options: Any) -> MLOperand:
        """Maximum over ``axes``."""
        return self._reduce("reduceMax", input, axes, keep_dimensions, options)

    def reduce_mean(self, input: MLOperand, axes: Any = None, keep_dimensions: bool | None = None, **options: Any) -> MLOperand:
        """Arithmetic mean over ``axes``."""
        return self._reduce("reduceMean", input, axes, keep_dimensions, options)

    def reduce_min(self, input: MLOperand, axes: Any = None, keep_dimensions: bool | None = None, **options: Any) -> MLOperand:
        """Minimum over ``axes``."""
        return self._reduce("reduceMin", input, axes, keep_dimensions, options)

    def reduce_product(self, input: MLOperand, axes: Any = None, keep_dimensions: bool | None = None, **options: Any) -> MLOperand:
        """Product over ``axes``."""
        return self._reduce("reduceProduct", input, axes, keep_dimensions, options)

    def reduce_sum(self, input: MLOperand, axes: Any = None, keep_dimensions: bool | None = None, **options: Any) -> MLOperand:
        """Sum over ``axes``."""
        return self._reduce("reduceSum", input, axes, keep_dimensions, options)

    def reduce_sum_square(self, input: MLOperand, axes: Any = None, keep_dimensions: bool | None = None, **options: Any) -> MLOperand:
        """Sum of squares over ``axes``."""
        return self._reduce("reduceSumSquare", input, axes, keep_dimensions, options)

    # -- index of the extreme value
    def _arg(self, op: str, x: MLOperand, axis: Any, options: dict[str, Any]) -> MLOperand:
        opts = parse_options(
            op, options, ("axis", "keep_dimensions", "output_data_type"),
            _KEEP_ALIASES,
        )
        if "axis" in opts:
            if axis is not None:
                raise WebNNTypeError(f"{op}: axis is given twice")
            axis = opts["axis"]
        if axis is None:
            raise WebNNTypeError(f"{op}: axis is required")
        keep = flag(op, "keep_dimensions", opts.get("keep_dimensions", False))
        try:
            out_type = DataType.parse(opts.get("output_data_type", "int32"), what=f"{op} output_data_type")
        except TypeError as e:
            raise WebNNTypeError(str(e)) from None
        allowed = limits_for(op, "output").data_types
        if out_type not in allowed:
            raise WebNNTypeError(
                f"{op}: output_data_type must be one of [int32, int64]; found {out_type.value}"
            )
        v = self._value(op, "input", x)
        check_operand(op, "input", v)
        axis = check_axis(op, axis, v.rank)
        shape = reduced_shape(v.shape, (axis,), keep)
        attrs = {"axis": axis, "keep_dimensions": keep}
        return self._add1(op, [v], OperandDescriptor(out_type, shape), attrs)

    def arg_max(self, input: MLOperand, axis: Any = None, **options: Any) -> MLOperand:
        """Index of the largest value along ``axis`` (first on ties); int32 unless
        ``output_data_type="int64"``."""
        return self._arg("argMax", input, axis, options)

    def arg_min(self, input: MLOperand, axis: Any = None, **options: Any) -> MLOperand:
        """Index of the smallest value along ``axis`` (first on ties); int32 unless
        ``output_data_type="int64"``."""
        return self._arg("argMin", input, axis, options)

    def cumulative_sum(self, input: MLOperand, axis: Any = None, **options: Any) -> MLOperand:
        """Running sum along ``axis``; ``reversed=True`` sums from the end."""
        op = "cumulativeSum"
        opts = parse_options(op, options, ("axis", "exclusive", "reversed"), {"reverse": "reversed"})
        if "axis" in opts:
            if axis is not None:
                raise WebNNTypeError(f"{op}: axis is given twice")
            axis = opts["axis"]
        if axis is None:
            raise WebNNTypeError(f"{op}: axis is required")
        exclusive = flag(op, "exclusive", opts.get("exclusive", False))
        reverse = flag(op, "reversed", opts.get("reversed", False))
        v = self._value(op, "input", input)
        check_operand(op, "input", v)
        axis = check_axis(op, axis, v.rank)
        attrs = {"axis": axis, "exclusive": exclusive, "reversed": reverse}
        return self._add1(op, [v], v.descriptor, attrs)


# ---------------------------------------------------------------- support limits (onnx-cpu)
_REDUCE_SUM = unary_limits(SUMMABLE)
_REDUCE_FLOAT = unary_limits(FLOATS)
_ARG = {"input": operand(NUMERIC, spec=ALL, ranks=(1, MAX_RANK)), "output": operand(INDEX)}

SUPPORT: dict[str, dict[str, OperandLimits]] = {
    "reduceL1": _REDUCE_SUM,
    "reduceProduct": _REDUCE_SUM,
    "reduceSum": _REDUCE_SUM,
    "reduceSumSquare": _REDUCE_SUM,
    "reduceL2": _REDUCE_FLOAT,
    "reduceLogSum": _REDUCE_FLOAT,
    "reduceLogSumExp": _REDUCE_FLOAT,
    "reduceMean": _REDUCE_FLOAT,
    "reduceMax": unary_limits(NUMERIC, spec=ALL),
    "reduceMin": unary_limits(NUMERIC, spec=ALL),
    "argMax": _ARG,
    "argMin": _ARG,
    "cumulativeSum": unary_limits(SUMMABLE) | {"input": operand(SUMMABLE, ranks=(1, MAX_RANK))},
}


# ---------------------------------------------------------------- constant folding
@fold_rule("reduceMean")
def _fold_reduce_mean(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    x = wide(first(args))
    axes = tuple(node.attributes["axes"])
    keep = bool(node.attributes["keep_dimensions"])
    return [np.mean(x, axis=axes, keepdims=keep, dtype=x.dtype) if axes else x]


_REDUCE: dict[str, Callable[[Array, tuple[int, ...], bool], Array]] = {
    "reduceSum": lambda x, a, k: np.sum(x, axis=a, keepdims=k, dtype=x.dtype),
    "reduceMax": lambda x, a, k: np.max(x, axis=a, keepdims=k),
    "reduceMin": lambda x, a, k: np.min(x, axis=a, keepdims=k),
    "reduceProduct": lambda x, a, k: np.prod(x, axis=a, keepdims=k, dtype=x.dtype),
    "reduceL1": lambda x, a, k: np.sum(np.abs(x), axis=a, keepdims=k, dtype=x.dtype),
    "reduceL2": lambda x, a, k: np.sqrt(np.sum(x * x, axis=a, keepdims=k, dtype=x.dtype)),
    "reduceSumSquare": lambda x, a, k: np.sum(x * x, axis=a, keepdims=k, dtype=x.dtype),
    "reduceLogSum": lambda x, a, k: np.log(np.sum(x, axis=a, keepdims=k, dtype=x.dtype)),
}


@fold_rule(*_REDUCE, "reduceLogSumExp")
def _fold_reduce(node: Node, args: Sequence[Array | None]) -> Sequence[Array] | None:
    x = wide(first(args))
    axes = tuple(node.attributes["axes"])
    keep = bool(node.attributes["keep_dimensions"])
    if not axes or x.size == 0:
        return None  # the spec's empty-axes and empty-input cases stay with the backend
    if node.op_type == "reduceLogSumExp":
        m = np.max(x, axis=axes, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        y = np.log(np.sum(np.exp(x - m), axis=axes, keepdims=True)) + m
        return [y if keep else np.squeeze(y, axis=axes)]
    return [_REDUCE[node.op_type](x, axes, keep)]


# ---------------------------------------------------------------- value ranges
range_rule("reduceL1", "reduceL2", "reduceSumSquare")(constant_range(0.0, math.inf))
# A max, min or mean of input elements stays within the input's range.
range_rule("reduceMean", "reduceMax", "reduceMin")(first_range)
