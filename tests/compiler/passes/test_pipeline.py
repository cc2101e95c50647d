"""The default pipeline on W1-W3, and the pass manager's reporting and error wrapping."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.compiler.passes._helpers import build, check_pass, run_ort
from webnnc.compiler.errors import PassError
from webnnc.compiler.ir import Graph
from webnnc.compiler.passes import (
    DeadCodeEliminationPass,
    InPlacePass,
    PassManager,
    PassResult,
    SimplifyAlgebraPass,
    default_pipeline,
)
from webnnc.compiler.workloads import w1_simple, w2_complex, w3_mobilenet_v2


@pytest.mark.parametrize(
    ("make", "before", "after"),
    [(w1_simple, 20, 20), (w2_complex, 201, 102), (w3_mobilenet_v2, 153, 101)],
    ids=["w1", "w2", "w3"],
)
def test_workloads_keep_their_numerics(make: Any, before: int, after: int) -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal([1, 3, 224, 224]).astype(np.float32)
    if make is w2_complex:  # finite everywhere: 0.25 is a fixed point of x -> (2x)^2
        x = np.where(rng.random(x.shape) < 0.5, 0.25, rng.uniform(-1, 0.2, x.shape)).astype(np.float32)
    assert len(build(make)) == before
    pm = default_pipeline(verify_each=True)
    g = check_pass(make, pm, feeds={"input": x})
    assert len(g) == after
    assert g.meta["memory_plan"].peak_live_bytes > 0
    modified = [r.name for r in pm.records if r.modified]
    assert bool(modified) == (before != after), modified


def test_w2_overflow_matches_the_unoptimized_graph() -> None:
    x = np.random.default_rng(4).standard_normal([1, 3, 224, 224]).astype(np.float32)
    optimized = default_pipeline()(build(w2_complex)).graph
    got, expected = run_ort(optimized, {"input": x}), run_ort(build(w2_complex), {"input": x})
    np.testing.assert_array_equal(got["output"], expected["output"])  # +inf everywhere


def test_records_report_each_pass() -> None:
    pm = default_pipeline()
    pm(build(w2_complex))
    names = [r.name for r in pm.records]
    assert names[:6] == [
        "FoldConstantsPass", "ShareTransposedWeightsPass", "CommonSubexpressionEliminationPass", "SimplifyAlgebraPass",
        "FuseOperatorsPass", "DeadCodeEliminationPass",
    ]
    assert names[-1] == "PlanMemoryPass"
    simplify = next(r for r in pm.records if r.name == "SimplifyAlgebraPass")
    assert (simplify.nodes_before, simplify.nodes_after) == (201, 102)
    assert simplify.details["rules"] == {"noop_activation": 99}


class _Breaks(InPlacePass):
    def call(self, graph: Graph) -> PassResult:
        graph.set_nodes(reversed(graph.nodes))  # no longer topologically ordered
        return PassResult(graph, True)


def test_pass_error_names_the_pass_and_its_predecessors() -> None:
    pm = PassManager([DeadCodeEliminationPass(), SimplifyAlgebraPass(), _Breaks()], verify_each=True)
    with pytest.raises(PassError, match=r"_Breaks.*DeadCodeEliminationPass.*SimplifyAlgebraPass"):
        pm(build(w1_simple))


def test_nested_managers_report_the_inner_pass() -> None:
    inner = PassManager([_Breaks()], verify_each=True)
    with pytest.raises(PassError, match=r"pass _Breaks failed") as info:
        PassManager([DeadCodeEliminationPass(), inner])(build(w1_simple))
    assert "PassManager failed" not in str(info.value)


# Random graphs over the operators the passes know about: every pass gets a chance to fire
# (constants for folding, repeated expressions for CSE, activations for the range analysis,
# max/min spellings for fusion, reshapes/transposes for chain merging).
_UNARY = ("relu", "exp", "sigmoid", "tanh", "neg", "abs", "relu6", "square", "reshape", "transpose")
_BINARY = ("add", "sub", "mul", "max", "min")


@st.composite
def _programs(draw: st.DrawFn) -> list[tuple[str, int, int, float]]:
    steps = []
    for i in range(draw(st.integers(1, 12))):
        pool = i + 3  # input, two constants, then each step's result
        op = draw(st.sampled_from(_UNARY + _BINARY + ("scalar",)))
        steps.append((op, draw(st.integers(0, pool - 1)), draw(st.integers(0, pool - 1)),
                      draw(st.sampled_from([0.0, 1.0, 6.0, -1.0]))))
    return steps


@settings(max_examples=30, deadline=None)
@given(program=_programs(), seed=st.integers(0, 2**16))
def test_property_pipeline_preserves_numerics(program: list[tuple[str, int, int, float]], seed: int) -> None:
    rng = np.random.default_rng(seed)
    data = [rng.uniform(-2, 2, [2, 6]).astype(np.float32) for _ in range(2)]

    def make(b: Any) -> dict[str, Any]:
        pool = [b.input("x", [2, 6], "float32"), b.constant(data[0]), b.constant(data[1])]
        for op, i, j, k in program:
            a, c = pool[i], pool[j]
            if op == "relu6":
                v = b.clamp(a, min_value=0.0, max_value=6.0)
            elif op == "square":
                v = b.mul(a, a)
            elif op == "reshape":
                v = b.reshape(b.reshape(a, [12]), [2, 6])
            elif op == "transpose":
                v = b.transpose(b.transpose(a))
            elif op == "scalar":  # a splat constant: neutral elements and max/min -> clamp
                v = b.max(a, b.constant(np.full([2, 6], k, np.float32)))
            elif op in _BINARY:
                v = getattr(b, op)(a, c)
            else:
                v = getattr(b, op)(a)
            pool.append(v)
        return {"y": b.add(pool[0], pool[-1]), "z": b.relu(b.mul(pool[0], pool[len(pool) // 2]))}

    x = rng.uniform(-3, 3, [2, 6]).astype(np.float32)
    g = check_pass(make, default_pipeline(verify_each=True), feeds={"x": x})
    assert len(g) <= len(build(make))
    again = default_pipeline()
    again(g)
    assert not any(r.modified for r in again.records), "the pipeline did not reach a fixed point"


def test_compiling_leaves_the_callers_graph_as_built() -> None:
    from webnnc.compiler.driver import compile_graph
    from webnnc.compiler.ir import print_graph

    g = build(w2_complex)
    before = print_graph(g)
    result = compile_graph(g, store=None)
    assert print_graph(g) == before and len(g) == 201
    assert result.info.passes[-1].nodes_after == 102


def test_clone_is_independent_and_identical() -> None:
    from webnnc.compiler.ir import print_graph, verify

    g = build(w3_mobilenet_v2)
    c = g.clone()
    verify(c)
    assert print_graph(c) == print_graph(g)
    assert not {id(n) for n in c.nodes} & {id(n) for n in g.nodes}
    default_pipeline()(c)
    assert len(c) == 101 and len(g) == 153
