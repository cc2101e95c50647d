"""Constant folding: structure, numerics (numpy kernels vs ORT), limits, property test."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.compiler.passes._helpers import build, check_pass, ops, run_ort
from webnnc.compiler.ir import DataType, Graph, Node, OperandDescriptor, verify
from webnnc.compiler.passes import FoldConstantsPass
from webnnc.compiler.ops import FOLD_RULES

F32 = np.float32


def _c(b: Any, shape: list[int], lo: float = -2.0, hi: float = 2.0, dtype: Any = F32) -> Any:
    """A random constant, seeded per builder, so both builds of a graph get the same data."""
    rng = b.__dict__.setdefault("_test_rng", np.random.default_rng(7))
    return b.constant(rng.uniform(lo, hi, shape).astype(dtype))


def test_folds_a_constant_subexpression_into_one_constant() -> None:
    def make(b: Any) -> dict[str, Any]:
        x = b.input("x", [2, 3], "float32")
        k = b.mul(b.constant(np.full([2, 3], 3.0, F32)), b.constant(np.full([2, 3], 0.5, F32)))
        return {"y": b.add(x, b.relu(b.neg(k)))}

    g = check_pass(make, FoldConstantsPass())
    assert ops(g) == ["add"]
    folded = g.nodes[0].inputs[1]
    assert folded is not None and folded.const is not None
    np.testing.assert_array_equal(folded.const, np.zeros([2, 3], F32))
    assert len(g.constants) == 1  # the operands of the folded nodes are gone


# (builder method, operand shapes, keyword options) for every operator with a folding rule
# that the builder offers; each case computes op(constants) and adds it to an input, and ORT
# evaluates the unfolded original.
CASES: list[tuple[str, list[list[int]], dict[str, Any]]] = [
    ("add", [[2, 3], [3]], {}),
    ("sub", [[2, 3], [2, 3]], {}),
    ("mul", [[2, 3], [1, 3]], {}),
    ("div", [[2, 3], [2, 3]], {}),
    ("max", [[2, 3], [2, 3]], {}),
    ("min", [[2, 3], [2, 3]], {}),
    ("pow", [[2, 3], [2, 3]], {}),
    ("relu", [[2, 3]], {}),
    ("sigmoid", [[2, 3]], {}),
    ("tanh", [[2, 3]], {}),
    ("exp", [[2, 3]], {}),
    ("abs", [[2, 3]], {}),
    ("neg", [[2, 3]], {}),
    ("sqrt", [[2, 3]], {}),
    ("clamp", [[2, 3]], {"min_value": -0.5, "max_value": 0.75}),
    ("identity", [[2, 3]], {}),
    ("reshape", [[3, 2]], {"new_shape": [2, 3]}),
    ("transpose", [[3, 2]], {}),
    ("gemm", [[2, 4], [3, 4], [3]], {"b_transpose": True, "alpha": 0.5, "beta": 2.0}),
    ("matmul", [[2, 4], [4, 3]], {}),
    ("softmax", [[2, 3]], {"axis": 1}),
    ("reduce_mean", [[2, 3, 4]], {"axes": [2]}),
    ("batch_normalization", [[2, 3], [3], [3], [3], [3]], {"axis": 1, "epsilon": 1e-3}),
    ("sign", [[2, 3]], {}),
    ("round_even", [[2, 3]], {}),
    ("tan", [[2, 3]], {}),
    ("softsign", [[2, 3]], {}),
    ("softplus", [[2, 3]], {}),
    ("hard_swish", [[2, 3]], {}),
    ("elu", [[2, 3]], {"alpha": 0.7}),
    ("leaky_relu", [[2, 3]], {"alpha": 0.1}),
    ("hard_sigmoid", [[2, 3]], {"alpha": 0.3, "beta": 0.4}),
    ("linear", [[2, 3]], {"alpha": 1.5, "beta": -0.25}),
    ("reduce_sum", [[2, 3, 4]], {"axes": [2]}),
    ("reduce_max", [[2, 4, 3]], {"axes": [1]}),
    ("reduce_min", [[4, 2, 3]], {"axes": [0]}),
    ("reduce_product", [[2, 3, 4]], {"axes": [2]}),
    ("reduce_l1", [[2, 3, 4]], {"axes": [2]}),
    ("reduce_l2", [[2, 3, 4]], {"axes": [2]}),
    ("reduce_sum_square", [[2, 3, 4]], {"axes": [2]}),
    ("reduce_log_sum", [[2, 3, 4]], {"axes": [2]}),
    ("reduce_log_sum_exp", [[2, 3, 4]], {"axes": [2]}),
    ("reduce_sum", [[2, 1, 3]], {"axes": [1], "keep_dimensions": False}),
    ("slice", [[4, 7]], {"starts": [1, 0], "sizes": [3, 6], "strides": [2, 2]}),
    ("tile", [[1, 3]], {"repetitions": [2, 1]}),
    ("reverse", [[2, 3]], {"axes": [1]}),
    ("expand", [[1, 3]], {"new_shape": [2, 3]}),
]


@pytest.mark.parametrize(("method", "shapes", "options"), CASES, ids=[c[0] for c in CASES])
def test_fold_rule_matches_onnx_runtime(method: str, shapes: list[list[int]], options: dict[str, Any]) -> None:
    def make(b: Any) -> dict[str, Any]:
        if not hasattr(b, method):
            pytest.skip(f"the builder has no {method}")
        x = b.input("x", [2, 3], "float32")
        positive = ("sqrt", "pow", "div", "batch_normalization", "reduce_log_sum")
        lo = 0.1 if method in positive else -2.0
        args = [_c(b, s, lo=lo) for s in shapes]
        return {"y": b.add(x, getattr(b, method)(*args, **options))}

    g = check_pass(make, FoldConstantsPass())
    assert ops(g) == ["add"], f"{method} was not folded"


def test_comparisons_logic_where_and_split_fold() -> None:
    a = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]], F32)
    c = np.array([[1.0, 1.0, 4.0], [3.0, 5.0, 0.0]], F32)

    def make(b: Any) -> dict[str, Any]:
        for m in ("equal", "greater", "lesser_or_equal", "logical_and", "logical_xor", "where_", "split"):
            if not hasattr(b, m):
                pytest.skip(f"the builder has no {m}")
        x = b.input("x", [2, 3], "float32")
        ka, kc = b.constant(a), b.constant(c)
        eq, gt, le = b.equal(ka, kc), b.greater(ka, kc), b.lesser_or_equal(ka, kc)
        mask = b.logical_xor(b.logical_and(eq, le), gt)
        first, _ = b.split(b.concat([ka, kc], 0), 2)
        return {"y": b.where_(mask, x, b.add(x, first))}

    g = check_pass(make, FoldConstantsPass())
    assert ops(g) == ["add", "where"]


def test_concat_folds() -> None:
    def make(b: Any) -> dict[str, Any]:
        x = b.input("x", [2, 3], "float32")
        return {"y": b.add(x, b.concat([_c(b, [1, 3]), _c(b, [1, 3])], 0))}

    assert ops(check_pass(make, FoldConstantsPass())) == ["add"]


def test_integer_division_truncates_toward_zero_like_the_backend() -> None:
    a = np.array([[-7, 7, -8, 9]], np.int32)
    d = np.array([[2, -2, 3, 4]], np.int32)

    def make(b: Any) -> dict[str, Any]:
        x = b.input("x", [1, 4], "int32")
        return {"y": b.add(x, b.div(b.constant(a), b.constant(d)))}

    g = check_pass(make, FoldConstantsPass())
    assert ops(g) == ["add"]
    folded = g.nodes[0].inputs[1]
    assert folded is not None and folded.const is not None
    np.testing.assert_array_equal(folded.const, [[-3, -3, -2, 2]])


def test_integer_division_by_zero_is_left_to_the_backend() -> None:
    def make(b: Any) -> dict[str, Any]:
        x = b.input("x", [2], "int32")
        return {"y": b.add(x, b.div(b.constant(np.array([1, 2], np.int32)), b.constant(np.array([0, 1], np.int32))))}

    g = build(make)
    assert not FoldConstantsPass()(g).modified
    assert ops(g) == ["div", "add"]


def test_size_limit_keeps_large_results_computed_at_run_time() -> None:
    def make(b: Any) -> dict[str, Any]:
        x = b.input("x", [64, 64], "float32")
        return {"y": b.add(x, b.exp(_c(b, [64, 64])))}

    g = build(make)
    assert not FoldConstantsPass(max_elements=64 * 64 - 1)(g).modified
    assert ops(g) == ["exp", "add"]
    assert FoldConstantsPass(max_elements=64 * 64)(g).modified
    assert ops(g) == ["add"]


def test_unknown_operators_are_not_folded() -> None:
    g = Graph()
    x = g.add_input("x", OperandDescriptor(DataType.FLOAT32, (2,)))
    c = g.add_constant(np.ones(2, F32))
    mystery = g.append(Node("someFutureOp", [c], [c.descriptor]))
    out = g.append(Node("add", [x, mystery.outputs[0]], [x.descriptor]))
    g.outputs["y"] = out.outputs[0]
    assert "someFutureOp" not in FOLD_RULES
    assert not FoldConstantsPass()(g).modified
    verify(g)
    assert ops(g) == ["someFutureOp", "add"]


def test_a_graph_output_can_become_a_constant() -> None:
    def make(b: Any) -> dict[str, Any]:
        x = b.input("x", [2], "float32")
        return {"y": b.relu(x), "k": b.exp(b.constant(np.array([0.0, 1.0], F32)))}

    g = check_pass(make, FoldConstantsPass())
    assert ops(g) == ["relu"]
    assert g.outputs["k"].const is not None


_UNARY = ["relu", "neg", "abs", "exp", "tanh", "sigmoid"]
_BINARY = ["add", "sub", "mul", "max", "min"]


@st.composite
def _constant_programs(draw: st.DrawFn) -> list[tuple[str, int, int]]:
    """A straight-line program over a growing pool of [2, 3] values (index 0 is the input)."""
    steps = []
    for i in range(draw(st.integers(1, 8))):
        pool = i + 3  # the input, two constants, then each earlier step's result
        if draw(st.booleans()):
            steps.append((draw(st.sampled_from(_UNARY)), draw(st.integers(0, pool - 1)), 0))
        else:
            a, b = draw(st.integers(0, pool - 1)), draw(st.integers(0, pool - 1))
            steps.append((draw(st.sampled_from(_BINARY)), a, b))
    return steps


@settings(max_examples=25, deadline=None)
@given(program=_constant_programs(), seed=st.integers(0, 2**16))
def test_property_folding_preserves_numerics(program: list[tuple[str, int, int]], seed: int) -> None:
    rng = np.random.default_rng(seed)
    data = [rng.uniform(-2, 2, [2, 3]).astype(F32) for _ in range(2)]

    def make(b: Any) -> dict[str, Any]:
        pool = [b.input("x", [2, 3], "float32"), b.constant(data[0]), b.constant(data[1])]
        for op, a, c in program:
            pool.append(getattr(b, op)(pool[a]) if op in _UNARY else getattr(b, op)(pool[a], pool[c]))
        # every output mixes in the input, so no graph output is a bare constant
        return {"y": b.add(pool[0], pool[-1]), "z": b.mul(pool[0], pool[-2])}

    x = rng.uniform(-2, 2, [2, 3]).astype(F32)
    g = check_pass(make, FoldConstantsPass(), feeds={"x": x})
    assert all(any(v is not None and v.const is None for v in n.inputs) for n in g.nodes)
    assert run_ort(g, {"x": x}).keys() == {"y", "z"}


def test_a_failing_rule_leaves_the_node_to_the_backend(caplog: pytest.LogCaptureFixture) -> None:
    g = Graph()
    x = g.add_input("x", OperandDescriptor(DataType.FLOAT32, (2,)))
    c = g.add_constant(np.ones(2, F32))
    odd = g.append(Node("clamp", [c], [c.descriptor], {"lower": 0.0}))  # not the attribute names
    g.outputs["y"] = g.append(Node("add", [x, odd.outputs[0]], [x.descriptor])).outputs[0]
    with caplog.at_level("WARNING"):
        assert not FoldConstantsPass()(g).modified
    assert ops(g) == ["clamp", "add"]
    assert "not folding clamp" in caplog.text
