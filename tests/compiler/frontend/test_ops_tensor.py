"""Shape/layout and gather/scatter operators: numerics against numpy, validation messages.

Data movement is exact, so every comparison here is exact (tolerance 0), for several data
types, including the ones that take a different lowering (uint64 triangular, symmetric pad).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from webnnc.compiler.errors import ValidationError, WebNNTypeError


def _run(context: Any, build: Callable[..., Any], *arrays: np.ndarray) -> list[np.ndarray]:
    """Build ``build(builder, *inputs)`` over graph inputs holding ``arrays``; return outputs."""
    b = context.create_graph_builder()
    inputs = [b.input(f"x{i}", list(a.shape), str(a.dtype)) for i, a in enumerate(arrays)]
    result = build(b, *inputs)
    outs = result if isinstance(result, list) else [result]
    graph = b.build({f"y{i}": o for i, o in enumerate(outs)})
    got = context.compute(graph, {f"x{i}": a for i, a in enumerate(arrays)})
    return [got[f"y{i}"] for i in range(len(outs))]


def _exact(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    np.testing.assert_array_equal(actual, expected)


@pytest.mark.parametrize("dtype", ["float32", "int8", "uint64"])
def test_shape_ops_match_numpy(nocache_context: Any, rng: np.random.Generator, dtype: str) -> None:
    x = rng.integers(-50 if dtype != "uint64" else 0, 50, size=(3, 4, 5)).astype(dtype)
    outs = _run(
        nocache_context,
        lambda b, v: [
            b.expand(b.slice(v, [0, 0, 0], [1, 4, 5]), [2, 3, 4, 5]),
            b.reverse(v, axes=[0, 2]),
            b.reverse(v),
            b.slice(v, [1, 0, 1], [2, 4, 4], strides=[1, 3, 2]),
            b.tile(v, [1, 2, 1]),
            b.transpose(v, permutation=[2, 0, 1]),
            b.triangular(v, upper=False, diagonal=-1),
            b.triangular(v, diagonal=2),
            b.identity(v),
            b.reshape(v, [5, 12]),
        ],
        x,
    )
    expected = [
        np.broadcast_to(x[0:1], (2, 3, 4, 5)),
        x[::-1, :, ::-1],
        x[::-1, ::-1, ::-1],
        x[1:3, 0:4:3, 1:5:2],
        np.tile(x, (1, 2, 1)),
        x.transpose(2, 0, 1),
        np.tril(x, -1),
        np.triu(x, 2),
        x,
        x.reshape(5, 12),
    ]
    for got, want in zip(outs, expected, strict=True):
        _exact(got, np.ascontiguousarray(want))


def test_split_and_concat(nocache_context: Any, rng: np.random.Generator) -> None:
    x = rng.standard_normal((2, 6, 3)).astype(np.float32)
    parts = _run(nocache_context, lambda b, v: b.split(v, [1, 3, 2], axis=1), x)
    for got, want in zip(parts, np.split(x, [1, 4], axis=1), strict=True):
        _exact(got, want)
    thirds = _run(nocache_context, lambda b, v: b.split(v, 3, axis=1), x)
    assert [p.shape for p in thirds] == [(2, 2, 3)] * 3
    (joined,) = _run(nocache_context, lambda b, v: b.concat(b.split(v, 2, axis=1)[::-1], 1), x)
    _exact(joined, np.concatenate([x[:, 3:], x[:, :3]], axis=1))


@pytest.mark.parametrize(
    ("mode", "np_mode"), [("constant", "constant"), ("edge", "edge"), ("reflection", "reflect"), ("symmetric", "symmetric")]
)
@pytest.mark.parametrize("dtype", ["float32", "int32"])
def test_pad_modes_match_numpy(nocache_context: Any, rng: np.random.Generator, mode: str, np_mode: str, dtype: str) -> None:
    x = rng.integers(-9, 9, size=(3, 4)).astype(dtype)
    begin, end = [2, 0], [1, 3]
    (got,) = _run(nocache_context, lambda b, v: b.pad(v, begin, end, mode=mode, value=7), x)
    kwargs: dict[str, Any] = {"constant_values": 7} if mode == "constant" else {}
    _exact(got, np.pad(x, list(zip(begin, end, strict=True)), mode=np_mode, **kwargs))


def test_pad_constant_infinity_and_full_symmetric(nocache_context: Any) -> None:
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    (inf_pad, sym) = _run(
        nocache_context,
        lambda b, v: [b.pad(v, [1, 0], [0, 1], value="-Infinity"), b.pad(v, [2, 3], [2, 3], mode="symmetric")],
        x,
    )
    _exact(inf_pad, np.pad(x, [(1, 0), (0, 1)], constant_values=-np.inf))
    _exact(sym, np.pad(x, [(2, 2), (3, 3)], mode="symmetric"))


def test_scalar_transpose_and_reshape(nocache_context: Any) -> None:
    x = np.array(3.5, np.float32)
    (t, r) = _run(nocache_context, lambda b, v: [b.transpose(v), b.reshape(v, [1, 1])], x)
    _exact(t, x)
    _exact(r, x.reshape(1, 1))


@pytest.mark.parametrize("index_type", ["int32", "uint32", "int64"])
def test_gathers_match_numpy_with_clamped_indices(nocache_context: Any, rng: np.random.Generator, index_type: str) -> None:
    x = rng.standard_normal((4, 3, 2)).astype(np.float32)
    raw = np.array([[0, 3], [2, 9]]) if index_type == "uint32" else np.array([[0, -1], [2, 9]])
    idx = raw.astype(index_type)
    along = rng.integers(0, 4, size=(5, 3, 2)).astype(index_type)
    nd = np.array([[0, 2], [3, 1], [1, 0]]).astype(index_type)
    outs = _run(
        nocache_context,
        lambda b, v: [
            b.gather(v, b.constant(idx)),
            b.gather(v, b.constant(idx[0]), axis=1),
            b.gather_elements(v, b.constant(along)),
            b.gather_nd(v, b.constant(nd)),
        ],
        x,
    )
    clamped = np.clip(raw.astype(np.int64), -4, 3)
    _exact(outs[0], x[clamped])
    _exact(outs[1], np.take(x, np.clip(raw[0].astype(np.int64), -3, 2), axis=1))
    _exact(outs[2], np.take_along_axis(x, along.astype(np.int64), axis=0))
    _exact(outs[3], np.stack([x[i, j] for i, j in nd.astype(np.int64)]))


def test_scatters_match_numpy(nocache_context: Any, rng: np.random.Generator) -> None:
    x = rng.integers(0, 100, size=(3, 4)).astype(np.int64)
    idx = np.array([[2, 0, 1, 2]], np.int32)
    upd = np.array([[-1, -2, -3, -4]], np.int64)
    nd = np.array([[2], [0]], np.int64)
    rows = np.array([[7, 7, 7, 7], [8, 8, 8, 8]], np.int64)
    (elements, slices) = _run(
        nocache_context,
        lambda b, v: [
            b.scatter_elements(v, b.constant(idx), b.constant(upd), axis=0),
            b.scatter_nd(v, b.constant(nd), b.constant(rows)),
        ],
        x,
    )
    want = x.copy()
    want[idx[0], np.arange(4)] = upd[0]
    _exact(elements, want)
    want = x.copy()
    want[[2, 0]] = rows
    _exact(slices, want)


def _f(b: Any, shape: list[int], dt: str = "float32", name: str = "x") -> Any:
    return b.input(name, shape, dt)


VALIDATION = [
    (lambda b: b.expand(_f(b, [2, 3]), [3, 3]), ValidationError,
     r"expand: input \[2, 3\] cannot be broadcast to new_shape \[3, 3\] \(dimension -2: 2 vs 3\)"),
    (lambda b: b.expand(_f(b, [2, 3]), [3]), ValidationError, r"expand: new_shape \[3\] has lower rank"),
    (lambda b: b.pad(_f(b, [2, 3]), [1], [1, 1]), ValidationError,
     r"pad: beginning_padding must have 2 elements; found 1"),
    (lambda b: b.pad(_f(b, [2, 3]), [2, 0], [0, 0], mode="reflection"), ValidationError,
     r"pad: reflection padding of dimension 0 \(size 2\) must be at most 1; found beginning 2"),
    (lambda b: b.pad(_f(b, [2, 3]), [0, 0], [0, 0], mode="wrap"), WebNNTypeError,
     r"pad: mode must be one of \['constant', 'edge', 'reflection', 'symmetric'\]; found 'wrap'"),
    (lambda b: b.pad(_f(b, [2], "int32"), [1], [1], value="NaN"), WebNNTypeError,
     r"pad: value nan cannot be represented in int32"),
    (lambda b: b.reverse(_f(b, [2, 3]), axes=[1, 1]), ValidationError, r"reverse: axes must not repeat"),
    (lambda b: b.reverse(_f(b, [2, 3]), axes=[2]), ValidationError, r"reverse: axes must be in the range \[0, 2\)"),
    (lambda b: b.slice(_f(b, [4]), [2], [3]), ValidationError,
     r"slice: dimension 0 \(size 4\): starts 2 \+ sizes 3 runs past the end"),
    (lambda b: b.slice(_f(b, [4]), [0], [2], strides=[0]), ValidationError, r"slice: strides values must be >= 1"),
    (lambda b: b.split(_f(b, [5]), 2), ValidationError,
     r"split: splits \(2\) must be a positive divisor of dimension 0 \(size 5\)"),
    (lambda b: b.split(_f(b, [5]), [2, 2]), ValidationError, r"split: splits \[2, 2\] must sum to dimension 0 \(size 5\)"),
    (lambda b: b.split(_f(b, [5]), 1, axis=1), ValidationError, r"split: axis must be in the range \[0, 1\); found 1"),
    (lambda b: b.tile(_f(b, [2, 3]), [2]), ValidationError, r"tile: repetitions must have 2 elements; found 1"),
    (lambda b: b.triangular(_f(b, [3])), ValidationError, r"triangular: input rank must be in \[2, 8\]; found rank 1"),
    (lambda b: b.triangular(_f(b, [3, 3]), diagonal=1.5), WebNNTypeError, r"triangular: diagonal must be an integer"),
    (lambda b: b.concat([_f(b, [])], 0), ValidationError, r"concat: inputs must have rank >= 1"),
    (lambda b: b.identity(_f(b, [2]), alpha=1), WebNNTypeError, r"identity: unknown options \['alpha'\]"),
    (lambda b: b.transpose(b.constant(np.zeros(2, np.int8), data_type="int4")), WebNNTypeError,
     r"unsupported data type for transpose on onnx-cpu: input is int4"),
    (lambda b: b.gather(_f(b, [2, 3]), _f(b, [2], "float32", "i")), WebNNTypeError,
     r"gather: indices data type must be one of \[int32, int64, uint32\]; found float32"),
    (lambda b: b.gather(_f(b, []), _f(b, [2], "int32", "i")), ValidationError, r"gather: input must have rank >= 1"),
    (lambda b: b.gather(_f(b, [2, 3]), _f(b, [2], "int32", "i"), axis=2), ValidationError,
     r"gather: axis must be in the range \[0, 2\); found 2"),
    (lambda b: b.gather_elements(_f(b, [2, 3]), _f(b, [2, 4], "int32", "i"), axis=0), ValidationError,
     r"gatherElements: indices shape \[2, 4\] must equal the input shape \[2, 3\] in every dimension but axis 0"),
    (lambda b: b.gather_elements(_f(b, [2, 3]), _f(b, [2], "int32", "i")), ValidationError,
     r"gatherElements: indices must have the input's rank \(2\); found rank 1"),
    (lambda b: b.gather_nd(_f(b, [2, 3]), _f(b, [1, 3], "int32", "i")), ValidationError,
     r"gatherND: the last dimension of indices \(3\) must not exceed the input rank \(2\)"),
    (lambda b: b.scatter_nd(_f(b, [2, 3]), _f(b, [1, 1], "int64", "i"), _f(b, [1, 2], "float32", "u")), ValidationError,
     r"scatterND: updates must have shape \[1, 3\]; found \[1, 2\]"),
    (lambda b: b.scatter_elements(_f(b, [2, 3]), _f(b, [1, 3], "int64", "i"), _f(b, [1, 3], "float16", "u")),
     WebNNTypeError, r"scatterElements: updates data type \(float16\) must match input \(float32\)"),
]


@pytest.mark.parametrize(("make", "exc", "pattern"), VALIDATION)
def test_validation_messages(builder: Any, make: Any, exc: type, pattern: str) -> None:
    with pytest.raises(exc, match=pattern):
        make(builder)


# ------------------------------------------------------------------ support table honesty
_MOVE_OPS: dict[str, Callable[..., Any]] = {
    # (builder, x [2, 3], indices int32 [2], updates [2, 2] and [1] of x's type)
    "concat": lambda b, x, i, u: b.concat([x, x], 0),
    "expand": lambda b, x, i, u: b.expand(x, [2, 2, 3]),
    "gather": lambda b, x, i, u: b.gather(x, i, axis=1),
    "gatherElements": lambda b, x, i, u: b.gather_elements(x, b.reshape(b.tile(i, [2]), [2, 2]), axis=1),
    "gatherND": lambda b, x, i, u: b.gather_nd(x, b.reshape(i, [1, 2])),
    "scatterElements": lambda b, x, i, u: b.scatter_elements(x, b.reshape(b.tile(i, [2]), [2, 2]), u[0], axis=1),
    "scatterND": lambda b, x, i, u: b.scatter_nd(x, b.reshape(i, [1, 2]), u[1]),
    "identity": lambda b, x, i, u: b.identity(x),
    "pad": lambda b, x, i, u: b.pad(x, [1, 0], [0, 1], mode="symmetric"),
    "reshape": lambda b, x, i, u: b.reshape(x, [3, 2]),
    "reverse": lambda b, x, i, u: b.reverse(x),
    "slice": lambda b, x, i, u: b.slice(x, [0, 1], [2, 2], strides=[1, 2]),
    "split": lambda b, x, i, u: b.split(x, [1, 2], axis=1)[1],
    "tile": lambda b, x, i, u: b.tile(x, [1, 2]),
    "transpose": lambda b, x, i, u: b.transpose(x),
    "triangular": lambda b, x, i, u: b.triangular(x, upper=False),
}
_RUNNABLE = ["float32", "float16", "int32", "uint32", "int64", "uint64", "int8", "uint8"]


@pytest.mark.parametrize("dtype", _RUNNABLE)
def test_support_table_types_build_and_run(nocache_context: Any, dtype: str) -> None:
    """Every data type op_support_limits() lists for these operators builds and runs."""
    from webnnc.compiler.ops import op_support_limits

    limits = op_support_limits()
    x = np.arange(1, 7).reshape(2, 3).astype(dtype)
    b = nocache_context.create_graph_builder()
    v = b.input("x", [2, 3], dtype)
    idx = b.constant(np.array([0, 1], np.int32))
    updates = (b.constant(np.full((2, 2), 9, dtype)), b.constant(np.full(1, 9, dtype)))
    outs = {}
    for op, make in _MOVE_OPS.items():
        first = "inputs" if op == "concat" else "input"
        assert dtype in limits[op][first]["dataTypes"], op
        outs[op] = make(b, v, idx, updates)
    got = nocache_context.compute(b.build(outs), {"x": x})
    for op in _MOVE_OPS:
        assert got[op].dtype == np.dtype(dtype), op
    _exact(got["triangular"], np.tril(x))
    _exact(got["pad"], np.pad(x, [(1, 0), (0, 1)], mode="symmetric"))
    _exact(got["gather"], x[:, [0, 1]])
    want = x.copy()
    want[0, 1] = 9  # one index tuple (0, 1)
    _exact(got["scatterND"], want)


@pytest.mark.parametrize("op", sorted(_MOVE_OPS))
def test_support_table_int4_is_refused_at_build_time(builder: Any, op: str) -> None:
    from webnnc.compiler.ops import op_support_limits

    first = "inputs" if op == "concat" else "input"
    assert "int4" not in op_support_limits()[op][first]["dataTypes"]
    x = builder.constant(np.ones((2, 3), np.int8), data_type="int4")
    idx = builder.constant(np.array([0, 1], np.int32))
    updates = (builder.constant(np.ones((2, 2), np.int8), data_type="int4"),
               builder.constant(np.ones(1, np.int8), data_type="int4"))
    with pytest.raises(WebNNTypeError, match=rf"unsupported data type for {op} on onnx-cpu"):
        _MOVE_OPS[op](builder, x, idx, updates)


def test_pywebnn_positional_forms(nocache_context: Any) -> None:
    """pywebnn's ``pad(input, padding, mode, value)`` (begin + end in one list) and its
    positional options for triangular, gather, slice and split."""
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    outs = _run(
        nocache_context,
        lambda b, v: [
            b.pad(v, [1, 0, 0, 2], "constant", 5.0),
            b.pad(v, [0, 1, 1, 0], mode="edge"),
            b.triangular(v, False, 1),
            b.gather(v, b.constant(np.array([3, 0], np.int64)), 1),
            b.slice(v, [0, 1], [3, 3], [2, 2]),
            b.split(v, 2, 1)[1],
        ],
        x,
    )
    _exact(outs[0], np.pad(x, [(1, 0), (0, 2)], constant_values=5))
    _exact(outs[1], np.pad(x, [(0, 1), (1, 0)], mode="edge"))
    _exact(outs[2], np.tril(x, 1))
    _exact(outs[3], x[:, [3, 0]])
    _exact(outs[4], x[0:3:2, 1:4:2])
    _exact(outs[5], x[:, 2:])
