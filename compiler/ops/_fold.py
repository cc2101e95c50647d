"""The constant-folding registry: one numpy evaluator per WebNN operator.

The evaluators live in their op family's file, registered with :func:`fold_rule`; the
folding pass (``webnnc.compiler.passes.constant_folding``) reads :data:`FOLD_RULES`.

An evaluator receives the node and its inputs as arrays (``None`` for omitted optional
operands) and returns one array per output, or ``None`` to decline (for example integer
division by zero, whose result the backend defines differently from numpy). The folding
pass casts and checks what an evaluator returns against the node's output descriptors.

# NOTE: kernels compute in the operand's own numpy type (float16 in float32, then rounded)
# with floating-point warnings silenced: an overflow to inf is a legitimate result that
# the backend would compute too. Kernels read output shapes and types from the node's
# descriptors where the operator allows it, so a new operator family only needs the rule.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from webnnc.compiler.ir import Node

__all__ = [
    "FOLD_RULES",
    "MAX_FOLDED_ELEMENTS",
    "MAX_IMPORT_FOLDED_ELEMENTS",
    "Array",
    "FoldRule",
    "first",
    "fold_rule",
    "wide",
]

# Two folding size limits, on purpose different:
# - the folding pass (MAX_FOLDED_ELEMENTS) only trades run-time work for artifact size: a
#   folded result is stored in the artifact, and folding must not turn a small expression
#   (say, a broadcast of a scalar) into megabytes of weights; leaving a node unfolded costs
#   nothing in correctness;
# - the ONNX importer (MAX_IMPORT_FOLDED_ELEMENTS) folds constant subgraphs of the source
#   model, many of them ONNX operators with no WebNN form (ConstantOfShape, Range, ...):
#   there, refusing to fold fails the import, so the limit is 16x higher (weights the
#   source model computes from other weights are still folded).
MAX_FOLDED_ELEMENTS = 1 << 20
MAX_IMPORT_FOLDED_ELEMENTS = 1 << 24

Array = np.ndarray[Any, Any]
FoldRule = Callable[[Node, Sequence[Array | None]], Sequence[Array] | None]

FOLD_RULES: dict[str, FoldRule] = {}


def fold_rule(*op_types: str) -> Callable[[FoldRule], FoldRule]:
    """Register ``fn`` as the folding evaluator of ``op_types`` (the one decorator registry)."""

    def register(fn: FoldRule) -> FoldRule:
        for op in op_types:
            if op in FOLD_RULES:
                raise RuntimeError(f"two folding rules for operator {op!r}")
            FOLD_RULES[op] = fn
        return fn

    return register


def wide(x: Array) -> Array:
    """float16 computes in float32 (then rounds once), like the backends do."""
    return x.astype(np.float32) if x.dtype == np.float16 else x


def first(args: Sequence[Array | None]) -> Array:
    """The first (required) operand of a folding evaluator."""
    x = args[0]
    assert x is not None
    return x
