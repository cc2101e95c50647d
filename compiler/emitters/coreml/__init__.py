"""The CoreML lowering: one table per operator family, merged into :data:`LOWERINGS`.

``_core`` holds what every family shares (MIL types, the :class:`MilContext`, the table type,
the operand helpers, the per-node type check); each family module (named as the operator
catalogue's families) holds a ``LOWERINGS`` table of its own and imports only the core.
Adding an op: one ``@lowers`` function in its family, with the types it computes on.
Only this package and ``coreml_emitter`` import ``coremltools``.
"""

from __future__ import annotations

from webnnc.compiler.emitters.coreml import (
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
from webnnc.compiler.emitters.coreml._core import (
    CARRIED,
    MAX_RANK,
    MIL_TYPES,
    LoweringTable,
    MilContext,
    OpLowering,
    check_node,
    lower_node,
    node_label,
)

__all__ = [
    # the merged table and its families
    "FAMILIES",
    "LOWERINGS",
    "LoweringTable",
    "OpLowering",
    # lowering one graph
    "CARRIED",
    "MAX_RANK",
    "MIL_TYPES",
    "MilContext",
    "check_node",
    "lower_node",
    "node_label",
]

FAMILIES = (
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
LOWERINGS: LoweringTable = LoweringTable.merged([family.LOWERINGS for family in FAMILIES])
