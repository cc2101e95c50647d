"""Element-wise binary ops, comparisons, logical ops, where and clamp: validation messages and
numerics against numpy (integers exact; floats within 1 ULP of a float64 reference)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from webnnc.compiler.errors import ValidationError, WebNNTypeError


def _run(ctx: Any, build: Any, feeds: dict[str, np.ndarray]) -> np.ndarray:
    b = ctx.create_graph_builder()
    ins = {k: b.input(k, list(v.shape), str(v.dtype)) for k, v in feeds.items()}
    graph = b.build({"y": build(b, **ins)})
    return ctx.compute(graph, feeds)["y"]


@pytest.fixture(scope="module")
def ctx() -> Any:
    import webnnc

    return webnnc.ML().create_context(use_cache=False)


def test_binary_broadcasts_and_keeps_type(ctx: Any, rng: np.random.Generator) -> None:
    a = rng.integers(-50, 50, (2, 1, 4)).astype(np.int64)
    c = rng.integers(1, 9, (3, 1)).astype(np.int64)
    for method, ref in [("add", np.add), ("sub", np.subtract), ("mul", np.multiply),
                        ("max", np.maximum), ("min", np.minimum)]:
        out = _run(ctx, lambda b, a, c, m=method: getattr(b, m)(a, c), {"a": a, "c": c})
        assert out.dtype == np.int64
        np.testing.assert_array_equal(out, ref(a, c))
    # integer division truncates toward zero (C semantics, as the spec's integer division)
    out = _run(ctx, lambda b, a, c: b.div(a, c), {"a": a, "c": c})
    np.testing.assert_array_equal(out, np.trunc(a / c).astype(np.int64))


def test_float16_pow_within_one_ulp(ctx: Any, rng: np.random.Generator) -> None:
    a = rng.uniform(0.5, 4, (8,)).astype(np.float16)
    e = rng.uniform(-2, 2, (8,)).astype(np.float16)
    out = _run(ctx, lambda b, a, e: b.pow(a, e), {"a": a, "e": e})
    ref = np.power(a.astype(np.float64), e.astype(np.float64)).astype(np.float16)
    ulps = np.abs(out.view(np.int16).astype(int) - ref.view(np.int16).astype(int))
    assert out.dtype == np.float16 and ulps.max() <= 1


def test_integer_pow_without_a_kernel(ctx: Any) -> None:
    a = np.array([2, 3, 0, 5], np.uint8)
    e = np.array([3, 2, 4, 4], np.uint8)
    out = _run(ctx, lambda b, a, e: b.pow(a, e), {"a": a, "e": e})
    np.testing.assert_array_equal(out, np.power(a.astype(np.int64), e).astype(np.uint8))  # 625 wraps


def test_comparisons_return_uint8(ctx: Any) -> None:
    a = np.array([1.0, 2.0, np.nan, -0.0], np.float32)
    c = np.array([2.0, 2.0, np.nan, 0.0], np.float32)
    for method, ref in [("equal", np.equal), ("not_equal", np.not_equal), ("greater", np.greater),
                        ("greater_or_equal", np.greater_equal), ("lesser", np.less),
                        ("lesser_or_equal", np.less_equal)]:
        out = _run(ctx, lambda b, a, c, m=method: getattr(b, m)(a, c), {"a": a, "c": c})
        assert out.dtype == np.uint8
        np.testing.assert_array_equal(out, ref(a, c).astype(np.uint8), err_msg=method)


def test_logical_ops_treat_nonzero_as_true(ctx: Any) -> None:
    a = np.array([0, 1, 2, 255, 0], np.uint8)
    c = np.array([0, 0, 7, 3, 9], np.uint8)
    for method, ref in [("logical_and", np.logical_and), ("logical_or", np.logical_or),
                        ("logical_xor", np.logical_xor)]:
        out = _run(ctx, lambda b, a, c, m=method: getattr(b, m)(a, c), {"a": a, "c": c})
        np.testing.assert_array_equal(out, ref(a, c).astype(np.uint8), err_msg=method)
    out = _run(ctx, lambda b, a: b.logical_not(a), {"a": a})
    np.testing.assert_array_equal(out, np.array([1, 0, 0, 0, 1], np.uint8))


def test_where_broadcasts_three_ways_including_uint64(ctx: Any) -> None:
    cond = np.array([[1], [0], [5]], np.uint8)
    t = np.array([2**64 - 1, 2**63], np.uint64)
    f = np.array([[3, 4]], np.uint64)
    out = _run(ctx, lambda b, cond, t, f: b.where_(cond, t, f), {"cond": cond, "t": t, "f": f})
    np.testing.assert_array_equal(out, np.where(cond != 0, t, f))
    assert out.dtype == np.uint64 and out.shape == (3, 2)


def test_clamp_bounds_cast_to_the_input_type(ctx: Any) -> None:
    x = np.array([-(2**63), -5, 3, 4, 2**63 - 1], np.int64)
    out = _run(ctx, lambda b, x: b.clamp(x, min_value=3.9, max_value="9223372036854775820"), {"x": x})
    np.testing.assert_array_equal(out, np.clip(x, 3, 2**63 - 1))  # 3.9 truncates to 3
    u = np.array([0, 7, 255], np.uint8)
    out = _run(ctx, lambda b, u: b.clamp(u, minValue=1000), {"u": u})  # saturates to 255
    np.testing.assert_array_equal(out, [255, 255, 255])
    f = np.array([-np.inf, -1.0, 2.0, np.inf], np.float32)
    out = _run(ctx, lambda b, f: b.clamp(f, min_value=float("nan"), max_value=1.0), {"f": f})
    np.testing.assert_array_equal(out, [-np.inf, -1.0, 1.0, 1.0])  # a NaN bound is no bound


@pytest.mark.parametrize(
    ("make", "exc", "pattern"),
    [
        (lambda b: b.add(b.input("a", [2, 3]), b.input("c", [4, 3])), ValidationError,
         r"add: shapes of a \[2, 3\] and b \[4, 3\] are not broadcastable \(dimension -2: 2 vs 4\)"),
        (lambda b: b.mul(b.input("a", [2]), b.input("c", [2], "int32")), WebNNTypeError,
         r"mul: a and b must have the same data type; found float32 and int32"),
        (lambda b: b.pow(b.input("a", [2], "uint64"), b.input("c", [2], "uint64")), WebNNTypeError,
         r"pow: unsupported data type for pow on onnx-cpu: a is uint64; supported: "
         r"\[float16, float32, int32, int64, int8, uint32, uint8\]"),
        (lambda b: b.logical_and(b.input("a", [2]), b.input("c", [2])), WebNNTypeError,
         r"logicalAnd: a data type must be one of \[uint8\]; found float32"),
        (lambda b: b.where_(b.input("c", [2]), b.input("t", [2]), b.input("f", [2])), WebNNTypeError,
         r"where: condition data type must be one of \[uint8\]; found float32"),
        (lambda b: b.where_(b.input("c", [2], "uint8"), b.input("t", [2]), b.input("f", [2], "int32")),
         WebNNTypeError, r"where: trueValue and falseValue must have the same data type"),
        (lambda b: b.where_(b.input("c", [3], "uint8"), b.input("t", [2]), b.input("f", [2])),
         ValidationError, r"where: shapes of condition \[3\] and trueValue/falseValue \[2\]"),
        (lambda b: b.clamp(b.input("x", [2]), min_value=2, max_value=1), ValidationError,
         r"clamp: min_value \(2.0\) must be <= max_value \(1.0\)"),
        (lambda b: b.clamp(b.input("x", [2]), min_value=1, minValue=2), WebNNTypeError,
         r"clamp: min_value is given twice"),
        (lambda b: b.add(b.input("x", [2]), b.input("y", [2]), alpha=1), WebNNTypeError,
         r"add: unknown options \['alpha'\]"),
    ],
)
def test_validation_messages(builder: Any, make: Any, exc: type, pattern: str) -> None:
    with pytest.raises(exc, match=pattern):
        make(builder)
