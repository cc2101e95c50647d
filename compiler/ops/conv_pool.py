"""Spatial operators on 4-D tensors: conv2d, convTranspose2d, averagePool2d, maxPool2d,
l2Pool2d and resample2d.

All take float32 / float16 (the spec's types; ONNX Runtime runs both). Padding is the
spec's ``[beginningHeight, endingHeight, beginningWidth, endingWidth]``; layouts are the
spec's names (input ``nchw``/``nhwc``; conv2d filters ``oihw``/``hwio``/``ohwi``/``ihwo``;
convTranspose2d filters ``iohw``/``hwoi``/``ohwi``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from webnnc.compiler.errors import ValidationError
from webnnc.compiler.ir import OperandDescriptor
from webnnc.compiler.ops._options import (
    check_same_type,
    choice,
    number,
    operand_option,
    parse_options,
)
from webnnc.compiler.ops._range import first_range, range_rule
from webnnc.compiler.ops._resample import (
    COORDINATE_MODES,
    DEFAULT_COORDINATE_MODE,
    DEFAULT_NEAREST_MODE,
    NEAREST_MODES,
)
from webnnc.compiler.ops._support import FLOATS, OperandLimits, operand, same_limits
from webnnc.compiler.ops._validation import FLOAT_TYPES, check_data_type, check_rank, int_list

if TYPE_CHECKING:
    from webnnc.compiler.frontend._core import BuilderCore as _Base
    from webnnc.compiler.frontend._operand import MLOperand
    from webnnc.compiler.ir import Value
else:
    _Base = object

__all__ = [
    "OPS",
    "SUPPORT",
    "ConvPoolOps",
    "conv_output_size",
    "conv_transpose_output_size",
    "filter_dims",
]

INPUT_LAYOUTS = ("nchw", "nhwc")
FILTER_LAYOUTS = ("oihw", "hwio", "ohwi", "ihwo")
TRANSPOSE_FILTER_LAYOUTS = ("iohw", "hwoi", "ohwi")
ROUNDING_TYPES = ("floor", "ceil")
INTERPOLATION_MODES = ("nearest-neighbor", "linear")

# pywebnn spellings -> spec snake_case names
_CONV_ALIASES = {"pads": "padding"}
_POOL_ALIASES = {
    "pads": "padding",
    "rounding_type": "output_shape_rounding",
    "roundingType": "output_shape_rounding",
}
_CONV_OPTIONS = ("padding", "strides", "dilations", "groups", "input_layout", "filter_layout", "bias")
_POOL_OPTIONS = (
    "window_dimensions",
    "padding",
    "strides",
    "dilations",
    "layout",
    "output_shape_rounding",
    "output_sizes",
)


def conv_output_size(
    size: int, window: int, pad_begin: int, pad_end: int, stride: int, dilation: int
) -> float:
    """Spatial output size before rounding: ``(size + pads - dilated window) / stride + 1``.

    >>> conv_output_size(5, 3, 1, 1, 1, 1)
    5.0
    """
    effective = (window - 1) * dilation + 1
    return (size + pad_begin + pad_end - effective) / stride + 1


def conv_transpose_output_size(
    size: int, window: int, pad_begin: int, pad_end: int, stride: int, dilation: int
) -> int:
    """convTranspose2d output size without output padding.

    >>> conv_transpose_output_size(3, 3, 0, 0, 2, 1)
    7
    """
    return (size - 1) * stride + (window - 1) * dilation + 1 - pad_begin - pad_end


def filter_dims(layout: str, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """(output channels, input channels, height, width) of a filter in ``layout``.

    >>> filter_dims("hwio", (3, 5, 2, 8))
    (8, 2, 3, 5)
    """
    o, i, h, w = (layout.index(c) for c in "oihw")
    return shape[o], shape[i], shape[h], shape[w]


def _groups(op: str, value: Any) -> int:
    if isinstance(value, bool) or not hasattr(value, "__index__") or int(value) < 1:
        raise ValidationError(f"{op}: groups must be a positive integer; found {value!r}")
    return int(value)


def _spatial_options(op: str, opts: dict[str, Any]) -> tuple[tuple[int, ...], ...]:
    pads = int_list(op, "padding", opts.get("padding", [0, 0, 0, 0]), length=4, minimum=0)
    strides = int_list(op, "strides", opts.get("strides", [1, 1]), length=2, minimum=1)
    dil = int_list(op, "dilations", opts.get("dilations", [1, 1]), length=2, minimum=1)
    return pads, strides, dil


def _pool_given(window: Any, strides: Any, dilations: Any, padding: Any, layout: Any) -> dict[str, Any]:
    return {
        "window_dimensions": window, "strides": strides, "dilations": dilations,
        "padding": padding, "layout": layout,
    }


OPS: dict[str, str] = {
    "conv2d": "conv2d",
    "convTranspose2d": "conv_transpose2d",
    "averagePool2d": "average_pool2d",
    "maxPool2d": "max_pool2d",
    "l2Pool2d": "l2_pool2d",
    "resample2d": "resample2d",
}


class ConvPoolOps(_Base):
    """conv2d, conv_transpose2d, average_pool2d, max_pool2d, l2_pool2d, resample2d,
    global_average_pool."""

    def _float_input(self, op: str, input: MLOperand) -> Value:
        x = self._value(op, "input", input)
        check_rank(op, "input", x.shape, 4)
        check_data_type(op, "input", x.data_type, FLOAT_TYPES)
        return x

    def _filter(self, op: str, x: Value, filter: MLOperand) -> Value:
        w = self._value(op, "filter", filter)
        check_rank(op, "filter", w.shape, 4)
        check_same_type(op, "filter", w.data_type, "input", x.data_type)
        return w

    def _bias(self, op: str, x: Value, bias: Any, channels: int) -> Value | None:
        b = operand_option(self, op, "bias", bias)
        if b is not None:
            check_same_type(op, "bias", b.data_type, "input", x.data_type)
            if b.shape != (channels,):
                raise ValidationError(
                    f"{op}: bias must have shape [{channels}] (the output channels); "
                    f"found {list(b.shape)}"
                )
        return b

    def conv2d(
        self,
        input: MLOperand,
        filter: MLOperand,
        strides: Any = None,
        dilations: Any = None,
        padding: Any = None,
        groups: Any = None,
        input_layout: Any = None,
        filter_layout: Any = None,
        bias: MLOperand | None = None,
        **options: Any,
    ) -> MLOperand:
        """2-D convolution (spec ``conv2d``). Positional options follow pywebnn's order;
        pywebnn's ``pads`` is accepted for ``padding`` (same element order)."""
        op = "conv2d"
        given = {
            "padding": padding, "strides": strides, "dilations": dilations, "groups": groups,
            "input_layout": input_layout, "filter_layout": filter_layout, "bias": bias,
        }
        opts = parse_options(op, {**given, **options}, _CONV_OPTIONS, _CONV_ALIASES)
        x = self._float_input(op, input)
        in_layout = choice(op, "input_layout", opts.get("input_layout", "nchw"), INPUT_LAYOUTS)
        f_layout = choice(op, "filter_layout", opts.get("filter_layout", "oihw"), FILTER_LAYOUTS)
        pads, strides_, dil = _spatial_options(op, opts)
        group_count = _groups(op, opts.get("groups", 1))
        if in_layout == "nchw":
            n, c, h, wd = x.shape
        else:
            n, h, wd, c = x.shape
        w = self._filter(op, x, filter)
        oc, ic_per_group, kh, kw = filter_dims(f_layout, w.shape)
        if c % group_count != 0:
            raise ValidationError(f"{op}: input channels ({c}) must be divisible by groups ({group_count})")
        if ic_per_group != c // group_count:
            raise ValidationError(
                f"{op}: filter input channels ({ic_per_group}) must equal input channels / groups "
                f"({c} / {group_count})"
            )
        if oc % group_count != 0:
            raise ValidationError(
                f"{op}: filter output channels ({oc}) must be divisible by groups ({group_count})"
            )
        b = self._bias(op, x, opts.get("bias"), oc)
        oh = math.floor(conv_output_size(h, kh, pads[0], pads[1], strides_[0], dil[0]))
        ow = math.floor(conv_output_size(wd, kw, pads[2], pads[3], strides_[1], dil[1]))
        if oh < 1 or ow < 1:
            raise ValidationError(
                f"{op}: output size would be {oh}x{ow}: the dilated filter {kh}x{kw} (dilations "
                f"{list(dil)}) is larger than the padded input {h}x{wd} (padding {list(pads)})"
            )
        out = (n, oc, oh, ow) if in_layout == "nchw" else (n, oh, ow, oc)
        attrs = {
            "padding": pads,
            "strides": strides_,
            "dilations": dil,
            "groups": group_count,
            "input_layout": in_layout,
            "filter_layout": f_layout,
        }
        return self._add1(op, [x, w, b], OperandDescriptor(x.data_type, out), attrs)

    def conv_transpose2d(
        self,
        input: MLOperand,
        filter: MLOperand,
        strides: Any = None,
        dilations: Any = None,
        padding: Any = None,
        output_padding: Any = None,
        output_sizes: Any = None,
        groups: Any = None,
        input_layout: Any = None,
        filter_layout: Any = None,
        bias: MLOperand | None = None,
        **options: Any,
    ) -> MLOperand:
        """2-D transposed convolution (spec ``convTranspose2d``). Options (positional in
        pywebnn's order): strides, dilations, padding, output_padding, output_sizes, groups,
        input_layout, filter_layout (``iohw``, ``hwoi``, ``ohwi``), bias."""
        op = "convTranspose2d"
        given = {
            "padding": padding, "strides": strides, "dilations": dilations, "groups": groups,
            "output_padding": output_padding, "output_sizes": output_sizes,
            "input_layout": input_layout, "filter_layout": filter_layout, "bias": bias,
        }
        opts = parse_options(
            op, {**given, **options}, (*_CONV_OPTIONS, "output_padding", "output_sizes"), _CONV_ALIASES
        )
        x = self._float_input(op, input)
        in_layout = choice(op, "input_layout", opts.get("input_layout", "nchw"), INPUT_LAYOUTS)
        f_layout = choice(op, "filter_layout", opts.get("filter_layout", "iohw"), TRANSPOSE_FILTER_LAYOUTS)
        pads, strides_, dil = _spatial_options(op, opts)
        out_pad = int_list(op, "output_padding", opts.get("output_padding", [0, 0]), length=2, minimum=0)
        group_count = _groups(op, opts.get("groups", 1))
        if in_layout == "nchw":
            n, c, h, wd = x.shape
        else:
            n, h, wd, c = x.shape
        w = self._filter(op, x, filter)
        oc_per_group, ic, kh, kw = filter_dims(f_layout, w.shape)
        if ic != c:
            raise ValidationError(
                f"{op}: filter input channels ({ic}) must equal input channels ({c})"
            )
        if c % group_count != 0:
            raise ValidationError(f"{op}: input channels ({c}) must be divisible by groups ({group_count})")
        oc = oc_per_group * group_count
        b = self._bias(op, x, opts.get("bias"), oc)
        for i in range(2):
            if out_pad[i] >= strides_[i]:
                raise ValidationError(
                    f"{op}: output_padding {list(out_pad)} must be smaller than strides "
                    f"{list(strides_)} in each dimension"
                )
        base = (
            conv_transpose_output_size(h, kh, pads[0], pads[1], strides_[0], dil[0]),
            conv_transpose_output_size(wd, kw, pads[2], pads[3], strides_[1], dil[1]),
        )
        if opts.get("output_sizes") is not None:
            sizes = int_list(op, "output_sizes", opts["output_sizes"], length=2, minimum=1)
            for i in range(2):
                if not base[i] <= sizes[i] < base[i] + strides_[i]:
                    raise ValidationError(
                        f"{op}: output_sizes {list(sizes)} must be within [{base[i]}, "
                        f"{base[i] + strides_[i]}) in dimension {i} (the computed size plus less "
                        f"than one stride)"
                    )
            out_pad = (sizes[0] - base[0], sizes[1] - base[1])
        oh, ow = base[0] + out_pad[0], base[1] + out_pad[1]
        if oh < 1 or ow < 1:
            raise ValidationError(
                f"{op}: output size would be {oh}x{ow}: padding {list(pads)} removes more than the "
                f"transposed convolution produces"
            )
        out = (n, oc, oh, ow) if in_layout == "nchw" else (n, oh, ow, oc)
        attrs = {
            "padding": pads,
            "strides": strides_,
            "dilations": dil,
            "output_padding": tuple(out_pad),
            "groups": group_count,
            "input_layout": in_layout,
            "filter_layout": f_layout,
        }
        return self._add1(op, [x, w, b], OperandDescriptor(x.data_type, out), attrs)

    def _pool(self, op: str, input: MLOperand, options: dict[str, Any]) -> MLOperand:
        opts = parse_options(op, options, _POOL_OPTIONS, _POOL_ALIASES)
        x = self._float_input(op, input)
        layout = choice(op, "layout", opts.get("layout", "nchw"), INPUT_LAYOUTS)
        rounding = choice(
            op, "output_shape_rounding", opts.get("output_shape_rounding", "floor"), ROUNDING_TYPES
        )
        if layout == "nchw":
            n, c, h, w = x.shape
        else:
            n, h, w, c = x.shape
        win = int_list(op, "window_dimensions", opts.get("window_dimensions", [h, w]), length=2, minimum=1)
        pads, strides_, dil = _spatial_options(op, opts)
        raw_h = conv_output_size(h, win[0], pads[0], pads[1], strides_[0], dil[0])
        raw_w = conv_output_size(w, win[1], pads[2], pads[3], strides_[1], dil[1])
        if opts.get("output_sizes") is not None:
            # output_sizes overrides output_shape_rounding; it must be one of the two roundings
            sizes = int_list(op, "output_sizes", opts["output_sizes"], length=2, minimum=1)
            floors = (math.floor(raw_h), math.floor(raw_w))
            ceils = (math.ceil(raw_h), math.ceil(raw_w))
            for i in range(2):
                if sizes[i] not in (floors[i], ceils[i]):
                    raise ValidationError(
                        f"{op}: output_sizes {list(sizes)} must be the floor {list(floors)} or the "
                        f"ceil {list(ceils)} of the computed output size"
                    )
            oh, ow = sizes
        else:
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
            "rounding_type": "floor" if (oh, ow) == (math.floor(raw_h), math.floor(raw_w)) else "ceil",
        }
        return self._add1(op, [x], OperandDescriptor(x.data_type, out), attrs)

    def average_pool2d(
        self,
        input: MLOperand,
        window_dimensions: Any = None,
        strides: Any = None,
        dilations: Any = None,
        padding: Any = None,
        layout: Any = None,
        **options: Any,
    ) -> MLOperand:
        """Average pooling (padding excluded from the average). Options: window_dimensions
        (default: the whole spatial extent), strides, dilations, padding, layout
        ("nchw"/"nhwc") -- positional in pywebnn's order -- and output_shape_rounding
        ("floor"/"ceil"), output_sizes."""
        given = _pool_given(window_dimensions, strides, dilations, padding, layout)
        return self._pool("averagePool2d", input, {**given, **options})

    def max_pool2d(
        self,
        input: MLOperand,
        window_dimensions: Any = None,
        strides: Any = None,
        dilations: Any = None,
        padding: Any = None,
        layout: Any = None,
        **options: Any,
    ) -> MLOperand:
        """Max pooling; the same options as :meth:`average_pool2d`."""
        given = _pool_given(window_dimensions, strides, dilations, padding, layout)
        return self._pool("maxPool2d", input, {**given, **options})

    def l2_pool2d(
        self,
        input: MLOperand,
        window_dimensions: Any = None,
        strides: Any = None,
        dilations: Any = None,
        padding: Any = None,
        layout: Any = None,
        **options: Any,
    ) -> MLOperand:
        """L2 pooling (square root of the sum of squares); options as :meth:`average_pool2d`."""
        given = _pool_given(window_dimensions, strides, dilations, padding, layout)
        return self._pool("l2Pool2d", input, {**given, **options})

    def global_average_pool(self, input: MLOperand, layout: str | None = None) -> MLOperand:
        """Average over the whole spatial extent (pywebnn's helper; averagePool2d in the IR)."""
        return self._pool("averagePool2d", input, {"layout": layout or "nchw"})

    def global_max_pool(self, input: MLOperand, layout: str | None = None) -> MLOperand:
        """Maximum over the whole spatial extent (pywebnn's helper; maxPool2d in the IR)."""
        return self._pool("maxPool2d", input, {"layout": layout or "nchw"})

    def resample2d(self, input: MLOperand, **options: Any) -> MLOperand:
        """Resize two dimensions (``axes``, default [2, 3]) by ``scales`` (default [1, 1]) or
        to ``sizes`` (which win over scales); ``mode`` "nearest-neighbor" (default) or
        "linear".

        webnnc extension beyond WebNN (for imported ONNX ``Resize``): ``coordinateTransformationMode``
        (ONNX's names, default "half_pixel", WebNN's placement) and ``nearestMode`` (default
        "round_prefer_floor", WebNN's tie rounding) place the samples as ONNX Resize does; the
        coordinates use the given scales, or output / input size when sizes are given. Only
        non-default values are kept in the graph.
        """
        op = "resample2d"
        opts = parse_options(
            op, options, ("mode", "scales", "sizes", "axes", "coordinate_transformation_mode", "nearest_mode")
        )
        x = self._float_input(op, input)
        mode = choice(op, "mode", opts.get("mode", "nearest-neighbor"), INTERPOLATION_MODES)
        coord = choice(
            op, "coordinateTransformationMode", opts.get("coordinate_transformation_mode", DEFAULT_COORDINATE_MODE),
            COORDINATE_MODES,
        )
        nearest = choice(op, "nearestMode", opts.get("nearest_mode", DEFAULT_NEAREST_MODE), NEAREST_MODES)
        axes = int_list(op, "axes", opts.get("axes", [2, 3]), length=2, minimum=0)
        if max(axes) >= 4 or axes[0] == axes[1]:
            raise ValidationError(f"{op}: axes must be two different values in [0, 4); found {list(axes)}")
        shape = list(x.shape)
        scales: tuple[float, float] | None = None
        if opts.get("sizes") is not None:
            sizes = int_list(op, "sizes", opts["sizes"], length=2, minimum=1)
        else:
            raw = opts.get("scales", [1.0, 1.0])
            if isinstance(raw, str) or len(raw) != 2:
                raise ValidationError(f"{op}: scales must have 2 elements; found {raw!r}")
            s0, s1 = (number(op, "scales", s) for s in raw)
            if s0 <= 0 or s1 <= 0:
                raise ValidationError(f"{op}: scales must be positive; found {[s0, s1]}")
            scales = (s0, s1)
            sizes = (math.floor(shape[axes[0]] * s0), math.floor(shape[axes[1]] * s1))
            if min(sizes) < 1 or max(sizes) > 2**31 - 1:
                raise ValidationError(
                    f"{op}: scales {list(scales)} give output sizes {list(sizes)} for input "
                    f"{list(x.shape)}; every size must be in [1, 2^31-1]"
                )
        for a, s in zip(axes, sizes, strict=True):
            shape[a] = s
        attrs: dict[str, Any] = {"mode": mode, "axes": axes, "sizes": sizes}
        if scales is not None:
            attrs["scales"] = scales
        if coord != DEFAULT_COORDINATE_MODE:
            attrs["coordinate_transformation_mode"] = coord
        if nearest != DEFAULT_NEAREST_MODE and mode == "nearest-neighbor":
            attrs["nearest_mode"] = nearest
        return self._add1(op, [x], OperandDescriptor(x.data_type, tuple(shape)), attrs)


# ---------------------------------------------------------------- support limits (onnx-cpu)
_F4 = operand(FLOATS, ranks=(4, 4))
_F1 = operand(FLOATS, ranks=(1, 1))

SUPPORT: dict[str, dict[str, OperandLimits]] = {
    "conv2d": {"input": _F4, "filter": _F4, "bias": _F1, "output": _F4},
    "convTranspose2d": {"input": _F4, "filter": _F4, "bias": _F1, "output": _F4},
    "averagePool2d": same_limits(_F4, "input", "output"),
    "maxPool2d": same_limits(_F4, "input", "output"),
    "l2Pool2d": same_limits(_F4, "input", "output"),
    "resample2d": same_limits(_F4, "input", "output"),
}


# ---------------------------------------------------------------- value ranges
# A max or a mean of input elements stays within the input's range.
range_rule("maxPool2d", "averagePool2d")(first_range)
