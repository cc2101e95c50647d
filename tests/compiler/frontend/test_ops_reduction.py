"""Reductions, argMin / argMax, cumulativeSum: spec semantics (empty axes, keep_dimensions,
first index on ties, integer wrap-around), exact integer results, float results within
1e-5 relative of float64 numpy, and validation messages."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from webnnc.compiler.errors import ValidationError, WebNNTypeError


@pytest.fixture(scope="module")
def ctx() -> Any:
    import webnnc

    return webnnc.ML().create_context(use_cache=False)


def _run(ctx: Any, build: Any, x: np.ndarray) -> np.ndarray:
    b = ctx.create_graph_builder()
    graph = b.build({"y": build(b, b.input("x", list(x.shape), str(x.dtype)))})
    return ctx.compute(graph, {"x": x})["y"]


def _l2(x: np.ndarray, axis: Any, keepdims: bool) -> np.ndarray:
    return np.sqrt(np.sum(x * x, axis=axis, keepdims=keepdims))


REFS: dict[str, Any] = {
    "reduce_l1": lambda x, axis, keepdims: np.sum(np.abs(x), axis=axis, keepdims=keepdims),
    "reduce_l2": _l2,
    "reduce_log_sum": lambda x, axis, keepdims: np.log(np.sum(x, axis=axis, keepdims=keepdims)),
    "reduce_log_sum_exp": lambda x, axis, keepdims: np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims)),
    "reduce_max": np.max,
    "reduce_mean": np.mean,
    "reduce_min": np.min,
    "reduce_product": np.prod,
    "reduce_sum": np.sum,
    "reduce_sum_square": lambda x, axis, keepdims: np.sum(x * x, axis=axis, keepdims=keepdims),
}


@pytest.mark.parametrize("method", sorted(REFS))
@pytest.mark.parametrize(("axes", "keep"), [(None, False), ([0, 2], True), ([1], False), ([], False)])
def test_float_reductions(ctx: Any, rng: np.random.Generator, method: str, axes: Any, keep: bool) -> None:
    x = rng.uniform(0.5, 2.0, (2, 3, 4)).astype(np.float32)
    out = _run(ctx, lambda b, v: getattr(b, method)(v, axes=axes, keep_dimensions=keep), x)
    xd = x.astype(np.float64)
    if axes == []:  # the spec: nothing is reduced; each element is reduced on its own
        ref = REFS[method](xd[..., None], axis=-1, keepdims=False)
    else:
        ref = REFS[method](xd, axis=None if axes is None else tuple(axes), keepdims=keep)
    assert out.dtype == np.float32 and out.shape == np.shape(ref)
    np.testing.assert_allclose(out, ref, rtol=1e-5)


def test_float16_sum_accumulates_precisely(ctx: Any) -> None:
    x = np.full([4096], 0.1, np.float16)  # a float16 running sum would stall at 256
    out = _run(ctx, lambda b, v: b.reduce_sum(v), x)
    assert out.dtype == np.float16
    assert abs(float(out) - 4096 * float(np.float16(0.1))) <= 2.0  # one float16 ULP at 409.5


def test_unsigned_reductions_are_exact(ctx: Any) -> None:
    big = np.array([[2**64 - 1, 2**63, 5], [1, 2**63 + 7, 2]], np.uint64)
    np.testing.assert_array_equal(_run(ctx, lambda b, v: b.reduce_max(v, axes=[0]), big), big.max(axis=0))
    np.testing.assert_array_equal(_run(ctx, lambda b, v: b.reduce_min(v, axes=[1]), big), big.min(axis=1))
    # sums wrap modulo 2**64 as uint64 arithmetic does
    np.testing.assert_array_equal(_run(ctx, lambda b, v: b.reduce_sum(v, axes=[1]), big), big.sum(axis=1))
    u32 = np.array([2**32 - 1, 3, 2**31], np.uint32)
    np.testing.assert_array_equal(_run(ctx, lambda b, v: b.reduce_sum(v), u32), u32.sum(dtype=np.uint32))
    np.testing.assert_array_equal(_run(ctx, lambda b, v: b.reduce_l1(v), u32), u32.sum(dtype=np.uint32))
    np.testing.assert_array_equal(
        _run(ctx, lambda b, v: b.reduce_product(v), u32), np.prod(u32, dtype=np.uint32)
    )


def test_int64_sums_and_products_are_exact_beyond_2_53(ctx: Any) -> None:
    x = np.array([[2**53 + 1, 2, 3], [-(2**62), -(2**62), -5]], np.int64)
    np.testing.assert_array_equal(_run(ctx, lambda b, v: b.reduce_sum(v, axes=[1]), x), x.sum(axis=1))
    np.testing.assert_array_equal(_run(ctx, lambda b, v: b.reduce_product(v, axes=[1]), x), x.prod(axis=1))
    np.testing.assert_array_equal(_run(ctx, lambda b, v: b.reduce_l1(v, axes=[0]), x), np.abs(x).sum(axis=0))
    y = np.arange(1, 8, dtype=np.int32).reshape(7, 1, 1)  # odd length: the product tree pads
    np.testing.assert_array_equal(_run(ctx, lambda b, v: b.reduce_product(v, axes=[0, 2]), y), [5040])


def test_arg_max_min_first_index_and_output_type(ctx: Any) -> None:
    x = np.array([[1, 5, 5, 0], [7, 7, 2, 7]], np.float32)
    out = _run(ctx, lambda b, v: b.arg_max(v, 1), x)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, [1, 0])
    out = _run(ctx, lambda b, v: b.arg_min(v, 0, keep_dimensions=True, output_data_type="int64"), x)
    assert out.dtype == np.int64 and out.shape == (1, 4)
    np.testing.assert_array_equal(out, [[0, 0, 1, 0]])
    big = np.array([5, 2**63 + 1, 2**64 - 2, 7], np.uint64)
    np.testing.assert_array_equal(_run(ctx, lambda b, v: b.arg_max(v, 0), big), 2)
    np.testing.assert_array_equal(_run(ctx, lambda b, v: b.arg_min(v, 0), big), 0)


def test_cumulative_sum(ctx: Any) -> None:
    x = np.array([[1, 2, 3], [4, 5, 6]], np.float32)
    np.testing.assert_array_equal(_run(ctx, lambda b, v: b.cumulative_sum(v, 1), x), np.cumsum(x, 1))
    out = _run(ctx, lambda b, v: b.cumulative_sum(v, 0, reversed=True), x)
    np.testing.assert_array_equal(out, np.flip(np.cumsum(np.flip(x, 0), 0), 0))
    u = np.array([2**64 - 1, 2, 3], np.uint64)
    np.testing.assert_array_equal(_run(ctx, lambda b, v: b.cumulative_sum(v, 0), u), np.cumsum(u))


@pytest.mark.parametrize(
    ("make", "exc", "pattern"),
    [
        (lambda b: b.reduce_sum(b.input("x", [2, 3]), axes=[2]), ValidationError,
         r"reduceSum: axes must be in the range \[0, 2\); found 2 in \[2\]"),
        (lambda b: b.reduce_max(b.input("x", [2, 3]), axes=[1, 1]), ValidationError,
         r"reduceMax: axes must not repeat; found \[1, 1\]"),
        (lambda b: b.reduce_mean(b.input("x", [2], "int32")), WebNNTypeError,
         r"reduceMean: input data type must be one of \[float16, float32\]; found int32"),
        (lambda b: b.reduce_sum(b.input("x", [2], "int8")), WebNNTypeError,
         r"reduceSum: input data type must be one of \[float16, float32, int32, int64, uint32, uint64\]"),
        (lambda b: b.reduce_l1(b.input("x", [2]), keep_dimensions="yes"), WebNNTypeError,
         r"reduceL1: keep_dimensions must be a bool; found 'yes'"),
        (lambda b: b.reduce_l2(b.input("x", [2]), keepDimensions=True, keep_dimensions=True),
         WebNNTypeError, r"reduceL2: keep_dimensions is given twice"),
        (lambda b: b.arg_max(b.input("x", [2, 3]), 2), ValidationError,
         r"argMax: axis must be in the range \[0, 2\); found 2"),
        (lambda b: b.arg_min(b.input("x", [2]), 0, output_data_type="uint32"), WebNNTypeError,
         r"argMin: output_data_type must be one of \[int32, int64\]; found uint32"),
        (lambda b: b.arg_max(b.input("x", [2])), WebNNTypeError, r"argMax: axis is required"),
        (lambda b: b.arg_max(b.input("x", [], "float32"), 0), ValidationError,
         r"argMax: input rank must be in \[1, 8\]; found rank 0"),
        (lambda b: b.cumulative_sum(b.input("x", [2], "int8"), 0), WebNNTypeError,
         r"cumulativeSum: input data type must be one of"),
    ],
)
def test_validation_messages(builder: Any, make: Any, exc: type, pattern: str) -> None:
    with pytest.raises(exc, match=pattern):
        make(builder)
