"""Shared weights: a matmul by a transposed copy of a constant reads the constant itself."""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.compiler.passes._helpers import check_pass, ops
from webnnc.compiler.passes import DeadCodeEliminationPass, ShareTransposedWeightsPass

_W = np.random.default_rng(3).standard_normal((300, 256)).astype(np.float32)


def _tied(b: Any) -> dict[str, Any]:
    # the token embedding read by a gather and, transposed, by the output projection
    x = b.input("x", [1, 5, 256], "float32")
    ids = b.input("ids", [5], "int32")
    emb = b.reshape(b.gather(b.constant(_W), ids, axis=0), [1, 5, 256])
    return {"y": b.matmul(b.add(x, emb), b.constant(np.ascontiguousarray(_W.T)))}


def test_transposed_copy_is_dropped_and_read_through_gemm() -> None:
    feeds = {"x": np.random.default_rng(0).standard_normal([1, 5, 256]).astype(np.float32),
             "ids": np.array([0, 7, 1, 299, 4], np.int32)}
    g = check_pass(_tied, ShareTransposedWeightsPass(), DeadCodeEliminationPass(), feeds=feeds)
    assert [c.shape for c in g.constants] == [(300, 256)]
    assert "matmul" not in ops(g)
    gemm = next(n for n in g.nodes if n.op_type == "gemm")
    assert gemm.attributes["b_transpose"] is True


def test_a_different_weight_is_left_alone() -> None:
    other = np.ascontiguousarray(_W.T).copy()
    other[5, 7] += 1.0  # one element differs

    def make(b: Any) -> dict[str, Any]:
        x = b.input("x", [5, 256], "float32")
        ids = b.input("ids", [5], "int32")
        emb = b.gather(b.constant(_W), ids, axis=0)
        return {"y": b.matmul(b.add(x, emb), b.constant(other))}

    g = check_pass(make, ShareTransposedWeightsPass(), DeadCodeEliminationPass())
    assert len(g.constants) == 2 and "matmul" in ops(g)


def test_copies_read_only_by_matmuls_do_not_swap() -> None:
    def make(b: Any) -> dict[str, Any]:
        x = b.input("x", [4, 256], "float32")
        z = b.input("z", [4, 300], "float32")
        return {"y": b.matmul(x, b.constant(np.ascontiguousarray(_W.T))), "u": b.matmul(z, b.constant(_W))}

    g = check_pass(make, ShareTransposedWeightsPass(), DeadCodeEliminationPass(), steps=3)
    assert ops(g).count("matmul") == 2


def test_transposed_comparison_is_exact_across_tiles() -> None:
    from webnnc.compiler.passes.shared_weights import _TILE, _same_transposed

    rng = np.random.default_rng(0)
    rows, cols = _TILE
    for dtype in (np.float32, np.float16, np.float64, np.int8):
        a = (rng.standard_normal((cols + 5, rows + 3)) * 10).astype(dtype)  # not a multiple of a tile
        b = np.ascontiguousarray(a.T)
        assert _same_transposed(a, b)
        for i, j in ((0, 0), (rows + 2, cols + 4), (rows - 1, cols)):  # first, last, a tile edge
            c = b.copy()
            c[i, j] = c[i, j] + 1 if dtype == np.int8 else -c[i, j] if c[i, j] else 1
            assert not _same_transposed(a, c), (dtype, i, j)
    # bitwise: a NaN payload or a signed zero differs, as equality on floats would not see
    a = np.zeros((4, 3), np.float32)
    b = np.ascontiguousarray(a.T)
    b[1, 2] = -0.0
    assert not _same_transposed(a, b)
    a[2, 1] = np.nan
    b = np.ascontiguousarray(a.T)
    assert _same_transposed(a, b)  # identical NaN bits compare equal
    b.view(np.uint32)[1, 2] ^= 1  # another NaN payload
    assert np.isnan(b[1, 2]) and not _same_transposed(a, b)
