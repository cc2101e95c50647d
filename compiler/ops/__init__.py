"""The operator catalogue: every WebNN operator webnnc knows, in one family file each.

A family file (``elementwise.py``, ``conv_pool.py``, ...) holds, for its operators:

- the builder methods (a mixin class that ``MLGraphBuilder`` inherits): schema, option
  defaults, validation and shape inference;
- ``OPS``: WebNN op name -> builder method name;
- ``SUPPORT``: the data types and ranks per operand on onnx-cpu (``_support.py``);
- the constant-folding kernels (``@fold_rule``, ``_fold.py``) and value-range rules
  (``@range_rule``, ``_range.py``);
- optionally ``LACKS``: what an operator legitimately does not have (see
  :data:`GAP_KINDS`), so that ``tests/compiler/ops/test_catalogue.py`` knows the gap is
  on purpose.

This module merges the families into the tables everyone else reads. The lowering tables
of the targets live with the emitters, in the same families. README.md says how to add an
operator.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import ModuleType

from webnnc.compiler.ops import (
    activation,
    conv_pool,
    elementwise,
    gather_scatter,
    linalg,
    normalization,
    quantization,
    recurrent,
    reduction,
    tensor,
    unary,
)
from webnnc.compiler.ops._fold import (
    FOLD_RULES,
    MAX_FOLDED_ELEMENTS,
    MAX_IMPORT_FOLDED_ELEMENTS,
    FoldRule,
    fold_rule,
)
from webnnc.compiler.ops._options import snake_case
from webnnc.compiler.ops._range import RANGE_RULES, UNBOUNDED, Range, RangeRule, range_rule
from webnnc.compiler.ops._support import (
    OP_SUPPORT,
    OperandLimits,
    check_operand,
    limits_for,
    op_support_limits,
    register_support,
)
from webnnc.compiler.ops.activation import ActivationOps
from webnnc.compiler.ops.conv_pool import ConvPoolOps
from webnnc.compiler.ops.elementwise import ElementwiseOps
from webnnc.compiler.ops.gather_scatter import GatherScatterOps
from webnnc.compiler.ops.linalg import LinalgOps
from webnnc.compiler.ops.normalization import NormalizationOps
from webnnc.compiler.ops.quantization import QuantizationOps
from webnnc.compiler.ops.recurrent import RecurrentOps
from webnnc.compiler.ops.reduction import ReductionOps
from webnnc.compiler.ops.tensor import TensorOps
from webnnc.compiler.ops.unary import UnaryOps

__all__ = [
    # the families
    "ALL_OP_MIXINS",
    "FAMILIES",
    "OP_FAMILY",
    # op names
    "KNOWN_OPS",
    "METHOD_TO_OP",
    "OP_TO_METHOD",
    "snake_case",
    # declared gaps
    "DECLARED_GAPS",
    "GAP_KINDS",
    # support limits (onnx-cpu)
    "OP_SUPPORT",
    "OperandLimits",
    "check_operand",
    "limits_for",
    "op_support_limits",
    # constant folding
    "FOLD_RULES",
    "MAX_FOLDED_ELEMENTS",
    "MAX_IMPORT_FOLDED_ELEMENTS",
    "FoldRule",
    "fold_rule",
    # value ranges
    "RANGE_RULES",
    "UNBOUNDED",
    "Range",
    "RangeRule",
    "range_rule",
]

# The order is MLGraphBuilder's base-class order (kept from before the catalogue).
FAMILIES: tuple[ModuleType, ...] = (
    elementwise,
    conv_pool,
    tensor,
    linalg,
    normalization,
    gather_scatter,
    recurrent,
    unary,
    activation,
    reduction,
    quantization,
)

ALL_OP_MIXINS: tuple[type, ...] = (
    ElementwiseOps,
    ConvPoolOps,
    TensorOps,
    LinalgOps,
    NormalizationOps,
    GatherScatterOps,
    RecurrentOps,
    UnaryOps,
    ActivationOps,
    ReductionOps,
    QuantizationOps,
)

GAP_KINDS: tuple[str, ...] = ("coreml", "tests")
"""What an operator may lack on purpose, declared in its family's ``LACKS`` dict:
``"coreml"``: no CoreML lowering (the coreml target rejects it); ``"tests"``: no WPT
vector and no unit test names it yet."""


def _family_name(module: ModuleType) -> str:
    return module.__name__.rsplit(".", 1)[-1]


def _merge_families() -> tuple[dict[str, str], dict[str, str], dict[str, frozenset[str]]]:
    op_to_method: dict[str, str] = {}
    op_family: dict[str, str] = {}
    gaps: dict[str, set[str]] = {kind: set() for kind in GAP_KINDS}
    for module in FAMILIES:
        family = _family_name(module)
        ops: Mapping[str, str] = module.OPS
        for op, method in ops.items():
            if op in op_to_method:
                raise RuntimeError(f"operator {op!r} is declared by {op_family[op]} and {family}")
            op_to_method[op] = method
            op_family[op] = family
        register_support(module.SUPPORT, family)
        lacks: Mapping[str, Iterable[str]] = getattr(module, "LACKS", {})
        for kind, names in lacks.items():
            if kind not in gaps:
                raise RuntimeError(f"{family}.LACKS: unknown kind {kind!r}; one of {GAP_KINDS}")
            foreign = set(names) - set(ops)
            if foreign:
                raise RuntimeError(f"{family}.LACKS[{kind!r}] names ops of other families: {foreign}")
            gaps[kind].update(names)
    return (
        dict(sorted(op_to_method.items())),
        op_family,
        {kind: frozenset(names) for kind, names in gaps.items()},
    )


OP_TO_METHOD, OP_FAMILY, DECLARED_GAPS = _merge_families()
"""WebNN op name -> builder method name; op -> family name; gap kind -> ops (see GAP_KINDS)."""

METHOD_TO_OP: dict[str, str] = {m: o for o, m in OP_TO_METHOD.items()}

KNOWN_OPS: frozenset[str] = frozenset(OP_TO_METHOD)
"""Every op type the IR may hold; ``ir.verify(graph, known_ops=KNOWN_OPS)`` checks it."""
