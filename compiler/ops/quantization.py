"""quantizeLinear and dequantizeLinear, with per-tensor, per-axis and block-wise scales."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from webnnc.compiler.errors import ValidationError, WebNNTypeError
from webnnc.compiler.ir import OperandDescriptor
from webnnc.compiler.ops._options import parse_options
from webnnc.compiler.ops._support import FLOATS, QUANTIZED, OperandLimits, check_operand, operand

if TYPE_CHECKING:
    from webnnc.compiler.frontend._core import BuilderCore as _Base
    from webnnc.compiler.frontend._operand import MLOperand
    from webnnc.compiler.ir import Value
else:
    _Base = object

__all__ = ["OPS", "SUPPORT", "QuantizationOps", "check_blockwise"]


OPS: dict[str, str] = {
    "quantizeLinear": "quantize_linear",
    "dequantizeLinear": "dequantize_linear",
}


def check_blockwise(op: str, input_shape: tuple[int, ...], scale_shape: tuple[int, ...]) -> None:
    """The spec's block-wise broadcasting: same rank, every input dimension a multiple of
    the scale's (1 = one scale for the whole dimension, equal = one per element).

    >>> check_blockwise("dequantizeLinear", (6, 4), (2, 2))
    >>> check_blockwise("dequantizeLinear", (6, 4), (4, 1))
    Traceback (most recent call last):
    ...
    webnnc.compiler.errors.ValidationError: dequantizeLinear: scale shape [4, 1] is not block-wise broadcastable to the input's [6, 4]: dimension 0 (6) is not a multiple of 4
    """
    if len(scale_shape) != len(input_shape):
        raise ValidationError(
            f"{op}: scale must have the input's rank {len(input_shape)}; found shape "
            f"{list(scale_shape)}"
        )
    for d, (n, s) in enumerate(zip(input_shape, scale_shape, strict=True)):
        if n % s:
            raise ValidationError(
                f"{op}: scale shape {list(scale_shape)} is not block-wise broadcastable to the "
                f"input's {list(input_shape)}: dimension {d} ({n}) is not a multiple of {s}"
            )


class QuantizationOps(_Base):
    """quantize_linear, dequantize_linear."""

    def _qdq_operands(
        self, op: str, input: MLOperand, scale: MLOperand, zero_point: MLOperand
    ) -> tuple[Value, Value, Value]:
        x = self._value(op, "input", input)
        s = self._value(op, "scale", scale)
        z = self._value(op, "zeroPoint", zero_point)
        check_operand(op, "input", x)
        check_operand(op, "scale", s)
        check_operand(op, "zeroPoint", z)
        if s.shape != z.shape:
            raise ValidationError(
                f"{op}: scale {list(s.shape)} and zeroPoint {list(z.shape)} must have the same shape"
            )
        check_blockwise(op, x.shape, s.shape)
        return x, s, z

    def quantize_linear(
        self, input: MLOperand, scale: MLOperand, zero_point: MLOperand, **options: Any
    ) -> MLOperand:
        """``saturate(roundEven(input / scale) + zero_point)`` in zero_point's data type."""
        op = "quantizeLinear"
        parse_options(op, options, ())
        x, s, z = self._qdq_operands(op, input, scale, zero_point)
        if s.data_type != x.data_type:
            raise WebNNTypeError(
                f"{op}: scale data type ({s.data_type.value}) must match input ({x.data_type.value})"
            )
        return self._add1(op, [x, s, z], OperandDescriptor(z.data_type, x.shape))

    def dequantize_linear(
        self, input: MLOperand, scale: MLOperand, zero_point: MLOperand, **options: Any
    ) -> MLOperand:
        """``(input - zero_point) * scale`` in scale's data type."""
        op = "dequantizeLinear"
        parse_options(op, options, ())
        x, s, z = self._qdq_operands(op, input, scale, zero_point)
        if z.data_type != x.data_type:
            raise WebNNTypeError(
                f"{op}: zeroPoint data type ({z.data_type.value}) must match input ({x.data_type.value})"
            )
        return self._add1(op, [x, s, z], OperandDescriptor(s.data_type, x.shape))


# ---------------------------------------------------------------- support limits (onnx-cpu)
SUPPORT: dict[str, dict[str, OperandLimits]] = {
    "quantizeLinear": {
        "input": operand(FLOATS),
        "scale": operand(FLOATS),
        "zeroPoint": operand(QUANTIZED),
        "output": operand(QUANTIZED),
    },
    "dequantizeLinear": {
        "input": operand(QUANTIZED),
        "scale": operand(FLOATS),
        "zeroPoint": operand(QUANTIZED),
        "output": operand(FLOATS),
    },
}
