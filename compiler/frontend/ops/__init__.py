"""Builder operator families; MLGraphBuilder inherits every mixin listed here.

To add a family: write a module with a mixin class and an ``OPS`` dict (WebNN op name ->
builder method name), then list both below.
"""

from __future__ import annotations

from types import ModuleType

from webnnc.compiler.frontend.ops import (
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
from webnnc.compiler.frontend.ops.activation import ActivationOps
from webnnc.compiler.frontend.ops.conv_pool import ConvPoolOps
from webnnc.compiler.frontend.ops.elementwise import ElementwiseOps
from webnnc.compiler.frontend.ops.gather_scatter import GatherScatterOps
from webnnc.compiler.frontend.ops.linalg import LinalgOps
from webnnc.compiler.frontend.ops.normalization import NormalizationOps
from webnnc.compiler.frontend.ops.quantization import QuantizationOps
from webnnc.compiler.frontend.ops.recurrent import RecurrentOps
from webnnc.compiler.frontend.ops.reduction import ReductionOps
from webnnc.compiler.frontend.ops.tensor import TensorOps
from webnnc.compiler.frontend.ops.unary import UnaryOps

__all__ = ["ALL_OP_MIXINS", "ALL_OP_MODULES"]

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

ALL_OP_MODULES: tuple[ModuleType, ...] = (
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
