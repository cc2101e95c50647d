"""quantizeLinear / dequantizeLinear: block-wise scales, saturation, round-half-to-even, 4-bit
types, against a float64 numpy reference (integers exact; floats within 1e-6 relative);
validation messages."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from webnnc.compiler.errors import ValidationError, WebNNTypeError


@pytest.fixture(scope="module")
def ctx() -> Any:
    import webnnc

    return webnnc.ML().create_context(use_cache=False)


def _blocks(p: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    for axis, (n, s) in enumerate(zip(shape, p.shape, strict=True)):
        p = np.repeat(p, n // s, axis=axis)
    return p


def test_dequantize_blockwise(ctx: Any, rng: np.random.Generator) -> None:
    x = rng.integers(-128, 128, (6, 4)).astype(np.int8)
    scale = rng.uniform(0.01, 1.0, (2, 2)).astype(np.float32)
    zero = rng.integers(-5, 5, (2, 2)).astype(np.int8)
    b = ctx.create_graph_builder()
    xi = b.input("x", [6, 4], "int8")
    y = b.dequantize_linear(xi, b.constant(scale), b.constant(zero))
    out = ctx.compute(b.build({"y": y}), {"x": x})["y"]
    ref = (x.astype(np.float64) - _blocks(zero, x.shape)) * _blocks(scale, x.shape)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, ref, rtol=1e-6)


def test_quantize_rounds_half_to_even_and_saturates(ctx: Any) -> None:
    x = np.array([[0.5, 1.5, 2.5, -0.5], [1000.0, -1000.0, 3.0, 7.4]], np.float32)
    b = ctx.create_graph_builder()
    xi = b.input("x", [2, 4], "float32")
    scale = b.constant(np.array([[1.0], [2.0]], np.float32))  # per row
    zero = b.constant(np.array([[0], [10]], np.uint8))
    out = ctx.compute(b.build({"y": b.quantize_linear(xi, scale, zero)}), {"x": x})["y"]
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, [[0, 2, 2, 0], [255, 0, 12, 14]])


def test_int4_round_trip(ctx: Any) -> None:
    x = np.array([-9.0, -3.2, 0.0, 2.6, 6.9, 20.0], np.float32)
    b = ctx.create_graph_builder()
    xi = b.input("x", [6], "float32")
    scale = b.constant(np.array([1.0], np.float32))
    zero = b.constant(np.array([0]), data_type="int4")
    q = b.quantize_linear(xi, scale, zero)
    assert q.data_type == "int4"
    out = ctx.compute(b.build({"q": q, "y": b.dequantize_linear(q, scale, zero)}), {"x": x})
    np.testing.assert_array_equal(out["q"], [-8, -3, 0, 3, 7, 7])  # int4 travels as int8
    np.testing.assert_array_equal(out["y"], [-8, -3, 0, 3, 7, 7])


@pytest.mark.parametrize(
    ("make", "exc", "pattern"),
    [
        (lambda b: b.dequantize_linear(b.input("x", [4, 2], "int8"), b.input("s", [3, 1]),
                                       b.input("z", [3, 1], "int8")),
         ValidationError, r"dequantizeLinear: scale shape \[3, 1\] is not block-wise broadcastable "
                          r"to the input's \[4, 2\]: dimension 0 \(4\) is not a multiple of 3"),
        (lambda b: b.dequantize_linear(b.input("x", [4, 2], "int8"), b.input("s", [2]),
                                       b.input("z", [2], "int8")),
         ValidationError, r"dequantizeLinear: scale must have the input's rank 2; found shape \[2\]"),
        (lambda b: b.quantize_linear(b.input("x", [4]), b.input("s", [4]), b.input("z", [2], "int8")),
         ValidationError, r"quantizeLinear: scale \[4\] and zeroPoint \[2\] must have the same shape"),
        (lambda b: b.quantize_linear(b.input("x", [4]), b.input("s", [4], "float16"),
                                     b.input("z", [4], "int8")),
         WebNNTypeError, r"quantizeLinear: scale data type \(float16\) must match input \(float32\)"),
        (lambda b: b.dequantize_linear(b.input("x", [4], "int8"), b.input("s", [4]),
                                       b.input("z", [4], "uint8")),
         WebNNTypeError, r"dequantizeLinear: zeroPoint data type \(uint8\) must match input \(int8\)"),
        (lambda b: b.quantize_linear(b.input("x", [4], "int32"), b.input("s", [4]),
                                     b.input("z", [4], "int8")),
         WebNNTypeError, r"quantizeLinear: input data type must be one of \[float16, float32\]"),
        (lambda b: b.quantize_linear(b.input("x", [4]), b.input("s", [4]), b.input("z", [4], "uint32")),
         WebNNTypeError, r"quantizeLinear: zeroPoint data type must be one of \[int32, int4, int8, uint4, uint8\]"),
    ],
)
def test_validation_messages(builder: Any, make: Any, exc: type, pattern: str) -> None:
    with pytest.raises(exc, match=pattern):
        make(builder)
