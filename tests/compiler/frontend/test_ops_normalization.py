"""batch/instance/layer normalization, gemm and matmul against float64 numpy; validation.

Tolerance: float32 within rtol 1e-5 / atol 1e-5 of the float64 reference, float16 within
rtol 5e-3 / atol 5e-3 (unit-normal inputs; float16 keeps ~3 decimal digits).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from webnnc.compiler.errors import ValidationError, WebNNTypeError

_TOL = {"float32": {"rtol": 1e-5, "atol": 1e-5}, "float16": {"rtol": 5e-3, "atol": 5e-3}}


def _run(context: Any, build: Callable[..., Any], *arrays: np.ndarray) -> np.ndarray:
    b = context.create_graph_builder()
    inputs = [b.input(f"x{i}", list(a.shape), str(a.dtype)) for i, a in enumerate(arrays)]
    graph = b.build({"y": build(b, *inputs)})
    return np.asarray(context.compute(graph, {f"x{i}": a for i, a in enumerate(arrays)})["y"])


def _close(actual: np.ndarray, expected: np.ndarray, dtype: str) -> None:
    assert actual.dtype == np.dtype(dtype)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    np.testing.assert_allclose(actual.astype(np.float64), expected, **_TOL[dtype])


def _normalized(x: np.ndarray, axes: tuple[int, ...], eps: float) -> np.ndarray:
    x = x.astype(np.float64)
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_batch_normalization_any_axis(nocache_context: Any, rng: np.random.Generator, dtype: str) -> None:
    x = rng.standard_normal((3, 4, 2)).astype(dtype)
    mean, scale, bias = (rng.standard_normal(4).astype(dtype) for _ in range(3))
    var = rng.uniform(0.5, 2.0, 4).astype(dtype)
    got = _run(
        nocache_context,
        lambda b, v, m, s, c, bi: b.batch_normalization(v, m, s, scale=c, bias=bi, axis=1, epsilon=1e-3),
        x, mean, var, scale, bias,
    )
    f = (lambda a: a.astype(np.float64)[None, :, None])  # noqa: E731
    want = (x.astype(np.float64) - f(mean)) / np.sqrt(f(var) + 1e-3) * f(scale) + f(bias)
    _close(got, want, dtype)
    x2 = rng.standard_normal((4, 5)).astype(dtype)
    got = _run(nocache_context, lambda b, v, m, s: b.batch_normalization(v, m, s, axis=0), x2, mean, var)
    want = (x2.astype(np.float64) - mean.astype(np.float64)[:, None]) / np.sqrt(var.astype(np.float64)[:, None] + 1e-5)
    _close(got, want, dtype)


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_instance_normalization(nocache_context: Any, rng: np.random.Generator, layout: str, dtype: str) -> None:
    x = (rng.standard_normal((2, 3, 4, 5)) * 3 + 1).astype(dtype)  # NCHW
    scale, bias = rng.standard_normal(3).astype(dtype), rng.standard_normal(3).astype(dtype)
    feed = np.ascontiguousarray(x.transpose(0, 2, 3, 1)) if layout == "nhwc" else x
    got = _run(
        nocache_context,
        lambda b, v, s, c: b.instance_normalization(v, scale=s, bias=c, epsilon=1e-4, layout=layout),
        feed, scale, bias,
    )
    want = _normalized(x, (2, 3), 1e-4) * scale.astype(np.float64)[:, None, None] + bias.astype(np.float64)[:, None, None]
    _close(got, want.transpose(0, 2, 3, 1) if layout == "nhwc" else want, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_layer_normalization_unsorted_axes_and_defaults(nocache_context: Any, rng: np.random.Generator, dtype: str) -> None:
    x = rng.standard_normal((3, 2, 4)).astype(dtype)
    scale = rng.standard_normal((4, 3)).astype(dtype)  # dims of axes [2, 0], in that order
    bias = rng.standard_normal((4, 3)).astype(dtype)
    got = _run(nocache_context, lambda b, v, s, c: b.layer_normalization(v, axes=[2, 0], scale=s, bias=c), x, scale, bias)
    want = _normalized(x, (0, 2), 1e-5) * scale.T.astype(np.float64)[:, None, :] + bias.T.astype(np.float64)[:, None, :]
    _close(got, want, dtype)
    got = _run(nocache_context, lambda b, v: b.layer_normalization(v, epsilon=1e-2), x)
    _close(got, _normalized(x, (1, 2), 1e-2), dtype)


def test_layer_normalization_without_axes(nocache_context: Any) -> None:
    x = np.array(4.0, np.float32)
    got = _run(nocache_context, lambda b, v: b.layer_normalization(v), x)
    _close(got, np.array(0.0), "float32")
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    bias = np.float32(0.25)
    got = _run(nocache_context, lambda b, v: b.layer_normalization(v, axes=[], bias=b.constant(bias)), x)
    _close(got, np.full((2, 3), 0.25), "float32")


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_gemm_options_and_c_broadcast(nocache_context: Any, rng: np.random.Generator, dtype: str) -> None:
    a = rng.standard_normal((4, 3)).astype(dtype)  # transposed: [3, 4]
    b_ = rng.standard_normal((5, 4)).astype(dtype)  # transposed: [4, 5]
    for c in (rng.standard_normal(5).astype(dtype), rng.standard_normal((3, 1)).astype(dtype), np.asarray(1.5, dtype)):
        got = _run(
            nocache_context,
            lambda b, x, y, z: b.gemm(x, y, c=z, alpha=0.5, beta=-2.0, a_transpose=True, b_transpose=True),
            a, b_, c,
        )
        want = 0.5 * a.T.astype(np.float64) @ b_.T.astype(np.float64) - 2.0 * c.astype(np.float64)
        _close(got, want, dtype)


def test_matmul_broadcasts_batch_dimensions(nocache_context: Any, rng: np.random.Generator) -> None:
    a = rng.standard_normal((2, 1, 3, 4)).astype(np.float32)
    b_ = rng.standard_normal((5, 4, 2)).astype(np.float32)
    got = _run(nocache_context, lambda b, x, y: b.matmul(x, y), a, b_)
    _close(got, a.astype(np.float64) @ b_.astype(np.float64), "float32")


def _x(b: Any, shape: list[int], dt: str = "float32", name: str = "x") -> Any:
    return b.input(name, shape, dt)


VALIDATION = [
    (lambda b: b.matmul(_x(b, [3]), _x(b, [3, 2], name="y")), ValidationError, r"matmul: a must have rank >= 2; found rank 1"),
    (lambda b: b.matmul(_x(b, [2, 3, 4]), _x(b, [3, 4, 2], name="y")), ValidationError,
     r"matmul: shapes of a \[2\] and b \[3\] are not broadcastable"),
    (lambda b: b.gemm(_x(b, [2, 3]), _x(b, [3, 4], name="y"), c=_x(b, [3, 4], name="c")), ValidationError,
     r"gemm: shapes of c \[3, 4\] and output \[2, 4\] are not broadcastable"),
    (lambda b: b.gemm(_x(b, [2, 3]), _x(b, [2, 4], name="y")), ValidationError,
     r"gemm: inner dimensions differ: a is \[2, 3\], b is \[2, 4\]"),
    (lambda b: b.gemm(_x(b, [2, 3]), _x(b, [3, 4], name="y"), alpha="x"), WebNNTypeError, r"gemm: alpha must be a number"),
    (lambda b: b.batch_normalization(_x(b, [2, 3]), _x(b, [3], name="m"), _x(b, [2], name="v")), ValidationError,
     r"batchNormalization: variance must have shape \[3\] \(input dimension 1\); found \[2\]"),
    (lambda b: b.batch_normalization(_x(b, [2, 3]), _x(b, [3], name="m"), _x(b, [3], name="v"), axis=2),
     ValidationError, r"batchNormalization: axis must be in the range \[0, 2\); found 2"),
    (lambda b: b.instance_normalization(_x(b, [2, 3, 4])), ValidationError,
     r"instanceNormalization: input must have rank 4; found rank 3"),
    (lambda b: b.instance_normalization(_x(b, [1, 2, 3, 4]), layout="nhwc", scale=_x(b, [2], name="s")),
     ValidationError, r"instanceNormalization: scale must have shape \[4\] \(the input channels\); found \[2\]"),
    (lambda b: b.layer_normalization(_x(b, [2, 3, 4]), axes=[2, 0], scale=_x(b, [2, 4], name="s")),
     ValidationError, r"layerNormalization: scale must have shape \[4, 2\] \(the input's axes \[2, 0\]\)"),
    (lambda b: b.layer_normalization(_x(b, [2, 3], "int32")), WebNNTypeError,
     r"layerNormalization: input data type must be one of \[float16, float32\]; found int32"),
    (lambda b: b.layer_normalization(_x(b, [2, 3]), epsilon="Infinity"), WebNNTypeError,
     r"layerNormalization: epsilon must be a finite number"),
]


@pytest.mark.parametrize(("make", "exc", "pattern"), VALIDATION)
def test_validation_messages(builder: Any, make: Any, exc: type, pattern: str) -> None:
    with pytest.raises(exc, match=pattern):
        make(builder)


def test_pywebnn_positional_order(nocache_context: Any, rng: np.random.Generator) -> None:
    """pywebnn orders batch_normalization's options (scale, bias, epsilon, axis)."""
    x = rng.standard_normal((2, 3)).astype(np.float32)
    mean, var = np.zeros(2, np.float32), np.full(2, 4.0, np.float32)
    got = _run(nocache_context, lambda b, v, m, s: b.batch_normalization(v, m, s, None, None, 0.0, 0), x, mean, var)
    _close(got, x.astype(np.float64) / 2.0, "float32")
    got = _run(nocache_context, lambda b, v: b.layer_normalization(v, None, None, 1e-3, [1]), x)
    _close(got, _normalized(x, (1,), 1e-3), "float32")
