"""Shared weights: a matmul by a constant that is another constant's transpose reads that
constant through gemm's ``b_transpose`` instead, so the transposed copy is not stored.

Exporters write tied weights twice: PyTorch's GPT-2 stores the token embedding once for the
Gather and once transposed for the language-model head (``wte`` and ``wte.T``, 154 MB each).

Before::

    %2 = matmul(%x, %wt) : float32[1,128,50257]      # %wt == transpose(%w)
    %3 = gather(%w, %ids, axis=0) ...

After::

    %a = reshape(%x) {new_shape=[128,768]}
    %g = gemm(%a, %w, _) {b_transpose=true, ...} : float32[128,50257]
    %2 = reshape(%g) {new_shape=[1,128,50257]}

Preconditions: none. Postconditions: no matmul or gemm reads a 2-D constant of at least
:data:`MIN_ELEMENTS` elements that equals the transpose of another constant of the graph;
dead-code elimination then drops the copy. Constant folding never undoes it (gemm's other
operand is not a constant).
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

from webnnc.compiler.ir import Graph, Node, OperandDescriptor, Value
from webnnc.compiler.passes._infra import InPlacePass, PassResult
from webnnc.compiler.passes._rewrite import insert_node

__all__ = ["MIN_ELEMENTS", "ShareTransposedWeightsPass"]

logger = logging.getLogger(__name__)

# smaller copies cost less to keep than to look for (each candidate pair is compared in full)
MIN_ELEMENTS = 1 << 16


# NOTE: the comparison goes tile by tile (128 x 8192 elements of ``b`` against the transposed
# tile of ``a``, compared as unsigned integers of the element's width): GPT-2's 50257 x 768
# embedding compared in 135 ms, against 400-440 ms for one whole transposed copy (154 MB
# allocated, a cache-hostile transpose) compared bytewise (2-core EPYC, numpy 2.4).
_TILE = (128, 8192)


def _same_transposed(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> bool:
    """Whether ``b == a.T`` exactly (bitwise, so NaNs and signed zeros count)."""
    if a.shape != b.shape[::-1] or a.dtype != b.dtype:
        return False
    size = a.dtype.itemsize
    bits = np.dtype(f"u{size}") if size in (1, 2, 4, 8) else None
    if bits is None:  # no integer of that width: compare whole, bytewise
        return bool(np.array_equal(np.ascontiguousarray(a.T).view(np.uint8), np.ascontiguousarray(b).view(np.uint8)))
    av, bv = np.ascontiguousarray(a).view(bits), np.ascontiguousarray(b).view(bits)
    rows, cols = _TILE
    # the first tile is a cheap look: unrelated weights differ there already
    for i in range(0, bv.shape[0], rows):
        for j in range(0, bv.shape[1], cols):
            if not np.array_equal(bv[i : i + rows, j : j + cols], np.ascontiguousarray(av[j : j + cols, i : i + rows].T)):
                return False
    return True


def _reads_as_weight(node: Node, index: int) -> bool:
    return node.op_type in ("matmul", "gemm") and index == 1


class ShareTransposedWeightsPass(InPlacePass):
    """Rewrite matmul / gemm by a transposed copy of a constant to read the original."""

    def call(self, graph: Graph) -> PassResult:
        by_shape: dict[tuple[Any, ...], list[Value]] = {}
        for c in graph.constants:
            if c.rank == 2 and c.const is not None and c.const.size >= MIN_ELEMENTS:
                by_shape.setdefault((c.data_type, c.shape), []).append(c)
        if not by_shape:
            return PassResult(graph, False, {"shared": 0})
        original: dict[int, Value | None] = {}  # id(copy) -> the constant it transposes
        shared = 0
        for node in graph:
            if node.op_type not in ("matmul", "gemm") or node.graph is not graph:
                continue
            b = node.inputs[1]
            if b is None or b.const is None or b.rank != 2 or b.const.size < MIN_ELEMENTS:
                continue
            if id(b) not in original:
                # Only a copy read solely as a right-hand matmul operand goes (so it leaves
                # the artifact), and only towards a constant that something else reads
                # (so two copies read only by matmuls never swap back and forth).
                original[id(b)] = None
                if all(_reads_as_weight(user, i) for user, i in b.uses):
                    original[id(b)] = next(
                        (a for a in by_shape.get((b.data_type, b.shape[::-1]), [])
                         if a is not b and a.const is not None
                         and not all(_reads_as_weight(user, i) for user, i in a.uses)
                         and _same_transposed(a.const, b.const)),
                        None,
                    )
            a = original[id(b)]
            if a is None:
                continue
            if node.op_type == "gemm":
                node.replace_input(1, a)
                node.attributes["b_transpose"] = not bool(node.attributes["b_transpose"])
            elif not self._matmul_to_gemm(graph, node, a):
                continue
            shared += 1
        if shared:
            logger.info("%d matmul/gemm now read a shared weight instead of its transposed copy", shared)
        return PassResult(graph, bool(shared), {"shared": shared})

    @staticmethod
    def _matmul_to_gemm(graph: Graph, node: Node, a: Value) -> bool:
        x = node.inputs[0]
        out = node.outputs[0]
        if x is None or x.rank < 2:
            return False
        rows = math.prod(x.shape[:-1])
        x2 = x
        if x.rank != 2:
            desc = OperandDescriptor(x.data_type, (rows, x.shape[-1]))
            x2 = insert_node(graph, node, "reshape", [x], [desc], {"new_shape": list(desc.shape)}).outputs[0]
        gemm_desc = OperandDescriptor(out.data_type, (rows, out.shape[-1]))
        attrs = {"alpha": 1.0, "beta": 1.0, "a_transpose": False, "b_transpose": True}
        y = insert_node(graph, node, "gemm", [x2, a, None], [gemm_desc], attrs).outputs[0]
        if out.rank != 2:
            y = insert_node(graph, node, "reshape", [y], [out.descriptor], {"new_shape": list(out.shape)}).outputs[0]
        graph.replace_value(out, y)
        return True
