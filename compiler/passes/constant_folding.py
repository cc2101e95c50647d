"""Constant folding: evaluate nodes whose operands are all constants, at compile time.

Before::

    %c0 = constant float32[4]
    %c1 = constant float32[4]
    %0 = mul(%c0, %c1) : float32[4]
    %1 = add(%x, %0) : float32[4]

After::

    %c2 = constant float32[4]          # %c0 * %c1, computed by numpy
    %1 = add(%x, %c2) : float32[4]

Preconditions: none. Postconditions: no node with a folding rule, a deterministic op type
and a result of at most :data:`MAX_FOLDED_ELEMENTS` elements has only constant operands.
Operators without a rule are left alone. The rules are numpy kernels in the operator
catalogue, each in its family's file (``webnnc.compiler.ops``, registered with
:func:`fold_rule`); the size limit and why it differs from the ONNX importer's is in
``webnnc.compiler.ops._fold``.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from webnnc.compiler.errors import CompilerError
from webnnc.compiler.ir import Graph, Node
from webnnc.compiler.ops import FOLD_RULES, MAX_FOLDED_ELEMENTS, fold_rule
from webnnc.compiler.passes._infra import InPlacePass, PassResult
from webnnc.compiler.passes._rewrite import sweep, unlink

__all__ = ["MAX_FOLDED_ELEMENTS", "NONDETERMINISTIC_OPS", "FoldConstantsPass", "fold_rule"]

logger = logging.getLogger(__name__)

# Operators whose result may differ between evaluations; never folded even with a rule.
NONDETERMINISTIC_OPS: frozenset[str] = frozenset({"dropout", "randomNormal", "randomUniform"})


class FoldConstantsPass(InPlacePass):
    """Replace nodes whose operands are all constants by the constants they compute.

    Args:
        max_elements: results larger than this stay computed at run time.
    """

    def __init__(self, *, max_elements: int = MAX_FOLDED_ELEMENTS) -> None:
        self.max_elements = max_elements

    def call(self, graph: Graph) -> PassResult:
        folded: dict[str, int] = {}
        for node in graph:
            if _try_fold(graph, node, self.max_elements):
                folded[node.op_type] = folded.get(node.op_type, 0) + 1
        if folded:
            sweep(graph)
            logger.info("folded %d constant nodes %s", sum(folded.values()), folded)
            graph.remove_unused_constants()
        return PassResult(graph, bool(folded), {"folded": folded})


def _try_fold(graph: Graph, node: Node, max_elements: int) -> bool:
    rule = FOLD_RULES.get(node.op_type)
    if rule is None or node.op_type in NONDETERMINISTIC_OPS:
        return False
    if any(v is not None and v.const is None for v in node.inputs):
        return False
    if not any(v is not None for v in node.inputs):
        return False
    if any(out.descriptor.size > max_elements for out in node.outputs):
        return False
    try:
        with np.errstate(all="ignore"):
            results = rule(node, [None if v is None else v.const for v in node.inputs])
    except (ArithmeticError, IndexError, KeyError, TypeError, ValueError) as e:
        # A rule that cannot evaluate this node (an attribute form it does not know, say)
        # leaves it to the backend: folding is an optimization, never a reason to fail.
        logger.warning("not folding %s: its folding rule failed (%r)", node.op_type, e)
        return False
    if results is None:
        return False
    arrays = [_checked(node, i, r) for i, r in enumerate(results)]
    if len(arrays) != len(node.outputs):
        raise CompilerError(
            f"folding rule for {node.op_type} returned {len(arrays)} results; "
            f"the node has {len(node.outputs)} outputs"
        )
    for out, arr in zip(node.outputs, arrays, strict=True):
        graph.replace_value(out, graph.add_constant(arr, out.descriptor))
    unlink(graph, node)
    return True


def _checked(node: Node, index: int, result: Any) -> np.ndarray[Any, Any]:
    desc = node.outputs[index].descriptor
    arr = np.asarray(result)
    if arr.shape != desc.shape:
        raise CompilerError(
            f"folding rule for {node.op_type} output {index}: computed shape {list(arr.shape)}, "
            f"the node's descriptor says {desc}"
        )
    return arr.astype(desc.data_type.numpy_dtype, copy=False)
