"""The normalizations: batch, instance and layer (softmax and reduceMean: activation.py,
reduction.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from webnnc.compiler.errors import ValidationError, WebNNTypeError
from webnnc.compiler.ir import Node
from webnnc.compiler.ops._fold import Array, fold_rule, wide
from webnnc.compiler.ops._options import choice, number, parse_options
from webnnc.compiler.ops._support import (
    FLOATS,
    MAX_RANK,
    OperandLimits,
    check_operand,
    operand,
    same_limits,
)
from webnnc.compiler.ops._validation import (
    FLOAT_TYPES,
    check_axes,
    check_axis,
    check_data_type,
    check_rank,
)

if TYPE_CHECKING:
    from webnnc.compiler.frontend._core import BuilderCore as _Base
    from webnnc.compiler.frontend._operand import MLOperand
    from webnnc.compiler.ir import Value
else:
    _Base = object

__all__ = ["OPS", "SUPPORT", "NormalizationOps"]


OPS: dict[str, str] = {
    "batchNormalization": "batch_normalization",
    "instanceNormalization": "instance_normalization",
    "layerNormalization": "layer_normalization",
}


class NormalizationOps(_Base):
    """batch_normalization, instance_normalization, layer_normalization."""

    def batch_normalization(
        self,
        input: MLOperand,
        mean: MLOperand,
        variance: MLOperand,
        scale: MLOperand | None = None,
        bias: MLOperand | None = None,
        epsilon: float | None = None,
        axis: int | None = None,
        **options: Any,
    ) -> MLOperand:
        """``scale * (input - mean) / sqrt(variance + epsilon) + bias`` along ``axis``
        (default 1, epsilon 1e-5); mean, variance, scale and bias are 1-D. Positional
        options follow pywebnn's order (scale, bias, epsilon, axis)."""
        op = "batchNormalization"
        given = {"scale": scale, "bias": bias, "axis": axis, "epsilon": epsilon, **options}
        opts = parse_options(op, given, ("scale", "bias", "axis", "epsilon"))
        x = self._value(op, "input", input)
        check_data_type(op, "input", x.data_type, FLOAT_TYPES)
        if x.rank == 0:
            raise ValidationError(f"{op}: input must have rank >= 1; found a scalar")
        check_operand(op, "input", x)  # rank <= MAX_RANK
        axis = check_axis(op, opts.get("axis", 1), x.rank)
        size = x.shape[axis]
        operands: list[Value | None] = [x]
        for name, param in (
            ("mean", mean), ("variance", variance), ("scale", opts.get("scale")), ("bias", opts.get("bias"))
        ):
            operands.append(self._norm_param(op, name, param, x, (size,), f"input dimension {axis}"))
        eps = number(op, "epsilon", opts.get("epsilon", 1e-5))
        return self._add1(op, operands, x.descriptor, {"axis": axis, "epsilon": eps})

    def instance_normalization(
        self,
        input: MLOperand,
        scale: MLOperand | None = None,
        bias: MLOperand | None = None,
        epsilon: float | None = None,
        layout: str | None = None,
        **options: Any,
    ) -> MLOperand:
        """Normalize each channel of each batch item over its spatial extent. Options:
        ``scale``, ``bias`` (1-D, one per channel), ``epsilon`` (1e-5), ``layout``
        ("nchw" or "nhwc")."""
        op = "instanceNormalization"
        given = {"scale": scale, "bias": bias, "epsilon": epsilon, "layout": layout, **options}
        opts = parse_options(op, given, ("scale", "bias", "epsilon", "layout"))
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

    def layer_normalization(
        self,
        input: MLOperand,
        scale: MLOperand | None = None,
        bias: MLOperand | None = None,
        epsilon: float | None = None,
        axes: Any = None,
        **options: Any,
    ) -> MLOperand:
        """Normalize over ``axes`` (default, as in the spec: every axis but the first;
        pywebnn defaulted to the last axis only). Options: ``scale`` and ``bias`` shaped like
        the input's ``axes`` dimensions (in ``axes`` order), ``epsilon`` (1e-5)."""
        op = "layerNormalization"
        given = {"scale": scale, "bias": bias, "epsilon": epsilon, "axes": axes, **options}
        opts = parse_options(op, given, ("scale", "bias", "axes", "epsilon"))
        x = self._value(op, "input", input)
        check_data_type(op, "input", x.data_type, FLOAT_TYPES)
        check_operand(op, "input", x)  # rank <= MAX_RANK
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


# ---------------------------------------------------------------- support limits (onnx-cpu)
_F4 = operand(FLOATS, ranks=(4, 4))
_F1 = operand(FLOATS, ranks=(1, 1))

SUPPORT: dict[str, dict[str, OperandLimits]] = {
    "batchNormalization": {
        "input": operand(FLOATS, ranks=(1, MAX_RANK)),
        **same_limits(_F1, "mean", "variance", "scale", "bias"),
        "output": operand(FLOATS, ranks=(1, MAX_RANK)),
    },
    "instanceNormalization": {"input": _F4, "scale": _F1, "bias": _F1, "output": _F4},
    "layerNormalization": same_limits(operand(FLOATS), "input", "scale", "bias", "output"),
}


# ---------------------------------------------------------------- constant folding
@fold_rule("batchNormalization")
def _fold_batch_normalization(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    x, mean, var, scale, bias = (None if a is None else wide(a) for a in args)
    assert x is not None and mean is not None and var is not None
    axis = int(node.attributes["axis"])
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]
    eps = x.dtype.type(node.attributes["epsilon"])
    y = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    if scale is not None:
        y = y * scale.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return [y]
