"""conv2d, convTranspose2d, the pools and resample2d against float64 numpy references written
from the spec's formulas; validation messages.

Tolerance: float32 outputs within rtol 1e-5 / atol 1e-4 of the float64 reference; float16
within rtol 1e-2 / atol 1e-2 (inputs are small integers or unit normals, sums of <= 50 terms).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from webnnc.compiler.errors import ValidationError, WebNNTypeError

_TOL = {"float32": {"rtol": 1e-5, "atol": 1e-4}, "float16": {"rtol": 1e-2, "atol": 1e-2}}


def _run(context: Any, build: Callable[..., Any], *arrays: np.ndarray) -> np.ndarray:
    b = context.create_graph_builder()
    inputs = [b.input(f"x{i}", list(a.shape), str(a.dtype)) for i, a in enumerate(arrays)]
    graph = b.build({"y": build(b, *inputs)})
    return np.asarray(context.compute(graph, {f"x{i}": a for i, a in enumerate(arrays)})["y"])


def _close(actual: np.ndarray, expected: np.ndarray, dtype: str) -> None:
    assert actual.dtype == np.dtype(dtype)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    np.testing.assert_allclose(actual.astype(np.float64), expected, **_TOL[dtype])


# ------------------------------------------------------------------ float64 references (NCHW)
def _conv_ref(x: np.ndarray, w: np.ndarray, pads: list[int], strides: list[int], dil: list[int], groups: int) -> np.ndarray:
    """x [N,C,H,W], w [O, C/groups, KH, KW] -> [N,O,OH,OW]."""
    x = np.pad(x.astype(np.float64), [(0, 0), (0, 0), (pads[0], pads[1]), (pads[2], pads[3])])
    n, _, h, wd = x.shape
    o, cg, kh, kw = w.shape
    oh = (h - (kh - 1) * dil[0] - 1) // strides[0] + 1
    ow = (wd - (kw - 1) * dil[1] - 1) // strides[1] + 1
    out = np.zeros((n, o, oh, ow))
    og = o // groups
    for i in range(oh):
        for j in range(ow):
            rows = i * strides[0] + np.arange(kh) * dil[0]
            cols = j * strides[1] + np.arange(kw) * dil[1]
            patch = x[:, :, rows][:, :, :, cols]  # N, C, KH, KW
            for g in range(groups):
                p = patch[:, g * cg : (g + 1) * cg]
                out[:, g * og : (g + 1) * og, i, j] = np.einsum("nckl,ockl->no", p, w[g * og : (g + 1) * og])
    return out


def _conv_transpose_ref(
    x: np.ndarray, w: np.ndarray, pads: list[int], strides: list[int], dil: list[int], groups: int, out_hw: tuple[int, int]
) -> np.ndarray:
    """x [N,C,H,W], w [C, O/groups, KH, KW] (iohw) -> [N, O, out_hw]: scatter every input
    pixel times the filter, then crop the beginning padding."""
    n, c, h, wd = x.shape
    _, og, kh, kw = w.shape
    full = np.zeros((n, og * groups, pads[0] + out_hw[0] + (kh - 1) * dil[0] + h * strides[0], pads[2] + out_hw[1] + (kw - 1) * dil[1] + wd * strides[1]))
    cg = c // groups
    for ci in range(c):
        g = ci // cg
        for i in range(h):
            for j in range(wd):
                for a in range(kh):
                    for b in range(kw):
                        full[:, g * og : (g + 1) * og, i * strides[0] + a * dil[0], j * strides[1] + b * dil[1]] += (
                            x[:, ci, i, j, None].astype(np.float64) * w[ci, :, a, b]
                        )
    return full[:, :, pads[0] : pads[0] + out_hw[0], pads[2] : pads[2] + out_hw[1]]


def _pool_ref(kind: str, x: np.ndarray, win: list[int], pads: list[int], strides: list[int], dil: list[int], out_hw: tuple[int, int]) -> np.ndarray:
    """Windows read NaN for padding; a window with no input element gives 0."""
    big = [pads[1] + out_hw[0] * strides[0] + win[0] * dil[0], pads[3] + out_hw[1] * strides[1] + win[1] * dil[1]]
    xp = np.full((*x.shape[:2], pads[0] + x.shape[2] + big[0], pads[2] + x.shape[3] + big[1]), np.nan)
    xp[:, :, pads[0] : pads[0] + x.shape[2], pads[2] : pads[2] + x.shape[3]] = x
    out = np.zeros((*x.shape[:2], *out_hw))
    for i in range(out_hw[0]):
        for j in range(out_hw[1]):
            rows = i * strides[0] + np.arange(win[0]) * dil[0]
            cols = j * strides[1] + np.arange(win[1]) * dil[1]
            p = xp[:, :, rows][:, :, :, cols].reshape(*x.shape[:2], -1)
            if np.all(np.isnan(p)):
                continue
            if kind == "max":
                out[:, :, i, j] = np.nanmax(p, axis=-1)
            elif kind == "avg":
                out[:, :, i, j] = np.nanmean(p, axis=-1)
            else:
                out[:, :, i, j] = np.sqrt(np.nansum(p * p, axis=-1))
    return out


def _nhwc(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1))


def _nchw(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a.transpose(0, 3, 1, 2))


# ------------------------------------------------------------------ numerics
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_conv2d_nhwc_hwio_groups_dilations_bias(nocache_context: Any, rng: np.random.Generator, dtype: str) -> None:
    x = rng.standard_normal((2, 4, 7, 6)).astype(dtype)  # NCHW
    w = rng.standard_normal((6, 2, 3, 2)).astype(dtype)  # OIHW, groups 2
    bias = rng.standard_normal(6).astype(dtype)
    pads, strides, dil = [1, 2, 0, 1], [2, 1], [1, 2]
    got = _run(
        nocache_context,
        lambda b, v, f, c: b.conv2d(v, f, padding=pads, strides=strides, dilations=dil, groups=2,
                                    input_layout="nhwc", filter_layout="hwio", bias=c),
        _nhwc(x), np.ascontiguousarray(w.transpose(2, 3, 1, 0)), bias,
    )
    want = _conv_ref(x, w.astype(np.float64), pads, strides, dil, 2) + bias.astype(np.float64)[None, :, None, None]
    _close(got, _nhwc(want), dtype)


@pytest.mark.parametrize(
    ("layout", "perm"), [("iohw", (0, 1, 2, 3)), ("hwoi", (2, 3, 1, 0)), ("ohwi", (1, 2, 3, 0))]
)
def test_conv_transpose2d_layouts_and_output_padding(
    nocache_context: Any, rng: np.random.Generator, layout: str, perm: tuple[int, ...]
) -> None:
    x = rng.standard_normal((1, 4, 3, 4)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 2)).astype(np.float32)  # iohw, groups 2 -> 6 outputs
    bias = rng.standard_normal(6).astype(np.float32)
    pads, strides, dil = [1, 0, 0, 2], [2, 3], [1, 2]
    got = _run(
        nocache_context,
        lambda b, v, f, c: b.conv_transpose2d(
            v, f, padding=pads, strides=strides, dilations=dil, output_padding=[1, 2], groups=2,
            filter_layout=layout, bias=c,
        ),
        x, np.ascontiguousarray(w.transpose(perm)), bias,
    )
    # (in - 1) * stride + (k - 1) * dilation + 1 - pads + output_padding
    out_hw = ((3 - 1) * 2 + 2 + 1 - 1 + 1, (4 - 1) * 3 + 2 + 1 - 2 + 2)
    want = _conv_transpose_ref(x, w, pads, strides, dil, 2, out_hw) + bias[None, :, None, None]
    _close(got, want, "float32")


def test_conv_transpose2d_nhwc_output_sizes(nocache_context: Any, rng: np.random.Generator) -> None:
    x = rng.standard_normal((2, 3, 3, 2)).astype(np.float16)  # NHWC
    w = rng.standard_normal((2, 1, 2, 2)).astype(np.float16)  # iohw
    got = _run(
        nocache_context,
        lambda b, v, f: b.conv_transpose2d(v, f, strides=[3, 2], output_sizes=[9, 7], input_layout="nhwc"),
        x, w,
    )
    want = _conv_transpose_ref(_nchw(x), w.astype(np.float64), [0, 0, 0, 0], [3, 2], [1, 1], 1, (9, 7))
    _close(got, _nhwc(want), "float16")


POOLS = [
    # kind, window, padding, strides, dilations, rounding
    ("avg", [3, 3], [1, 1, 1, 1], [2, 2], [1, 1], "ceil"),
    ("max", [2, 3], [0, 1, 2, 0], [3, 2], [1, 1], "ceil"),
    ("l2", [2, 2], [1, 0, 0, 1], [1, 2], [2, 1], "floor"),
    ("avg", [2, 2], [3, 2, 2, 3], [2, 1], [1, 1], "floor"),  # padding >= window: explicit pad
    ("max", [1, 2], [2, 2, 0, 2], [1, 1], [1, 1], "ceil"),  # windows wholly in padding -> 0
    ("l2", [3, 2], [0, 0, 0, 0], [1, 1], [1, 1], "floor"),
    ("avg", [2, 3], [1, 0, 0, 2], [2, 2], [2, 1], "ceil"),  # dilated, partial last windows
    ("max", [3, 2], [0, 0, 1, 1], [1, 3], [2, 2], "ceil"),
]


@pytest.mark.parametrize(("kind", "win", "pads", "strides", "dil", "rounding"), POOLS)
@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_pools_match_reference(
    nocache_context: Any, rng: np.random.Generator, kind: str, win: list[int], pads: list[int],
    strides: list[int], dil: list[int], rounding: str, layout: str,
) -> None:
    x = rng.standard_normal((1, 3, 6, 7)).astype(np.float32)
    method = {"avg": "average_pool2d", "max": "max_pool2d", "l2": "l2_pool2d"}[kind]
    feed = _nhwc(x) if layout == "nhwc" else x
    got = _run(
        nocache_context,
        lambda b, v: getattr(b, method)(v, window_dimensions=win, padding=pads, strides=strides, dilations=dil,
                                        output_shape_rounding=rounding, layout=layout),
        feed,
    )
    rnd = np.ceil if rounding == "ceil" else np.floor
    out_hw = tuple(
        int(rnd((size + pads[2 * i] + pads[2 * i + 1] - (win[i] - 1) * dil[i] - 1) / strides[i])) + 1
        for i, size in enumerate((6, 7))
    )
    want = _pool_ref(kind, x.astype(np.float64), win, pads, strides, dil, out_hw)  # type: ignore[arg-type]
    _close(got, _nhwc(want) if layout == "nhwc" else want, "float32")


def test_global_pools_and_output_sizes(nocache_context: Any, rng: np.random.Generator) -> None:
    x = rng.standard_normal((2, 3, 5, 4)).astype(np.float32)
    got = _run(nocache_context, lambda b, v: b.l2_pool2d(v), x)
    _close(got, np.sqrt((x.astype(np.float64) ** 2).sum(axis=(2, 3), keepdims=True)), "float32")
    got = _run(nocache_context, lambda b, v: b.average_pool2d(v, window_dimensions=[2, 2], strides=[2, 2], output_sizes=[3, 2]), x)
    _close(got, _pool_ref("avg", x.astype(np.float64), [2, 2], [0] * 4, [2, 2], [1, 1], (3, 2)), "float32")


def _resample_ref(x: np.ndarray, axes: list[int], sizes: list[int], scales: list[float], mode: str) -> np.ndarray:
    """Half-pixel sampling; nearest rounds halves down, linear clamps at the edges."""
    y = x.astype(np.float64)
    for axis, size, scale in zip(axes, sizes, scales, strict=True):
        n = y.shape[axis]
        src = (np.arange(size) + 0.5) / scale - 0.5
        if mode == "nearest-neighbor":
            y = np.take(y, np.clip(np.ceil(src - 0.5).astype(int), 0, n - 1), axis=axis)
            continue
        src = np.clip(src, 0, n - 1)
        lo = np.floor(src).astype(int)
        hi = np.minimum(lo + 1, n - 1)
        frac = (src - lo).reshape([-1 if d == axis else 1 for d in range(y.ndim)])
        y = np.take(y, lo, axis=axis) * (1 - frac) + np.take(y, hi, axis=axis) * frac
    return y


@pytest.mark.parametrize(
    ("mode", "options", "axes", "sizes", "scales"),
    [
        ("nearest-neighbor", {"scales": [2.0, 1.5]}, [2, 3], [8, 7], [2.0, 1.5]),
        ("linear", {"scales": [0.5, 3.0]}, [2, 3], [2, 15], [0.5, 3.0]),
        ("linear", {"sizes": [5, 3], "axes": [1, 0]}, [1, 0], [5, 3], [5 / 3, 3 / 2]),
        ("nearest-neighbor", {"sizes": [2, 9], "axes": [3, 1]}, [3, 1], [2, 9], [2 / 5, 9 / 3]),
    ],
)
def test_resample2d_matches_reference(
    nocache_context: Any, rng: np.random.Generator, mode: str, options: dict[str, Any],
    axes: list[int], sizes: list[int], scales: list[float],
) -> None:
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    got = _run(nocache_context, lambda b, v: b.resample2d(v, mode=mode, **options), x)
    _close(got, _resample_ref(x, axes, sizes, scales, mode), "float32")


def test_resample2d_scale_whose_float32_product_rounds_the_other_way(nocache_context: Any, rng: np.random.Generator) -> None:
    """floor(7 * 31/7) is 31 in double but 30 in float32 (ONNX Runtime's arithmetic): the
    output keeps the spec's size and the given scale's sampling positions."""
    x = rng.standard_normal((1, 1, 7, 3)).astype(np.float32)
    got = _run(nocache_context, lambda b, v: b.resample2d(v, mode="linear", scales=[31 / 7, 1.0]), x)
    _close(got, _resample_ref(x, [2, 3], [31, 3], [31 / 7, 1.0], "linear"), "float32")


# ------------------------------------------------------------------ validation
def _x(b: Any, shape: list[int], dt: str = "float32", name: str = "x") -> Any:
    return b.input(name, shape, dt)


VALIDATION = [
    (lambda b: b.conv2d(_x(b, [1, 4, 5, 5]), _x(b, [2, 2, 3, 3], name="w"), groups=2, filter_layout="hwio"),
     ValidationError, r"conv2d: filter input channels \(3\) must equal input channels / groups \(4 / 2\)"),
    (lambda b: b.conv2d(_x(b, [1, 1, 5, 5]), _x(b, [2, 1, 3, 3], name="w"), bias=_x(b, [3], name="c")),
     ValidationError, r"conv2d: bias must have shape \[2\] \(the output channels\); found \[3\]"),
    (lambda b: b.conv2d(_x(b, [1, 1, 5, 5], "int32"), _x(b, [2, 1, 3, 3], "int32", "w")),
     WebNNTypeError, r"conv2d: input data type must be one of \[float16, float32\]; found int32"),
    (lambda b: b.conv2d(_x(b, [1, 1, 5, 5]), _x(b, [2, 1, 3, 3], "float16", "w")),
     WebNNTypeError, r"conv2d: filter data type \(float16\) must match input \(float32\)"),
    (lambda b: b.conv2d(_x(b, [1, 1, 5, 5]), _x(b, [2, 1, 3, 3], name="w"), input_layout="nwhc"),
     WebNNTypeError, r"conv2d: input_layout must be one of \['nchw', 'nhwc'\]; found 'nwhc'"),
    (lambda b: b.conv2d(_x(b, [1, 1, 5, 5]), _x(b, [2, 1, 3, 3], name="w"), padding=[1, 1], pads=[1, 1, 1, 1]),
     WebNNTypeError, r"conv2d: option 'pads' repeats 'padding'"),
    (lambda b: b.conv_transpose2d(_x(b, [1, 2, 3, 3]), _x(b, [3, 1, 2, 2], name="w")),
     ValidationError, r"convTranspose2d: filter input channels \(3\) must equal input channels \(2\)"),
    (lambda b: b.conv_transpose2d(_x(b, [1, 2, 3, 3]), _x(b, [2, 1, 2, 2], name="w"), strides=[2, 2], output_padding=[2, 0]),
     ValidationError, r"convTranspose2d: output_padding \[2, 0\] must be smaller than strides \[2, 2\]"),
    (lambda b: b.conv_transpose2d(_x(b, [1, 2, 3, 3]), _x(b, [2, 1, 2, 2], name="w"), strides=[2, 2], output_sizes=[8, 6]),
     ValidationError, r"convTranspose2d: output_sizes \[8, 6\] must be within \[6, 8\) in dimension 0"),
    (lambda b: b.conv_transpose2d(_x(b, [1, 2, 3, 3]), _x(b, [2, 1, 2, 2], name="w"), filter_layout="oihw"),
     WebNNTypeError, r"convTranspose2d: filter_layout must be one of \['iohw', 'hwoi', 'ohwi'\]"),
    (lambda b: b.max_pool2d(_x(b, [1, 1, 4, 4]), window_dimensions=[5, 5]),
     ValidationError, r"maxPool2d: output size would be 0x0: window \[5, 5\]"),
    (lambda b: b.average_pool2d(_x(b, [1, 1, 5, 5]), window_dimensions=[2, 2], strides=[2, 2], output_sizes=[4, 4]),
     ValidationError, r"averagePool2d: output_sizes \[4, 4\] must be the floor \[2, 2\] or the ceil \[3, 3\]"),
    (lambda b: b.l2_pool2d(_x(b, [1, 1, 5, 5]), output_shape_rounding="round"),
     WebNNTypeError, r"l2Pool2d: output_shape_rounding must be one of \['floor', 'ceil'\]"),
    (lambda b: b.l2_pool2d(_x(b, [1, 5, 5])), ValidationError, r"l2Pool2d: input must have rank 4; found rank 3"),
    (lambda b: b.resample2d(_x(b, [1, 1, 5, 5]), axes=[1, 1]),
     ValidationError, r"resample2d: axes must be two different values in \[0, 4\); found \[1, 1\]"),
    (lambda b: b.resample2d(_x(b, [1, 1, 5, 5]), scales=[0.0, 1.0]),
     ValidationError, r"resample2d: scales must be positive; found \[0.0, 1.0\]"),
    (lambda b: b.resample2d(_x(b, [1, 1, 5, 5]), scales=[0.1, 1.0]),
     ValidationError, r"resample2d: scales \[0.1, 1.0\] give output sizes \[0, 5\]"),
    (lambda b: b.resample2d(_x(b, [1, 1, 5, 5]), mode="cubic"),
     WebNNTypeError, r"resample2d: mode must be one of \['nearest-neighbor', 'linear'\]"),
]


@pytest.mark.parametrize(("make", "exc", "pattern"), VALIDATION)
def test_validation_messages(builder: Any, make: Any, exc: type, pattern: str) -> None:
    with pytest.raises(exc, match=pattern):
        make(builder)


def test_pywebnn_positional_order_and_spellings(nocache_context: Any, rng: np.random.Generator) -> None:
    """pywebnn 0.5 code runs unchanged: its positional order and its ``pads`` keyword."""
    x = rng.standard_normal((1, 2, 5, 5)).astype(np.float32)
    w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    pads, strides, dil = [1, 0, 2, 1], [2, 1], [1, 2]
    got = _run(nocache_context, lambda b, v, f: b.conv2d(v, f, strides, dil, pads, 1, "nchw", "oihw"), x, w)
    _close(got, _conv_ref(x, w.astype(np.float64), pads, strides, dil, 1), "float32")
    got = _run(nocache_context, lambda b, v: b.max_pool2d(v, [2, 2], [1, 1], None, None, "nchw", pads=[1, 1, 0, 0]), x)
    _close(got, _pool_ref("max", x.astype(np.float64), [2, 2], [1, 1, 0, 0], [1, 1], [1, 1], (6, 4)), "float32")
    got = _run(nocache_context, lambda b, v: b.average_pool2d(v, windowDimensions=[5, 5], roundingType="floor"), x)
    _close(got, x.astype(np.float64).mean(axis=(2, 3), keepdims=True), "float32")


# ------------------------------------------------------------------ support table honesty
_FLOAT_OPS: dict[str, Callable[[Any, str], Any]] = {
    "conv2d": lambda b, t: b.conv2d(_x(b, [1, 2, 4, 4], t), _x(b, [3, 2, 2, 2], t, "w")),
    "convTranspose2d": lambda b, t: b.conv_transpose2d(_x(b, [1, 2, 4, 4], t), _x(b, [2, 3, 2, 2], t, "w")),
    "averagePool2d": lambda b, t: b.average_pool2d(_x(b, [1, 2, 4, 4], t)),
    "maxPool2d": lambda b, t: b.max_pool2d(_x(b, [1, 2, 4, 4], t)),
    "l2Pool2d": lambda b, t: b.l2_pool2d(_x(b, [1, 2, 4, 4], t)),
    "resample2d": lambda b, t: b.resample2d(_x(b, [1, 2, 4, 4], t), scales=[2.0, 2.0]),
    "gemm": lambda b, t: b.gemm(_x(b, [2, 3], t), _x(b, [3, 4], t, "w")),
    "matmul": lambda b, t: b.matmul(_x(b, [2, 3], t), _x(b, [3, 4], t, "w")),
    "batchNormalization": lambda b, t: b.batch_normalization(_x(b, [2, 3], t), _x(b, [3], t, "m"), _x(b, [3], t, "v")),
    "instanceNormalization": lambda b, t: b.instance_normalization(_x(b, [1, 2, 3, 3], t)),
    "layerNormalization": lambda b, t: b.layer_normalization(_x(b, [2, 3], t)),
    "gru": lambda b, t: b.gru(_x(b, [2, 1, 3], t), _x(b, [1, 6, 3], t, "w"), _x(b, [1, 6, 2], t, "r"), 2, 2),
    "gruCell": lambda b, t: b.gru_cell(_x(b, [1, 3], t), _x(b, [6, 3], t, "w"), _x(b, [6, 2], t, "r"), _x(b, [1, 2], t, "h"), 2),
    "lstm": lambda b, t: b.lstm(_x(b, [2, 1, 3], t), _x(b, [1, 8, 3], t, "w"), _x(b, [1, 8, 2], t, "r"), 2, 2),
    "lstmCell": lambda b, t: b.lstm_cell(_x(b, [1, 3], t), _x(b, [8, 3], t, "w"), _x(b, [8, 2], t, "r"),
                                         _x(b, [1, 2], t, "h"), _x(b, [1, 2], t, "c"), 2),
}


@pytest.mark.parametrize("op", sorted(_FLOAT_OPS))
def test_float_ops_match_support_table(nocache_context: Any, op: str) -> None:
    """The table lists float32 and float16 for these operators: both build (and their
    numerics are tested above); an integer type is refused at build time."""
    from webnnc.compiler.ops import op_support_limits

    first = "a" if op in ("gemm", "matmul") else "input"
    assert op_support_limits()[op][first]["dataTypes"] == ["float32", "float16"]
    for dtype in ("float32", "float16"):
        out = _FLOAT_OPS[op](nocache_context.create_graph_builder(), dtype)
        for o in out if isinstance(out, list) else [out]:
            assert o.data_type == dtype
    with pytest.raises(WebNNTypeError, match=r"data type must be one of \[float16, float32\]; found int32"):
        _FLOAT_OPS[op](nocache_context.create_graph_builder(), "int32")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kind=st.sampled_from(["avg", "max", "l2"]),
    win=st.lists(st.integers(1, 3), min_size=2, max_size=2),
    pads=st.lists(st.integers(0, 3), min_size=4, max_size=4),
    strides=st.lists(st.integers(1, 3), min_size=2, max_size=2),
    dil=st.lists(st.integers(1, 2), min_size=2, max_size=2),
    ceil=st.booleans(),
)
def test_pools_property(nocache_context: Any, kind: str, win: list[int], pads: list[int], strides: list[int],
                        dil: list[int], ceil: bool) -> None:
    """Any valid window/padding/stride/dilation/rounding combination matches the reference
    (covers the grown end padding, the explicit-padding path and all-padding windows)."""
    size = (5, 4)
    raw = [(n + pads[2 * i] + pads[2 * i + 1] - (win[i] - 1) * dil[i] - 1) / strides[i] + 1 for i, n in enumerate(size)]
    out_hw = tuple(int(np.ceil(r)) if ceil else int(np.floor(r)) for r in raw)
    assume(min(out_hw) >= 1)
    x = np.random.default_rng(7).standard_normal((1, 2, *size)).astype(np.float32)
    method = {"avg": "average_pool2d", "max": "max_pool2d", "l2": "l2_pool2d"}[kind]
    got = _run(
        nocache_context,
        lambda b, v: getattr(b, method)(v, window_dimensions=win, padding=pads, strides=strides, dilations=dil,
                                        output_shape_rounding="ceil" if ceil else "floor"),
        x,
    )
    _close(got, _pool_ref(kind, x.astype(np.float64), win, pads, strides, dil, out_hw), "float32")  # type: ignore[arg-type]
