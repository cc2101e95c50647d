"""Builder operator families; MLGraphBuilder inherits every mixin listed here."""

from __future__ import annotations

from webnnc.compiler.frontend.ops.conv_pool import ConvPoolOps
from webnnc.compiler.frontend.ops.elementwise import ElementwiseOps
from webnnc.compiler.frontend.ops.linalg import LinalgOps
from webnnc.compiler.frontend.ops.normalization import NormalizationOps
from webnnc.compiler.frontend.ops.tensor import TensorOps

__all__ = ["ALL_OP_MIXINS"]

ALL_OP_MIXINS: tuple[type, ...] = (
    ElementwiseOps,
    ConvPoolOps,
    TensorOps,
    LinalgOps,
    NormalizationOps,
)
