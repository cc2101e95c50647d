"""Operator fusion: each rule's structure and numerics, and why a rule did not fire."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.compiler.passes._helpers import build, check_pass, ops
from webnnc.compiler.passes import DeadCodeEliminationPass, FuseOperatorsPass

F32 = np.float32


class _Seeded:
    """Random weights that restart from the same seed for each build of a graph."""

    def __init__(self) -> None:
        self.rng = np.random.default_rng(11)

    def __call__(self, *shape: int) -> np.ndarray:
        return self.rng.standard_normal(shape).astype(F32)


def _fuse(make: Any, **kw: Any) -> Any:
    return check_pass(make, FuseOperatorsPass(), DeadCodeEliminationPass(), **kw)


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
@pytest.mark.parametrize("with_bias", [False, True])
def test_bias_add_folds_into_conv2d(layout: str, with_bias: bool) -> None:
    def make(b: Any) -> dict[str, Any]:
        _w = _Seeded()
        shape = [1, 3, 6, 6] if layout == "nchw" else [1, 6, 6, 3]
        x = b.input("x", shape, "float32")
        filt = b.constant(_w(4, 3, 3, 3) if layout == "nchw" else _w(4, 3, 3, 3).transpose(0, 2, 3, 1).copy())
        opts: dict[str, Any] = {"padding": [1, 1, 1, 1], "input_layout": layout}
        if layout == "nhwc":
            opts["filter_layout"] = "ohwi"
        if with_bias:
            opts["bias"] = b.constant(_w(4))
        y = b.conv2d(x, filt, **opts)
        c = b.constant(_w(1, 4, 1, 1) if layout == "nchw" else _w(4))
        return {"y": b.add(c, y)}

    g = _fuse(make)
    assert ops(g) == ["conv2d"]
    assert g.nodes[0].inputs[2] is not None and g.nodes[0].inputs[2].shape == (4,)


def test_bias_add_that_is_not_per_channel_stays() -> None:
    def make(b: Any) -> dict[str, Any]:
        _w = _Seeded()
        x = b.input("x", [1, 3, 6, 6], "float32")
        y = b.conv2d(x, b.constant(_w(4, 3, 3, 3)))
        return {"y": b.add(y, b.constant(_w(1, 1, 4, 1)))}

    pass_ = FuseOperatorsPass(trace=True)
    g = build(make)
    result = pass_(g)
    assert not result.modified and ops(g) == ["conv2d", "add"]
    assert any("not per output channel" in m for m in result.details["not_fused"])


def test_conv_with_two_users_is_not_fused() -> None:
    def make(b: Any) -> dict[str, Any]:
        _w = _Seeded()
        x = b.input("x", [1, 3, 6, 6], "float32")
        y = b.conv2d(x, b.constant(_w(4, 3, 3, 3)))
        return {"y": b.add(y, b.constant(_w(1, 4, 1, 1))), "z": b.relu(y)}

    result = FuseOperatorsPass(trace=True)(build(make))
    assert not result.modified
    assert any("other uses" in m for m in result.details["not_fused"])


def test_batch_normalization_folds_into_conv2d() -> None:
    def make(b: Any) -> dict[str, Any]:
        _w = _Seeded()
        x = b.input("x", [1, 3, 8, 8], "float32")
        y = b.conv2d(x, b.constant(_w(5, 3, 3, 3)), padding=[1, 1, 1, 1], bias=b.constant(_w(5)))
        mean, var = b.constant(_w(5)), b.constant(_w.rng.uniform(0.5, 2.0, 5).astype(F32))
        y = b.batch_normalization(y, mean, var, scale=b.constant(_w(5)), bias=b.constant(_w(5)), epsilon=1e-3)
        return {"y": b.relu(y)}

    g = _fuse(make)
    assert ops(g) == ["conv2d", "relu"]


def test_batch_normalization_of_another_axis_stays() -> None:
    def make(b: Any) -> dict[str, Any]:
        _w = _Seeded()
        x = b.input("x", [1, 3, 4, 4], "float32")
        y = b.conv2d(x, b.constant(_w(4, 3, 1, 1)))
        mean, var = b.constant(_w(4)), b.constant(_w.rng.uniform(0.5, 2.0, 4).astype(F32))
        return {"y": b.batch_normalization(y, mean, var, axis=2)}

    assert ops(_fuse(make)) == ["conv2d", "batchNormalization"]


def test_bias_add_folds_into_gemm() -> None:
    def make(b: Any) -> dict[str, Any]:
        _w = _Seeded()
        x = b.input("x", [2, 8], "float32")
        y = b.gemm(x, b.constant(_w(5, 8)), b.constant(_w(5)), b_transpose=True, beta=0.5)
        return {"y": b.add(y, b.constant(_w(1, 5)))}

    g = _fuse(make)
    assert ops(g) == ["gemm"]
    assert g.nodes[0].attributes["beta"] == 1.0


def test_matmul_add_becomes_gemm() -> None:
    def make(b: Any) -> dict[str, Any]:
        _w = _Seeded()
        x = b.input("x", [3, 8], "float32")
        bias = b.input("bias", [5], "float32")
        return {"y": b.add(b.matmul(x, b.constant(_w(8, 5))), bias)}

    assert ops(_fuse(make)) == ["gemm"]


def test_batched_matmul_add_stays() -> None:
    def make(b: Any) -> dict[str, Any]:
        _w = _Seeded()
        x = b.input("x", [2, 3, 8], "float32")
        return {"y": b.add(b.matmul(x, b.constant(_w(8, 5))), b.constant(_w(5)))}

    assert ops(_fuse(make)) == ["matmul", "add"]


def test_max_min_spellings_become_relu_and_clamp() -> None:
    def make(b: Any) -> dict[str, Any]:
        _w = _Seeded()
        x = b.input("x", [2, 6], "float32")
        zero, six = b.constant(np.zeros([2, 6], F32)), b.constant(np.full([1], 6.0, F32))
        relu = b.max(x, zero)
        relu6 = b.min(b.max(x, zero), six)
        relu6b = b.max(b.min(six, x), zero)
        return {"y": b.add(b.add(relu, relu6), relu6b)}

    x = np.linspace(-10, 10, 12, dtype=F32).reshape(2, 6)
    g = _fuse(make, feeds={"x": x})
    assert sorted(ops(g)) == ["add", "add", "clamp", "clamp", "relu"]
    for n in g.nodes:
        if n.op_type == "clamp":
            assert (n.attributes["min_value"], n.attributes["max_value"]) == (0.0, 6.0)


def test_w3_biases_all_fold() -> None:
    from webnnc.compiler.workloads import w3_mobilenet_v2

    g = build(w3_mobilenet_v2)
    FuseOperatorsPass()(g)
    DeadCodeEliminationPass()(g)
    assert g.op_counts()["conv2d"] == 52
    assert all(n.inputs[2] is not None for n in g.nodes if n.op_type == "conv2d")
    assert g.op_counts()["add"] == 10  # the residual connections


_TO_LAYOUT = {"oihw": (0, 1, 2, 3), "hwio": (2, 3, 1, 0), "ohwi": (0, 2, 3, 1), "ihwo": (1, 2, 3, 0)}


@pytest.mark.parametrize("filter_layout", sorted(_TO_LAYOUT))
@pytest.mark.parametrize("groups", [1, 4])
def test_bias_and_batch_normalization_fold_for_every_filter_layout(filter_layout: str, groups: int) -> None:
    def make(b: Any) -> dict[str, Any]:
        _w = _Seeded()
        x = b.input("x", [1, 4, 5, 5], "float32")
        oihw = _w(8, 4 // groups, 3, 3)
        filt = b.constant(np.ascontiguousarray(oihw.transpose(_TO_LAYOUT[filter_layout])))
        y = b.conv2d(x, filt, padding=[1, 1, 1, 1], groups=groups, filter_layout=filter_layout)
        y = b.add(y, b.constant(_w(1, 8, 1, 1)))
        mean, var = b.constant(_w(8)), b.constant(_w.rng.uniform(0.5, 2.0, 8).astype(F32))
        y = b.batch_normalization(y, mean, var, scale=b.constant(_w(8)), bias=b.constant(_w(8)))
        return {"y": y}

    g = check_pass(make, FuseOperatorsPass(), DeadCodeEliminationPass(), steps=2, accumulates=True)
    assert ops(g) == ["conv2d"]
    assert g.nodes[0].attributes["filter_layout"] == filter_layout
