"""ONNX lowerings of batchNormalization, instanceNormalization and layerNormalization.

NOTE: all three are lowered to the spec's formula, ``(x - mean) / sqrt(var + eps) * scale +
bias``, in that order of operations: ONNX Runtime's fused kernels fold scale and variance
first and round differently (off by more than WPT's few-ULP tolerance on small inputs).
float16 inputs are computed in float32 and rounded once at the end, as the spec's
reference results are.
"""

from __future__ import annotations

from webnnc.compiler.emitters.onnx._core import (
    LoweringContext,
    LoweringTable,
    out_name,
)
from webnnc.compiler.ir import DataType, Node, Value

__all__ = ["LOWERINGS"]

LOWERINGS = LoweringTable()
lowers = LOWERINGS.lowers

_FLOAT = 1  # onnx.TensorProto.FLOAT
_FLOAT16 = 10  # onnx.TensorProto.FLOAT16


class _Compute:
    """Names of the node's operands in the compute type (float32 for float16 graphs)."""

    def __init__(self, ctx: LoweringContext, node: Node) -> None:
        self.ctx = ctx
        self.node = node
        x = node.inputs[0]
        assert x is not None
        self.x = x
        self.widen = x.data_type == DataType.FLOAT16
        self.dtype = DataType.FLOAT32 if self.widen else x.data_type

    def name(self, v: Value) -> str:
        n = self.ctx.name(v)
        return self.ctx.add("Cast", [n], to=_FLOAT) if self.widen else n

    def scalar(self, value: float) -> str:
        return self.ctx.scalar(value, self.dtype, "eps")

    def finish(self, y: str) -> None:
        out = out_name(self.ctx, self.node)
        if self.widen:
            self.ctx.add("Cast", [y], [out], to=_FLOAT16)
        else:
            self.ctx.add("Identity", [y], [out])


def _broadcast_param(ctx: LoweringContext, name: str, rank: int, axes: list[int], dims: list[int]) -> str:
    """Reshape a parameter whose dimensions are the input's ``axes`` (in that order) so that
    it broadcasts against the input."""
    order = sorted(range(len(axes)), key=lambda i: axes[i])
    if order != list(range(len(axes))):
        name = ctx.add("Transpose", [name], perm=order)
    shape = [1] * rank
    for a in axes:
        shape[a] = dims[a]
    return ctx.add("Reshape", [name, ctx.int64s(shape)])


def _normalize(
    ctx: LoweringContext,
    c: _Compute,
    centered: str,
    var: str,
    eps: float,
    scale: Value | None,
    bias: Value | None,
    axes: list[int],
) -> None:
    y = ctx.add("Div", [centered, ctx.add("Sqrt", [ctx.add("Add", [var, c.scalar(eps)])])])
    dims = list(c.x.shape)
    if scale is not None:
        y = ctx.add("Mul", [y, _broadcast_param(ctx, c.name(scale), c.x.rank, axes, dims)])
    if bias is not None:
        y = ctx.add("Add", [y, _broadcast_param(ctx, c.name(bias), c.x.rank, axes, dims)])
    c.finish(y)


@lowers("batchNormalization")
def _batch_normalization(ctx: LoweringContext, node: Node) -> None:
    _, mean, var, scale, bias = node.inputs
    assert mean is not None and var is not None
    c = _Compute(ctx, node)
    axis = [int(node.attributes["axis"])]
    dims = list(c.x.shape)
    centered = ctx.add("Sub", [c.name(c.x), _broadcast_param(ctx, c.name(mean), c.x.rank, axis, dims)])
    variance = _broadcast_param(ctx, c.name(var), c.x.rank, axis, dims)
    _normalize(ctx, c, centered, variance, float(node.attributes["epsilon"]), scale, bias, axis)


def _moments(ctx: LoweringContext, x: str, axes: list[int]) -> tuple[str, str]:
    """(x - mean, variance) over ``axes``, both keeping the reduced dimensions."""
    if not axes:  # nothing to reduce: every element is its own mean
        return ctx.add("Sub", [x, x]), ctx.add("Sub", [x, x])
    ax = ctx.int64s(axes, "axes")
    centered = ctx.add("Sub", [x, ctx.add("ReduceMean", [x, ax], keepdims=1)])
    var = ctx.add("ReduceMean", [ctx.add("Mul", [centered, centered]), ax], keepdims=1)
    return centered, var


@lowers("instanceNormalization")
def _instance_normalization(ctx: LoweringContext, node: Node) -> None:
    _, scale, bias = node.inputs
    c = _Compute(ctx, node)
    nchw = node.attributes["layout"] == "nchw"
    centered, var = _moments(ctx, c.name(c.x), [2, 3] if nchw else [1, 2])
    channel = [1 if nchw else 3]
    _normalize(ctx, c, centered, var, float(node.attributes["epsilon"]), scale, bias, channel)


@lowers("layerNormalization")
def _layer_normalization(ctx: LoweringContext, node: Node) -> None:
    _, scale, bias = node.inputs
    c = _Compute(ctx, node)
    axes = [int(a) for a in node.attributes["axes"]]
    centered, var = _moments(ctx, c.name(c.x), sorted(axes))
    _normalize(ctx, c, centered, var, float(node.attributes["epsilon"]), scale, bias, axes)

