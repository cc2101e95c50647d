"""``add(matmul(a, b), c)`` -> ``gemm(a, b, c)`` for 2-D operands (one ONNX Gemm kernel).

The addend may be any value (not only a constant) that broadcasts to the ``[M, N]`` result
without growing it and has rank <= 2, which is what gemm's ``c`` accepts.
"""

from __future__ import annotations

from webnnc.compiler.ir import Graph, Node, Value
from webnnc.compiler.passes._rewrite import insert_node, only_use
from webnnc.compiler.passes.fusion_rules._pattern import FusionRule, Match

__all__ = ["MATMUL_ADD"]


def _check(graph: Graph, add: Node) -> Match | str:
    for i in (0, 1):
        v, c = add.inputs[i], add.inputs[1 - i]
        if v is None or c is None or v.producer is None or v.producer.op_type != "matmul":
            continue
        mm = v.producer
        if only_use(graph, v) is not add:
            return "the matmul result has other uses"
        if any(x is None or x.rank != 2 for x in mm.inputs):
            return "matmul operands are not both 2-D"
        if c.rank > 2:
            return f"the addend has rank {c.rank}; gemm's c must have rank <= 2"
        if add.outputs[0].descriptor != v.descriptor:
            return "the addend broadcasts the product to a larger shape"
        return Match([mm, add], {"c": c})
    return "no operand is produced by matmul"


def _rewrite(graph: Graph, m: Match) -> Value:
    mm, add = m.nodes
    attrs = {"alpha": 1.0, "beta": 1.0, "a_transpose": False, "b_transpose": False}
    gemm = insert_node(
        graph, add, "gemm", [mm.inputs[0], mm.inputs[1], m.parts["c"]], [add.outputs[0].descriptor], attrs
    )
    return gemm.outputs[0]


MATMUL_ADD = FusionRule("matmul+add", frozenset({"add"}), _check, _rewrite, __doc__ or "")
