"""Builder operator families; MLGraphBuilder inherits every mixin listed here.

To add a family: write a module with a mixin class and an ``OPS`` dict (WebNN op name ->
builder method name), then list both below.
"""

from __future__ import annotations

from types import ModuleType

from webnnc.compiler.frontend.ops import (
    conv_pool,
    elementwise,
    gather_scatter,
    linalg,
    normalization,
    recurrent,
    tensor,
)
from webnnc.compiler.frontend.ops.conv_pool import ConvPoolOps
from webnnc.compiler.frontend.ops.elementwise import ElementwiseOps
from webnnc.compiler.frontend.ops.gather_scatter import GatherScatterOps
from webnnc.compiler.frontend.ops.linalg import LinalgOps
from webnnc.compiler.frontend.ops.normalization import NormalizationOps
from webnnc.compiler.frontend.ops.recurrent import RecurrentOps
from webnnc.compiler.frontend.ops.tensor import TensorOps

__all__ = ["ALL_OP_MIXINS", "ALL_OP_MODULES"]

ALL_OP_MIXINS: tuple[type, ...] = (
    ElementwiseOps,
    ConvPoolOps,
    TensorOps,
    LinalgOps,
    NormalizationOps,
    GatherScatterOps,
    RecurrentOps,
)

ALL_OP_MODULES: tuple[ModuleType, ...] = (
    elementwise,
    conv_pool,
    tensor,
    linalg,
    normalization,
    gather_scatter,
    recurrent,
)
