"""Algebraic simplification and the value-range analysis behind it."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from tests.compiler.passes._helpers import build, check_pass, ops
from webnnc.compiler.passes import DeadCodeEliminationPass, SimplifyAlgebraPass
from webnnc.compiler.passes.value_range import Range, value_ranges

F32 = np.float32


def _simplify(make: Any, **kw: Any) -> Any:
    return check_pass(make, SimplifyAlgebraPass(), DeadCodeEliminationPass(), **kw)


def test_w2_step_keeps_only_the_first_relu() -> None:
    def make(b: Any) -> dict[str, Any]:
        x = b.input("x", [1, 3, 4, 4], "float32")
        for _ in range(3):
            x = b.relu(b.add(x, x))
            x = b.relu(b.mul(x, x))
        return {"y": x}

    g = _simplify(make, steps=2)
    # x+x is unbounded; every later value is a square or a sum of non-negatives
    assert ops(g).count("relu") == 1
    assert ops(g)[:2] == ["add", "relu"]


def test_infinities_survive_the_rewrite() -> None:
    def make(b: Any) -> dict[str, Any]:
        x = b.input("x", [6], "float32")
        y = b.relu(b.add(x, x))
        for _ in range(4):
            y = b.relu(b.mul(y, y))
        return {"y": y}

    x = np.array([1e30, -1e30, np.inf, -np.inf, 0.5, np.nan], F32)
    g = _simplify(make, feeds={"x": x})
    assert ops(g) == ["add", "relu", "mul", "mul", "mul", "mul"]


@pytest.mark.parametrize(
    ("activation", "source", "expected"),
    [
        ("relu", "exp", ["exp", "add"]),
        ("relu", "sigmoid", ["sigmoid", "add"]),
        ("relu", "abs", ["abs", "add"]),
        ("relu", "square", ["mul", "add"]),
        ("relu", "relu", ["relu", "add"]),
        ("relu", "tanh", ["tanh", "relu", "add"]),
        ("relu", "neg", ["neg", "relu", "add"]),
        ("clamp01", "sigmoid", ["sigmoid", "add"]),
        ("clamp01", "exp", ["exp", "clamp", "add"]),
        ("clamp6", "relu_clamp", ["clamp", "add"]),  # relu+clamp(1,5) merge, then [1,5] fits [0,6]
    ],
)
def test_noop_activation_by_value_range(activation: str, source: str, expected: list[str]) -> None:
    def make(b: Any) -> dict[str, Any]:
        x = b.input("x", [2, 5], "float32")
        src = {
            "square": lambda: b.mul(x, x),
            "relu_clamp": lambda: b.clamp(b.relu(x), min_value=1.0, max_value=5.0),
        }.get(source, lambda: getattr(b, source)(x))()
        act = {
            "relu": lambda v: b.relu(v),
            "clamp01": lambda v: b.clamp(v, min_value=0.0, max_value=1.0),
            "clamp6": lambda v: b.clamp(v, min_value=0.0, max_value=6.0),
        }[activation]
        return {"y": b.add(act(src), x)}

    assert ops(_simplify(make, steps=2)) == expected


def test_clamp_chains_merge_into_one_clamp() -> None:
    def make(b: Any) -> dict[str, Any]:
        x = b.input("x", [2, 8], "float32")
        y = b.clamp(b.clamp(x, min_value=-3.0, max_value=2.0), min_value=-1.0, max_value=5.0)
        z = b.relu(b.clamp(x, min_value=-1.0, max_value=6.0))
        return {"y": b.add(y, z)}

    x = np.linspace(-8, 8, 16, dtype=F32).reshape(2, 8)
    g = _simplify(make, feeds={"x": x})
    clamps = [(n.attributes["min_value"], n.attributes["max_value"]) for n in g.nodes if n.op_type == "clamp"]
    assert sorted(clamps) == [(-1.0, 2.0), (0.0, 6.0)]
    assert "relu" not in ops(g)


def test_disjoint_clamps_are_left_alone() -> None:
    def make(b: Any) -> dict[str, Any]:
        x = b.input("x", [4], "float32")
        return {"y": b.clamp(b.clamp(x, min_value=0.0, max_value=1.0), min_value=2.0, max_value=3.0)}

    assert ops(_simplify(make)) == ["clamp", "clamp"]


def test_reshape_and_transpose_chains() -> None:
    def make(b: Any) -> dict[str, Any]:
        x = b.input("x", [2, 3, 4], "float32")
        r = b.reshape(b.reshape(b.reshape(x, [6, 4]), [24]), [4, 6])
        back = b.reshape(b.reshape(x, [24]), [2, 3, 4])  # round trip: nothing left
        t = b.transpose(b.transpose(x, [1, 2, 0]), [2, 0, 1])  # composes to the identity
        t2 = b.transpose(b.transpose(x, [1, 0, 2]), [0, 2, 1])
        return {"r": b.relu(r), "back": b.relu(back), "t": b.relu(t), "t2": b.relu(t2)}

    g = _simplify(make)
    assert sorted(ops(g)) == ["relu"] * 4 + ["reshape", "transpose"]
    (tr,) = [n for n in g.nodes if n.op_type == "transpose"]
    assert tr.attributes["permutation"] == (1, 2, 0)
    (rs,) = [n for n in g.nodes if n.op_type == "reshape"]
    assert rs.inputs[0] is g.inputs[0] and rs.outputs[0].shape == (4, 6)


def test_neutral_elements_and_double_negation() -> None:
    def make(b: Any) -> dict[str, Any]:
        x = b.input("x", [2, 3], "float32")
        zero = b.constant(np.zeros([3], F32))
        one = b.constant(np.ones([1, 1], F32))
        y = b.mul(one, b.add(x, zero))
        y = b.div(b.sub(y, zero), one)
        y = b.neg(b.neg(b.pow(y, one)))
        return {"y": b.relu(y)}

    assert ops(_simplify(make)) == ["relu"]


def test_a_neutral_element_that_broadcasts_is_kept() -> None:
    def make(b: Any) -> dict[str, Any]:
        x = b.input("x", [3], "float32")
        return {"y": b.add(x, b.constant(np.zeros([2, 3], F32)))}  # output is [2, 3]

    assert ops(_simplify(make)) == ["add"]


def test_identity_is_removed() -> None:
    def make(b: Any) -> dict[str, Any]:
        if not hasattr(b, "identity"):
            pytest.skip("the builder has no identity")
        x = b.input("x", [3], "float32")
        return {"y": b.exp(b.identity(b.relu(x)))}

    assert ops(_simplify(make)) == ["relu", "exp"]


def test_value_ranges() -> None:
    def make(b: Any) -> dict[str, Any]:
        x = b.input("x", [3], "float32")
        c = b.constant(np.array([-1.0, 2.0, 0.5], F32))
        return {
            "sq": b.mul(x, x), "sig": b.sigmoid(x), "sum": b.add(b.relu(x), b.exp(x)),
            "cl": b.clamp(b.add(x, c), min_value=-2.0, max_value=3.0), "neg": b.neg(b.sigmoid(x)),
            "prod": b.mul(c, b.sigmoid(x)), "free": b.add(x, c),
        }

    g = build(make)
    ranges = value_ranges(g)
    got = {name: ranges.get(id(v)) for name, v in g.outputs.items()}
    assert got["sq"] == Range(0.0, math.inf)
    assert got["sig"] == Range(0.0, 1.0)
    assert got["sum"] == Range(0.0, math.inf)
    assert got["cl"] == Range(-2.0, 3.0)
    assert got["neg"] == Range(-1.0, 0.0)
    assert got["prod"] == Range(-1.0, 2.0)
    assert got["free"] is None  # unbounded


def test_idempotent() -> None:
    def make(b: Any) -> dict[str, Any]:
        x = b.input("x", [3], "float32")
        return {"y": b.relu(b.relu(b.mul(x, x)))}

    g = build(make)
    assert SimplifyAlgebraPass()(g).modified
    assert not SimplifyAlgebraPass()(g).modified


@pytest.mark.parametrize(
    ("method", "args", "options"),
    [
        ("slice", ([0, 0], [2, 3]), {}),
        ("tile", ([1, 1],), {}),
        ("reverse", (), {"axes": []}),
        ("pad", ([0, 0], [0, 0]), {}),
        ("expand", ([2, 3],), {}),
        ("cast", ("float32",), {}),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_data_movement_that_changes_nothing_is_removed(method: str, args: tuple[Any, ...], options: dict[str, Any]) -> None:
    def make(b: Any) -> dict[str, Any]:
        if not hasattr(b, method):
            pytest.skip(f"the builder has no {method}")
        x = b.input("x", [2, 3], "float32")
        return {"y": b.exp(getattr(b, method)(x, *args, **options))}

    assert ops(_simplify(make)) == ["exp"]


def test_single_input_concat_and_a_real_slice() -> None:
    def make(b: Any) -> dict[str, Any]:
        if not hasattr(b, "slice"):
            pytest.skip("the builder has no slice")
        x = b.input("x", [2, 3], "float32")
        return {"y": b.exp(b.concat([x], 1)), "z": b.neg(b.slice(x, [0, 1], [2, 2]))}

    assert sorted(ops(_simplify(make))) == ["exp", "neg", "slice"]
