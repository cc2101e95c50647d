"""CoreML lowerings of the linear-algebra operators: matmul and gemm.
"""

from __future__ import annotations

from coremltools.converters.mil import Builder as mb  # noqa: N813 - the MIL idiom
from coremltools.converters.mil.mil import Var

from webnnc.compiler.emitters.coreml._core import (
    FLOATS,
    LoweringTable,
    MilContext,
    input_type,
    op_name,
    operand,
)
from webnnc.compiler.ir import Node

__all__ = ["LOWERINGS"]

LOWERINGS = LoweringTable()
lowers = LOWERINGS.lowers


@lowers("matmul", data_types=FLOATS)
def _matmul(ctx: MilContext, node: Node) -> Var:
    return mb.matmul(x=ctx.var(operand(node, 0)), y=ctx.var(operand(node, 1)), name=op_name(ctx, node))


@lowers("gemm", data_types=FLOATS)
def _gemm(ctx: MilContext, node: Node) -> Var:
    a = node.attributes
    dt = input_type(node)
    alpha, beta = float(a["alpha"]), float(a["beta"])
    y = mb.matmul(
        x=ctx.var(operand(node, 0)),
        y=ctx.var(operand(node, 1)),
        transpose_x=bool(a["a_transpose"]),
        transpose_y=bool(a["b_transpose"]),
        name=op_name(ctx, node),
    )
    if alpha != 1.0:
        y = mb.mul(x=y, y=ctx.const(alpha, dt, "alpha"), name=ctx.fresh("gemm_alpha"))
    c = node.inputs[2]
    if c is not None and beta != 0.0:
        cv = ctx.var(c)
        if beta != 1.0:
            cv = mb.mul(x=cv, y=ctx.const(beta, dt, "beta"), name=ctx.fresh("gemm_beta"))
        y = mb.add(x=y, y=cv, name=ctx.fresh("gemm_c"))
    return y
