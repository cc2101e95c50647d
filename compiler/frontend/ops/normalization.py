"""softmax, reduceMean, and the normalizations: batch, instance and layer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from webnnc.compiler.errors import ValidationError, WebNNTypeError
from webnnc.compiler.frontend._validation import (
    FLOAT_TYPES,
    check_axes,
    check_axis,
    check_data_type,
    check_rank,
)
from webnnc.compiler.frontend.ops._options import choice, number, parse_options
from webnnc.compiler.ir import OperandDescriptor

if TYPE_CHECKING:
    from webnnc.compiler.frontend._operand import MLOperand
    from webnnc.compiler.frontend.builder import MLGraphBuilder as _Base
    from webnnc.compiler.ir import Value
else:
    _Base = object

__all__ = ["NormalizationOps"]


OPS: dict[str, str] = {
    "softmax": "softmax",
    "reduceMean": "reduce_mean",
    "batchNormalization": "batch_normalization",
    "instanceNormalization": "instance_normalization",
    "layerNormalization": "layer_normalization",
}


class NormalizationOps(_Base):
    """softmax, reduce_mean, batch_normalization, instance_normalization, layer_normalization."""

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
        axis: int | None = None,
        epsilon: float | None = None,
        **options: Any,
    ) -> MLOperand:
        """``scale * (input - mean) / sqrt(variance + epsilon) + bias`` along ``axis``
        (default 1, epsilon 1e-5); mean, variance, scale and bias are 1-D."""
        op = "batchNormalization"
        given = {"scale": scale, "bias": bias, "axis": axis, "epsilon": epsilon, **options}
        opts = parse_options(op, given, ("scale", "bias", "axis", "epsilon"))
        x = self._value(op, "input", input)
        check_data_type(op, "input", x.data_type, FLOAT_TYPES)
        if x.rank == 0:
            raise ValidationError(f"{op}: input must have rank >= 1; found a scalar")
        axis = check_axis(op, opts.get("axis", 1), x.rank)
        size = x.shape[axis]
        operands: list[Value | None] = [x]
        for name, operand in (
            ("mean", mean), ("variance", variance), ("scale", opts.get("scale")), ("bias", opts.get("bias"))
        ):
            operands.append(self._norm_param(op, name, operand, x, (size,), f"input dimension {axis}"))
        eps = number(op, "epsilon", opts.get("epsilon", 1e-5))
        return self._add1(op, operands, x.descriptor, {"axis": axis, "epsilon": eps})

    def instance_normalization(self, input: MLOperand, **options: Any) -> MLOperand:
        """Normalize each channel of each batch item over its spatial extent. Options:
        ``scale``, ``bias`` (1-D, one per channel), ``epsilon`` (1e-5), ``layout``
        ("nchw" or "nhwc")."""
        op = "instanceNormalization"
        opts = parse_options(op, options, ("scale", "bias", "epsilon", "layout"))
        x = self._value(op, "input", input)
        check_data_type(op, "input", x.data_type, FLOAT_TYPES)
        check_rank(op, "input", x.shape, 4)
        layout = choice(op, "layout", opts.get("layout", "nchw"), ("nchw", "nhwc"))
        channels = x.shape[1] if layout == "nchw" else x.shape[3]
        params = [
            self._norm_param(op, name, opts.get(name), x, (channels,), "the input channels")
            for name in ("scale", "bias")
        ]
        eps = number(op, "epsilon", opts.get("epsilon", 1e-5))
        return self._add1(op, [x, *params], x.descriptor, {"epsilon": eps, "layout": layout})

    def layer_normalization(self, input: MLOperand, **options: Any) -> MLOperand:
        """Normalize over ``axes`` (default: every axis but the first). Options: ``scale``
        and ``bias`` shaped like the input's ``axes`` dimensions (in ``axes`` order),
        ``epsilon`` (1e-5)."""
        op = "layerNormalization"
        opts = parse_options(op, options, ("scale", "bias", "axes", "epsilon"))
        x = self._value(op, "input", input)
        check_data_type(op, "input", x.data_type, FLOAT_TYPES)
        default_axes = list(range(1, x.rank))
        axes = check_axes(op, opts.get("axes", default_axes), x.rank)
        pshape = tuple(x.shape[a] for a in axes)
        params = [
            self._norm_param(op, name, opts.get(name), x, pshape, f"the input's axes {list(axes)}")
            for name in ("scale", "bias")
        ]
        eps = number(op, "epsilon", opts.get("epsilon", 1e-5))
        return self._add1(op, [x, *params], x.descriptor, {"axes": axes, "epsilon": eps})

    def _norm_param(
        self, op: str, name: str, operand: Any, x: Value, shape: tuple[int, ...], what: str
    ) -> Value | None:
        if operand is None:
            return None
        v = self._value(op, name, operand)
        if v.data_type != x.data_type:
            raise WebNNTypeError(
                f"{op}: {name} data type ({v.data_type.value}) must match input ({x.data_type.value})"
            )
        if v.shape != shape:
            raise ValidationError(
                f"{op}: {name} must have shape {list(shape)} ({what}); found {list(v.shape)}"
            )
        return v
