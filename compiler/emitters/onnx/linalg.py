"""ONNX lowerings of the linear-algebra operators: matmul and gemm map one to one."""

from __future__ import annotations

from webnnc.compiler.emitters.onnx._core import LoweringContext, LoweringTable, in_name, out_name
from webnnc.compiler.ir import Node

__all__ = ["LOWERINGS"]

LOWERINGS = LoweringTable()
lowers = LOWERINGS.lowers


@lowers("matmul")
def _matmul(ctx: LoweringContext, node: Node) -> None:
    ctx.add("MatMul", [in_name(ctx, node, 0), in_name(ctx, node, 1)], [out_name(ctx, node)])


@lowers("gemm")
def _gemm(ctx: LoweringContext, node: Node) -> None:
    a = node.attributes
    inputs = [in_name(ctx, node, 0), in_name(ctx, node, 1)]
    if node.inputs[2] is not None:
        inputs.append(in_name(ctx, node, 2))
    ctx.add(
        "Gemm", inputs, [out_name(ctx, node)], alpha=float(a["alpha"]), beta=float(a["beta"]),
        transA=int(bool(a["a_transpose"])), transB=int(bool(a["b_transpose"])),
    )
