"""The ONNX lowering: one table per operator family, merged into :data:`LOWERINGS`.

``_core`` holds what every family shares (the :class:`LoweringContext`, type codes, helpers);
each family module (named as the operator catalogue's families) holds a ``LOWERINGS`` table
of its own and imports only the core. Adding an op: one ``@lowers`` function in its family.
Only this package and ``onnx_emitter`` import ``onnx``.
"""

from __future__ import annotations

from webnnc.compiler.emitters.onnx import (
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
from webnnc.compiler.emitters.onnx._core import (
    ONNX_TYPES,
    Lowering,
    LoweringContext,
    LoweringTable,
    lower_node,
)

__all__ = [
    # the merged table and its families
    "FAMILIES",
    "LOWERINGS",
    # lowering one graph
    "ONNX_TYPES",
    "Lowering",
    "LoweringContext",
    "LoweringTable",
    "lower_node",
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
