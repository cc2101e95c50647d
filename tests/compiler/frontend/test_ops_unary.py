"""Unary math ops, isNaN / isInfinite, cast, and activations: validation messages and numerics
against float64 numpy references (tolerances stated per test, in float32 ULP)."""

from __future__ import annotations

import math
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


def _run_strict(build: Any, x: np.ndarray) -> np.ndarray:
    """Compile with ``precision="strict"`` (the spec's exact formulas) and run the artifact."""
    import onnxruntime as ort

    from webnnc.compiler.driver import compile_graph
    from webnnc.compiler.frontend import MLGraphBuilder
    from webnnc.compiler.options import CompileOptions

    b = MLGraphBuilder()
    graph = b.build({"y": build(b, b.input("x", list(x.shape), str(x.dtype)))})
    data = compile_graph(graph, CompileOptions(precision="strict")).data
    assert data is not None
    return np.asarray(ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0])


# NOTE: by default these lower to ONNX Runtime's native kernels (compiler/emitters/LOWERING.md),
# whose error is absolute (about 1e-7), not a few ULP of tiny results: their ULP bounds are
# the spec-exact ``precision="strict"`` lowering's, and the default is checked in absolute
# error below.
_NATIVE_BY_DEFAULT = {"sigmoid", "hard_swish", "elu"}


def _ulp32(actual: np.ndarray, ref: np.ndarray) -> np.ndarray:
    def key(v: np.ndarray) -> np.ndarray:
        bits = v.astype(np.float32).view(np.int32).astype(np.int64)
        return np.where(bits < 0, -(bits & 0x7FFFFFFF), bits)

    return np.abs(key(actual) - key(ref))


_ERF = np.vectorize(math.erf)
UNARY_REFS: list[tuple[str, Any, tuple[float, float], int]] = [
    # method, float64 reference, input range, max float32 ULP
    ("abs", np.abs, (-10, 10), 0),
    ("neg", np.negative, (-10, 10), 0),
    ("ceil", np.ceil, (-10, 10), 0),
    ("floor", np.floor, (-10, 10), 0),
    ("sqrt", np.sqrt, (0, 100), 1),
    ("exp", np.exp, (-20, 20), 2),
    ("log", np.log, (0.01, 100), 2),
    ("reciprocal", np.reciprocal, (0.5, 10), 1),
    ("sin", np.sin, (-6, 6), 4),
    ("cos", np.cos, (-6, 6), 4),
    ("tan", np.tan, (-1.5, 1.5), 4),
    ("erf", _ERF, (-3, 3), 4),
    ("sign", np.sign, (-3, 3), 0),
    ("round_even", np.round, (-5, 5), 0),
    ("tanh", np.tanh, (-10, 10), 4),
    ("sigmoid", lambda x: 1 / (1 + np.exp(-x)), (-80, 30), 2),
    ("hard_swish", lambda x: x * np.clip(x + 3, 0, 6) / 6, (-4, 4), 2),
    ("softsign", lambda x: x / (1 + np.abs(x)), (-20, 20), 2),
    ("softplus", lambda x: np.log1p(np.exp(x)), (-10, 10), 4),
    ("relu", lambda x: np.maximum(x, 0), (-10, 10), 0),
    ("elu", lambda x: np.where(x < 0, np.expm1(x), x), (-0.05, 0.01), 4),  # no cancellation near 0
    ("elu", lambda x: np.where(x < 0, np.expm1(x), x), (-30, 5), 4),
]


@pytest.mark.parametrize(
    ("method", "ref", "span", "ulp"), UNARY_REFS, ids=[f"{r[0]}{list(r[2])}" for r in UNARY_REFS]
)
def test_unary_float32_accuracy(ctx: Any, method: str, ref: Any, span: tuple[float, float], ulp: int) -> None:
    x = np.linspace(span[0], span[1], 4001).astype(np.float32)
    if method == "round_even":
        x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.49, -3.51], np.float32)
    out = _run(ctx, lambda b, v: getattr(b, method)(v), x)
    assert out.dtype == np.float32
    expected = ref(x.astype(np.float64))
    if method in _NATIVE_BY_DEFAULT:
        # the default (native kernel): within 4e-7 of the result's scale (1, or |x|)
        scale = np.maximum(1.0, np.abs(x.astype(np.float64)))
        err = np.abs(out - expected) / scale
        assert err.max() <= 4e-7, f"{method}: abs error {err.max():.2e} at x={x[err.argmax()]}"
        out = _run_strict(lambda b, v: getattr(b, method)(v), x)
    worst = _ulp32(out, expected)
    assert worst.max() <= ulp, f"{method}: {worst.max()} ULP at x={x[worst.argmax()]}"


def test_activation_defaults_follow_the_spec(ctx: Any) -> None:
    x = np.linspace(-4, 4, 101).astype(np.float32)
    xd = x.astype(np.float64)
    cases = [
        (lambda b, v: b.elu(v), np.where(xd >= 0, xd, np.exp(xd) - 1)),
        (lambda b, v: b.elu(v, alpha=0.5), np.where(xd >= 0, xd, 0.5 * (np.exp(xd) - 1))),
        (lambda b, v: b.leaky_relu(v), np.where(xd >= 0, xd, 0.01 * xd)),
        (lambda b, v: b.hard_sigmoid(v), np.clip(0.2 * xd + 0.5, 0, 1)),
        (lambda b, v: b.hard_sigmoid(v, alpha=0.5, beta=0.1), np.clip(0.5 * xd + 0.1, 0, 1)),
        (lambda b, v: b.linear(v), xd),
        (lambda b, v: b.linear(v, alpha=2.0, beta=-1.0), 2 * xd - 1),
        (lambda b, v: b.gelu(v), 0.5 * xd * (1 + _ERF(xd / math.sqrt(2)))),
    ]
    for build, ref in cases:
        np.testing.assert_allclose(_run(ctx, build, x), ref, rtol=1e-5, atol=1e-6)


def test_prelu_broadcasts_both_ways_and_runs_integers(ctx: Any) -> None:
    b = ctx.create_graph_builder()
    x = b.input("x", [2, 1, 3], "float32")
    s = b.constant(np.array([[0.5], [2.0]], np.float32))  # [2, 1] -> output [2, 2, 3]
    graph = b.build({"y": b.prelu(x, s)})
    xv = np.array([[[-1, 2, -3]], [[4, -5, 6]]], np.float32)
    np.testing.assert_array_equal(
        ctx.compute(graph, {"x": xv})["y"], np.where(xv >= 0, xv, xv * np.array([[0.5], [2.0]]))
    )
    xi = np.array([-3, -1, 0, 4], np.int32)
    out = _run(ctx, lambda b, v: b.prelu(v, b.constant(np.array([2], np.int32))), xi)
    np.testing.assert_array_equal(out, [-6, -2, 0, 4])


def test_is_nan_is_infinite(ctx: Any) -> None:
    x = np.array([np.nan, np.inf, -np.inf, 0.0, 65504.0], np.float16)
    np.testing.assert_array_equal(_run(ctx, lambda b, v: b.is_nan(v), x), [1, 0, 0, 0, 0])
    np.testing.assert_array_equal(_run(ctx, lambda b, v: b.is_infinite(v), x), [0, 1, 1, 0, 0])


@pytest.mark.parametrize("to", ["float32", "float16", "int32", "uint32", "int64", "uint64", "int8", "uint8"])
def test_cast_from_int32_is_exact_in_range(ctx: Any, to: str) -> None:
    x = np.array([0, 1, 7, 100, 127], np.int32)
    out = _run(ctx, lambda b, v: b.cast(v, to), x)
    assert out.dtype == np.dtype(to)
    np.testing.assert_array_equal(out, x.astype(to))


def test_cast_to_and_from_4_bit_types(ctx: Any) -> None:
    x = np.array([-8.0, -1.0, 0.0, 7.0], np.float32)
    out = _run(ctx, lambda b, v: b.cast(b.cast(v, "int4"), "float16"), x)
    np.testing.assert_array_equal(out, x)
    out = _run(ctx, lambda b, v: b.cast(v, "uint4"), np.array([0, 3, 15], np.int32))
    np.testing.assert_array_equal(out, [0, 3, 15])  # uint4 outputs arrive as uint8 arrays


def test_cast_float_to_int_truncates(ctx: Any) -> None:
    x = np.array([-2.7, -0.5, 0.5, 2.7], np.float32)
    np.testing.assert_array_equal(_run(ctx, lambda b, v: b.cast(v, "int32"), x), [-2, 0, 0, 2])


@pytest.mark.parametrize(
    ("make", "exc", "pattern"),
    [
        (lambda b: b.sqrt(b.input("x", [2], "int32")), WebNNTypeError,
         r"sqrt: input data type must be one of \[float16, float32\]; found int32"),
        (lambda b: b.abs(b.input("x", [2], "uint32")), WebNNTypeError,
         r"abs: input data type must be one of \[float16, float32, int32, int64, int8\]; found uint32"),
        (lambda b: b.cast(b.input("x", [2]), "bfloat16"), WebNNTypeError, r"cast type: expected one of"),
        (lambda b: b.cast(b.input("x", [2])), WebNNTypeError, r"cast: a target data type is required"),
        (lambda b: b.elu(b.input("x", [2]), alpha=float("inf")), WebNNTypeError,
         r"elu: alpha must be a finite number; found inf"),
        (lambda b: b.leaky_relu(b.input("x", [2]), slope=0.1), WebNNTypeError,
         r"leakyRelu: unknown options \['slope'\]"),
        (lambda b: b.prelu(b.input("x", [2]), b.input("s", [2], "float16")), WebNNTypeError,
         r"prelu: slope data type \(float16\) must match input \(float32\)"),
        (lambda b: b.prelu(b.input("x", [2]), b.input("s", [3])), ValidationError,
         r"prelu: shapes of input \[2\] and slope \[3\] are not broadcastable"),
        (lambda b: b.softmax(b.input("x", [2, 3]), 2), ValidationError,
         r"softmax: axis must be in the range \[0, 2\); found 2"),
        (lambda b: b.gelu(b.input("x", [2], "int8")), WebNNTypeError,
         r"gelu: input data type must be one of \[float16, float32\]; found int8"),
    ],
)
def test_validation_messages(builder: Any, make: Any, exc: type, pattern: str) -> None:
    with pytest.raises(exc, match=pattern):
        make(builder)
