"""softmax, reduceMean, batchNormalization."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from webnnc.compiler.errors import ValidationError, WebNNTypeError
from webnnc.compiler.frontend._validation import (
    FLOAT_TYPES,
    check_axes,
    check_axis,
    check_data_type,
)
from webnnc.compiler.ir import OperandDescriptor

if TYPE_CHECKING:
    from webnnc.compiler.frontend._operand import MLOperand
    from webnnc.compiler.frontend.builder import MLGraphBuilder as _Base
else:
    _Base = object

__all__ = ["NormalizationOps"]


OPS: dict[str, str] = {
    "softmax": "softmax",
    "reduceMean": "reduce_mean",
    "batchNormalization": "batch_normalization",
}


class NormalizationOps(_Base):
    """softmax, reduce_mean, batch_normalization."""

    def softmax(self, input: MLOperand, axis: int | None = None) -> MLOperand:
        """Softmax along ``axis`` (default: the last axis, as pywebnn does)."""
        op = "softmax"
        x = self._value(op, "input", input)
        check_data_type(op, "input", x.data_type, FLOAT_TYPES)
        if x.rank == 0:
            raise ValidationError(f"{op}: input must have rank >= 1; found a scalar")
        axis = check_axis(op, x.rank - 1 if axis is None else axis, x.rank)
        return self._add1(op, [x], x.descriptor, {"axis": axis})

    def reduce_mean(
        self, input: MLOperand, axes: Any = None, keep_dimensions: bool = False, **kwargs: Any
    ) -> MLOperand:
        """Mean over ``axes`` (default: all); ``keep_dimensions`` keeps them as size 1."""
        op = "reduceMean"
        keep_dimensions = kwargs.pop("keepDimensions", keep_dimensions)
        if kwargs:
            raise WebNNTypeError(f"{op}: unknown options {sorted(kwargs)}")
        x = self._value(op, "input", input)
        check_data_type(op, "input", x.data_type, FLOAT_TYPES)
        if not isinstance(keep_dimensions, bool):
            raise WebNNTypeError(f"{op}: keep_dimensions must be a bool; found {keep_dimensions!r}")
        ax = tuple(range(x.rank)) if axes is None else check_axes(op, axes, x.rank)
        if keep_dimensions:
            shape = tuple(1 if d in ax else s for d, s in enumerate(x.shape))
        else:
            shape = tuple(s for d, s in enumerate(x.shape) if d not in ax)
        attrs = {"axes": tuple(sorted(ax)), "keep_dimensions": keep_dimensions}
        return self._add1(op, [x], OperandDescriptor(x.data_type, shape), attrs)

    def batch_normalization(
        self,
        input: MLOperand,
        mean: MLOperand,
        variance: MLOperand,
        scale: MLOperand | None = None,
        bias: MLOperand | None = None,
        axis: int = 1,
        epsilon: float = 1e-5,
    ) -> MLOperand:
        """``scale * (input - mean) / sqrt(variance + epsilon) + bias`` along ``axis``."""
        op = "batchNormalization"
        x = self._value(op, "input", input)
        check_data_type(op, "input", x.data_type, FLOAT_TYPES)
        axis = check_axis(op, axis, x.rank)
        size = x.shape[axis]
        operands = [x]
        for name, operand in (("mean", mean), ("variance", variance), ("scale", scale), ("bias", bias)):
            if operand is None:
                operands.append(None)  # type: ignore[arg-type]
                continue
            v = self._value(op, name, operand)
            if v.data_type != x.data_type:
                raise WebNNTypeError(
                    f"{op}: {name} data type ({v.data_type.value}) must match input ({x.data_type.value})"
                )
            if v.shape != (size,):
                raise ValidationError(
                    f"{op}: {name} must have shape [{size}] (input dimension {axis}); found {list(v.shape)}"
                )
            operands.append(v)
        return self._add1(op, operands, x.descriptor, {"axis": axis, "epsilon": float(epsilon)})
