"""ONNX lowerings of batchNormalization, instanceNormalization and layerNormalization.

Native kernels first: each lowers to ONNX's BatchNormalization / InstanceNormalization /
LayerNormalization when the layout fits (channel axis 1; NCHW; trailing axes), so ONNX
Runtime runs its fused kernel and its optimizer can fuse further (batch norm into an NCHWc
depthwise convolution, LayerNormalization + residual add -> SkipLayerNormalization,
attention). Other layouts, and ``precision="strict"``, use the spec's formula,
``(x - mean) / sqrt(var + eps) * scale + bias`` in that order of operations: the fused
kernels fold scale and variance first and round differently (layer normalization computes
the variance as E[x^2] - E[x]^2); ``compiler/emitters/LOWERING.md`` has the measured errors.
float16 inputs are computed in float32 and rounded once at the end, as the spec's
reference results are.
"""

from __future__ import annotations

from typing import Any

import numpy as np

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

    def native(self, op: str, inputs: list[str], **attrs: Any) -> None:
        """One ONNX op writing the node's output (through a cast back for float16)."""
        if self.widen:
            self.finish(self.ctx.add(op, inputs, **attrs))
        else:
            self.ctx.add(op, inputs, [out_name(self.ctx, self.node)], **attrs)

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


def _param_or(c: _Compute, v: Value | None, fill: float, shape: list[int], order: list[int] | None = None) -> str:
    """``v`` in the compute type (transposed to ``order`` when given and not the identity),
    or a constant of ``fill`` (the ONNX ops require scale and, for two of them, bias)."""
    if v is None:
        return c.ctx.const(np.full(shape, fill, dtype=c.dtype.numpy_dtype), "ones" if fill else "zeros")
    name = c.name(v)
    if order is not None and order != sorted(order):
        name = c.ctx.add("Transpose", [name], perm=order)
    return name


@lowers("batchNormalization")
def _batch_normalization(ctx: LoweringContext, node: Node) -> None:
    _, mean, var, scale, bias = node.inputs
    assert mean is not None and var is not None
    c = _Compute(ctx, node)
    if not ctx.strict and c.x.rank >= 2 and int(node.attributes["axis"]) == 1:
        channels = [c.x.shape[1]]
        x = c.name(c.x)
        mean_name = c.name(mean)
        if c.x.rank != 4:
            # ONNX Runtime's kernel computes x * a + (bias - mean * a): where x is close to
            # the mean the two products cancel (12 ULP on WPT's 2-D vectors, 6 allowed).
            # Centering first is exact enough; only 4-D inputs skip it, because there ONNX
            # Runtime turns the BatchNormalization into an NCHWc depthwise convolution fused
            # with its neighbours, which a Sub in front prevents (DenseNet-121: 1.30x slower).
            x = ctx.add("Sub", [x, _broadcast_param(ctx, mean_name, c.x.rank, [1], list(c.x.shape))])
            mean_name = _param_or(c, None, 0.0, channels)
        c.native(
            "BatchNormalization",
            [x, _param_or(c, scale, 1.0, channels), _param_or(c, bias, 0.0, channels),
             mean_name, c.name(var)],
            epsilon=float(node.attributes["epsilon"]),
        )
        return
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
    if not ctx.strict and nchw:
        channels = [c.x.shape[1]]
        c.native(
            "InstanceNormalization",
            [c.name(c.x), _param_or(c, scale, 1.0, channels), _param_or(c, bias, 0.0, channels)],
            epsilon=float(node.attributes["epsilon"]),
        )
        return
    centered, var = _moments(ctx, c.name(c.x), [2, 3] if nchw else [1, 2])
    channel = [1 if nchw else 3]
    _normalize(ctx, c, centered, var, float(node.attributes["epsilon"]), scale, bias, channel)


@lowers("layerNormalization")
def _layer_normalization(ctx: LoweringContext, node: Node) -> None:
    _, scale, bias = node.inputs
    c = _Compute(ctx, node)
    axes = [int(a) for a in node.attributes["axes"]]
    first = c.x.rank - len(axes)
    if not ctx.strict and axes and sorted(axes) == list(range(first, c.x.rank)):
        # the normalized axes are the trailing ones, in any order: ONNX's axis=first
        order = sorted(range(len(axes)), key=lambda i: axes[i])
        dims = list(c.x.shape[first:])
        inputs = [c.name(c.x), _param_or(c, scale, 1.0, dims, order)]
        if bias is not None:
            inputs.append(_param_or(c, bias, 0.0, dims, order))
        c.native("LayerNormalization", inputs, axis=first, epsilon=float(node.attributes["epsilon"]))
        return
    centered, var = _moments(ctx, c.name(c.x), sorted(axes))
    _normalize(ctx, c, centered, var, float(node.attributes["epsilon"]), scale, bias, axes)

