"""The pass kinds' promises are checked: in place means the same graph object comes back,
functional means the input is left alone, and requires/ensures run around every call."""

from __future__ import annotations

import pytest

from tests.compiler.passes._helpers import build
from webnnc.compiler.errors import PassError
from webnnc.compiler.ir import Graph
from webnnc.compiler.passes import (
    DeadCodeEliminationPass,
    FunctionalPass,
    InPlacePass,
    PassManager,
    PassResult,
    Sequential,
)
from webnnc.compiler.passes.fusion_rules import ALL_RULES, MATMUL_ADD, rules_for
from webnnc.compiler.workloads import w1_simple


class _ReturnsACopy(InPlacePass):
    def call(self, graph: Graph) -> PassResult:
        return PassResult(graph.clone(), False)


class _CopiesThenEdits(FunctionalPass):
    """Honest: edits a copy."""

    def call(self, graph: Graph) -> PassResult:
        out = graph.clone()
        out.set_nodes(list(reversed(out.nodes)))
        return PassResult(out, True)


class _EditsItsInput(FunctionalPass):
    """Dishonest: returns a copy, but reorders the graph it was given."""

    def call(self, graph: Graph) -> PassResult:
        out = graph.clone()
        graph.set_nodes(list(reversed(graph.nodes)))
        return PassResult(out, True)


class _Conditions(InPlacePass):
    def __init__(self) -> None:
        self.calls: list[str] = []

    def requires(self, graph: Graph) -> None:
        self.calls.append("requires")
        if len(graph) == 0:
            raise PassError("needs a non-empty graph")

    def call(self, graph: Graph) -> PassResult:
        self.calls.append("call")
        return PassResult(graph, False)

    def ensures(self, graph: Graph) -> None:
        self.calls.append("ensures")


def test_in_place_pass_must_return_its_graph() -> None:
    with pytest.raises(PassError, match="in-place pass but returned a different graph"):
        _ReturnsACopy()(build(w1_simple))
    with pytest.raises(PassError, match=r"pass _ReturnsACopy failed .*in-place"):
        PassManager([DeadCodeEliminationPass(), _ReturnsACopy()], verify_each=False)(build(w1_simple))


def test_functional_pass_must_not_mutate_its_input_when_verifying() -> None:
    graph = build(w1_simple)
    result = _CopiesThenEdits()(graph, verify=True)
    assert result.graph is not graph
    with pytest.raises(PassError, match="functional pass but changed the graph it was given"):
        _EditsItsInput()(build(w1_simple), verify=True)
    with pytest.raises(PassError, match=r"pass _EditsItsInput failed .*functional"):
        PassManager([_EditsItsInput()], verify_each=True)(build(w1_simple))


def test_functional_check_costs_nothing_without_verification(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WEBNNC_VERIFY", raising=False)
    _EditsItsInput()(build(w1_simple))  # not checked: the digest is skipped
    monkeypatch.setenv("WEBNNC_VERIFY", "1")
    with pytest.raises(PassError, match="functional pass"):
        _EditsItsInput()(build(w1_simple))


def test_requires_and_ensures_run_around_call_in_every_composite() -> None:
    p = _Conditions()
    graph = build(w1_simple)
    p(graph)
    Sequential(p)(graph)
    PassManager([p], verify_each=False)(graph)
    assert p.calls == ["requires", "call", "ensures"] * 3
    with pytest.raises(PassError, match="needs a non-empty graph"):
        graph.set_nodes([])
        PassManager([p])(graph)


def test_kinds_state_their_promise() -> None:
    assert InPlacePass.in_place is True and FunctionalPass.in_place is False
    assert PassManager([]).in_place is None and Sequential().in_place is None


def test_fusion_rules_depend_on_the_target() -> None:
    assert rules_for("onnx-cpu") == rules_for("onnx-cuda") == ALL_RULES
    assert MATMUL_ADD not in rules_for("coreml")
    assert [r for r in ALL_RULES if r is not MATMUL_ADD] == list(rules_for("coreml"))
