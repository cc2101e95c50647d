"""conv2d and the 2-D pooling operators (averagePool2d, maxPool2d, globalAveragePool)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from webnnc.compiler.errors import ValidationError, WebNNTypeError
from webnnc.compiler.frontend._validation import FLOAT_TYPES, check_data_type, check_rank, int_list
from webnnc.compiler.ir import OperandDescriptor

if TYPE_CHECKING:
    from webnnc.compiler.frontend._operand import MLOperand
    from webnnc.compiler.frontend.builder import MLGraphBuilder as _Base
else:
    _Base = object

__all__ = ["ConvPoolOps", "conv_output_size", "filter_dims"]

INPUT_LAYOUTS = ("nchw", "nhwc")
FILTER_LAYOUTS = ("oihw", "hwio", "ohwi", "ihwo")
ROUNDING_TYPES = ("floor", "ceil")


def _choice(op: str, arg: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise WebNNTypeError(f"{op}: {arg} must be one of {list(choices)}; found {value!r}")
    return str(value)


def _alias(op: str, kwargs: dict[str, Any], value: Any, *aliases: str) -> Any:
    for alias in aliases:
        if alias in kwargs:
            other = kwargs.pop(alias)
            if value is not None and other is not None and list(value) != list(other):
                raise WebNNTypeError(f"{op}: both {alias!r} and its spec name were given")
            value = other if value is None else value
    return value


def _no_unknown(op: str, kwargs: dict[str, Any]) -> None:
    if kwargs:
        raise WebNNTypeError(f"{op}: unknown options {sorted(kwargs)}")


def conv_output_size(
    size: int, window: int, pad_begin: int, pad_end: int, stride: int, dilation: int, *, ceil: bool = False
) -> float:
    """Spatial output size before rounding: ``(size + pads - dilated window) / stride + 1``.

    >>> conv_output_size(5, 3, 1, 1, 1, 1)
    5.0
    """
    effective = (window - 1) * dilation + 1
    return (size + pad_begin + pad_end - effective) / stride + 1


def filter_dims(layout: str, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """(output channels, input channels per group, height, width) of a conv2d filter."""
    o, i, h, w = (layout.index(c) for c in "oihw")
    return shape[o], shape[i], shape[h], shape[w]


OPS: dict[str, str] = {
    "conv2d": "conv2d",
    "averagePool2d": "average_pool2d",
    "maxPool2d": "max_pool2d",
}


class ConvPoolOps(_Base):
    """conv2d, average_pool2d, max_pool2d, global_average_pool."""

    def conv2d(
        self,
        input: MLOperand,
        filter: MLOperand,
        padding: Any = None,
        strides: Any = None,
        dilations: Any = None,
        groups: int = 1,
        input_layout: str = "nchw",
        filter_layout: str = "oihw",
        bias: MLOperand | None = None,
        **kwargs: Any,
    ) -> MLOperand:
        """2-D convolution (spec ``conv2d``); pywebnn's ``pads`` is accepted for ``padding``."""
        op = "conv2d"
        padding = _alias(op, kwargs, padding, "pads")
        _no_unknown(op, kwargs)
        x = self._value(op, "input", input)
        w = self._value(op, "filter", filter)
        check_rank(op, "input", x.shape, 4)
        check_rank(op, "filter", w.shape, 4)
        check_data_type(op, "input", x.data_type, FLOAT_TYPES)
        if w.data_type != x.data_type:
            raise WebNNTypeError(
                f"{op}: filter data type ({w.data_type.value}) must match input ({x.data_type.value})"
            )
        input_layout = _choice(op, "input_layout", input_layout, INPUT_LAYOUTS)
        filter_layout = _choice(op, "filter_layout", filter_layout, FILTER_LAYOUTS)
        pads = int_list(op, "padding", [0, 0, 0, 0] if padding is None else padding, length=4, minimum=0)
        strides_ = int_list(op, "strides", [1, 1] if strides is None else strides, length=2, minimum=1)
        dil = int_list(op, "dilations", [1, 1] if dilations is None else dilations, length=2, minimum=1)
        if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
            raise ValidationError(f"{op}: groups must be a positive integer; found {groups!r}")
        if input_layout == "nchw":
            n, c, h, wd = x.shape
        else:
            n, h, wd, c = x.shape
        oc, ic_per_group, kh, kw = filter_dims(filter_layout, w.shape)
        if c % groups != 0:
            raise ValidationError(f"{op}: input channels ({c}) must be divisible by groups ({groups})")
        if ic_per_group != c // groups:
            raise ValidationError(
                f"{op}: filter input channels ({ic_per_group}) must equal input channels / groups "
                f"({c} / {groups})"
            )
        if oc % groups != 0:
            raise ValidationError(f"{op}: filter output channels ({oc}) must be divisible by groups ({groups})")
        b = None
        if bias is not None:
            b = self._value(op, "bias", bias)
            if b.shape != (oc,):
                raise ValidationError(f"{op}: bias must have shape [{oc}]; found {list(b.shape)}")
            if b.data_type != x.data_type:
                raise WebNNTypeError(
                    f"{op}: bias data type ({b.data_type.value}) must match input ({x.data_type.value})"
                )
        oh = math.floor(conv_output_size(h, kh, pads[0], pads[1], strides_[0], dil[0]))
        ow = math.floor(conv_output_size(wd, kw, pads[2], pads[3], strides_[1], dil[1]))
        if oh < 1 or ow < 1:
            raise ValidationError(
                f"{op}: output size would be {oh}x{ow}: the dilated filter {kh}x{kw} (dilations "
                f"{list(dil)}) is larger than the padded input {h}x{wd} (padding {list(pads)})"
            )
        out = (n, oc, oh, ow) if input_layout == "nchw" else (n, oh, ow, oc)
        attrs = {
            "padding": pads,
            "strides": strides_,
            "dilations": dil,
            "groups": groups,
            "input_layout": input_layout,
            "filter_layout": filter_layout,
        }
        return self._add1(op, [x, w, b], OperandDescriptor(x.data_type, out), attrs)

    def _pool(self, op: str, input: MLOperand, kwargs: dict[str, Any]) -> MLOperand:
        window = kwargs.pop("window_dimensions", None)
        window = _alias(op, kwargs, window, "windowDimensions")
        padding = _alias(op, kwargs, kwargs.pop("padding", None), "pads")
        strides = kwargs.pop("strides", None)
        dilations = kwargs.pop("dilations", None)
        layout = kwargs.pop("layout", "nchw")
        rounding = kwargs.pop("rounding_type", None)
        if "roundingType" in kwargs:
            rounding = kwargs.pop("roundingType")
        output_sizes = kwargs.pop("output_sizes", None)
        if "outputSizes" in kwargs:
            output_sizes = kwargs.pop("outputSizes")
        _no_unknown(op, kwargs)
        x = self._value(op, "input", input)
        check_rank(op, "input", x.shape, 4)
        check_data_type(op, "input", x.data_type, FLOAT_TYPES)
        layout = _choice(op, "layout", layout, INPUT_LAYOUTS)
        rounding = _choice(op, "rounding_type", "floor" if rounding is None else rounding, ROUNDING_TYPES)
        if layout == "nchw":
            n, c, h, w = x.shape
        else:
            n, h, w, c = x.shape
        win = int_list(op, "window_dimensions", [h, w] if window is None else window, length=2, minimum=1)
        pads = int_list(op, "padding", [0, 0, 0, 0] if padding is None else padding, length=4, minimum=0)
        strides_ = int_list(op, "strides", [1, 1] if strides is None else strides, length=2, minimum=1)
        dil = int_list(op, "dilations", [1, 1] if dilations is None else dilations, length=2, minimum=1)
        raw_h = conv_output_size(h, win[0], pads[0], pads[1], strides_[0], dil[0])
        raw_w = conv_output_size(w, win[1], pads[2], pads[3], strides_[1], dil[1])
        if output_sizes is not None:
            sizes = int_list(op, "output_sizes", output_sizes, length=2, minimum=1)
            floors = (math.floor(raw_h), math.floor(raw_w))
            ceils = (math.ceil(raw_h), math.ceil(raw_w))
            if sizes == floors:
                rounding = "floor"
            elif sizes == ceils:
                rounding = "ceil"
            else:
                raise ValidationError(
                    f"{op}: output_sizes {list(sizes)} must be the floor {list(floors)} or the ceil "
                    f"{list(ceils)} of the computed output size"
                )
        rnd = math.ceil if rounding == "ceil" else math.floor
        oh, ow = rnd(raw_h), rnd(raw_w)
        if oh < 1 or ow < 1:
            raise ValidationError(
                f"{op}: output size would be {oh}x{ow}: window {list(win)} (dilations {list(dil)}) "
                f"is larger than the padded input {h}x{w} (padding {list(pads)})"
            )
        out = (n, c, oh, ow) if layout == "nchw" else (n, oh, ow, c)
        attrs = {
            "window_dimensions": win,
            "padding": pads,
            "strides": strides_,
            "dilations": dil,
            "layout": layout,
            "rounding_type": rounding,
        }
        return self._add1(op, [x], OperandDescriptor(x.data_type, out), attrs)

    def average_pool2d(self, input: MLOperand, **options: Any) -> MLOperand:
        """Average pooling. Options: window_dimensions (default: the whole spatial extent),
        padding, strides, dilations, layout ("nchw"/"nhwc"), rounding_type, output_sizes."""
        return self._pool("averagePool2d", input, dict(options))

    def max_pool2d(self, input: MLOperand, **options: Any) -> MLOperand:
        """Max pooling; the same options as :meth:`average_pool2d`."""
        return self._pool("maxPool2d", input, dict(options))

    def global_average_pool(self, input: MLOperand, layout: str = "nchw") -> MLOperand:
        """Average over the whole spatial extent (pywebnn's helper; averagePool2d in the IR)."""
        return self._pool("averagePool2d", input, {"layout": layout})
