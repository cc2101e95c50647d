"""CoreML lowerings of the normalization operators.

batchNormalization maps onto MIL's batch_norm when its parameters are constants along
axis 1; every other form is computed element-wise from reduce_mean.
"""

from __future__ import annotations

from typing import Any

import numpy as np
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
from webnnc.compiler.ir import DataType, Node, Value

__all__ = ["LOWERINGS"]

LOWERINGS = LoweringTable()
lowers = LOWERINGS.lowers


@lowers("batchNormalization", data_types=FLOATS)
def _batch_normalization(ctx: MilContext, node: Node) -> Var:
    x, mean, var, scale, bias = node.inputs
    assert x is not None and mean is not None and var is not None
    axis = int(node.attributes["axis"])
    eps = float(node.attributes["epsilon"])
    dt = x.data_type
    params = [p for p in (mean, var, scale, bias) if p is not None]
    if axis == 1 and 3 <= x.rank <= 5 and all(p.is_constant for p in params):
        kwargs: dict[str, Any] = {}
        if scale is not None:
            kwargs["gamma"] = ctx.var(scale)
        if bias is not None:
            kwargs["beta"] = ctx.var(bias)
        return mb.batch_norm(
            x=ctx.var(x), mean=ctx.var(mean), variance=ctx.var(var), epsilon=dt.numpy_dtype.type(eps),
            name=op_name(ctx, node), **kwargs,
        )
    # Any other axis, rank or computed parameters: broadcast the 1-D parameters along
    # `axis` and compute (x - mean) / sqrt(var + eps) * scale + bias element-wise.
    bshape = [1] * x.rank
    bshape[axis] = x.shape[axis]

    def param(v: Value) -> Var:
        if v.is_constant:
            assert v.const is not None
            return ctx.const(v.const.reshape(bshape), dt, "bn_param")
        return mb.reshape(x=ctx.var(v), shape=bshape, name=ctx.fresh("bn_param"))

    centered = mb.sub(x=ctx.var(x), y=param(mean), name=ctx.fresh("bn_center"))
    denom = mb.sqrt(x=mb.add(x=param(var), y=ctx.const(eps, dt, "eps"), name=ctx.fresh("bn_var")), name=ctx.fresh("bn_std"))
    y = mb.real_div(x=centered, y=denom, name=ctx.fresh("bn_norm"))
    if scale is not None:
        y = mb.mul(x=y, y=param(scale), name=ctx.fresh("bn_scale"))
    if bias is not None:
        y = mb.add(x=y, y=param(bias), name=ctx.fresh("bn_bias"))
    return y


def _broadcast_param(ctx: MilContext, v: Value, shape: list[int], dt: DataType, perm: list[int] | None = None) -> Var:
    """A parameter reshaped (after an optional transpose) to broadcast against the input."""
    if v.is_constant:
        assert v.const is not None
        arr = v.const if perm is None else np.transpose(v.const, perm)
        return ctx.const(arr.reshape(shape), dt, "norm_param")
    var = ctx.var(v)
    if perm is not None:
        var = mb.transpose(x=var, perm=perm, name=ctx.fresh("norm_param_t"))
    return mb.reshape(x=var, shape=np.asarray(shape, np.int32), name=ctx.fresh("norm_param"))


def _normalize(ctx: MilContext, node: Node, axes: list[int], eps: float) -> Var:
    """(x - mean) / sqrt(var + eps) over ``axes`` (biased variance), kept dims."""
    x = ctx.var(operand(node))
    dt = input_type(node)
    mean = mb.reduce_mean(x=x, axes=axes, keep_dims=True, name=ctx.fresh("norm_mean"))
    centered = mb.sub(x=x, y=mean, name=ctx.fresh("norm_center"))
    var = mb.reduce_mean(x=mb.mul(x=centered, y=centered, name=ctx.fresh("norm_sq")), axes=axes, keep_dims=True,
                         name=ctx.fresh("norm_var"))
    std = mb.sqrt(x=mb.add(x=var, y=ctx.const(eps, dt, "eps"), name=ctx.fresh("norm_var_eps")), name=ctx.fresh("norm_std"))
    return mb.real_div(x=centered, y=std, name=ctx.fresh("norm"))


@lowers("instanceNormalization", data_types=FLOATS)
def _instance_normalization(ctx: MilContext, node: Node) -> Var:
    x, scale, bias = operand(node), node.inputs[1], node.inputs[2]
    nhwc = node.attributes["layout"] == "nhwc"
    channel = x.rank - 1 if nhwc else 1
    spatial = list(range(1, x.rank - 1)) if nhwc else list(range(2, x.rank))
    bshape = [1] * x.rank
    bshape[channel] = x.shape[channel]
    y = _normalize(ctx, node, spatial, float(node.attributes["epsilon"]))
    if scale is not None:
        y = mb.mul(x=y, y=_broadcast_param(ctx, scale, bshape, x.data_type), name=ctx.fresh("norm_scale"))
    if bias is not None:
        y = mb.add(x=y, y=_broadcast_param(ctx, bias, bshape, x.data_type), name=ctx.fresh("norm_bias"))
    return mb.identity(x=y, name=op_name(ctx, node))


@lowers("layerNormalization", data_types=FLOATS)
def _layer_normalization(ctx: MilContext, node: Node) -> Var:
    x, scale, bias = operand(node), node.inputs[1], node.inputs[2]
    axes = [int(a) for a in node.attributes["axes"]]
    if not axes:  # nothing to normalize over: (x - x) / sqrt(0 + eps) * scale + bias
        y = mb.mul(x=ctx.var(x), y=ctx.const(0, x.data_type, "zero"), name=ctx.fresh("norm_zero"))
    else:
        y = _normalize(ctx, node, axes, float(node.attributes["epsilon"]))
    # scale / bias have the shape of x's dims at `axes`, in the order of `axes`
    bshape = [x.shape[d] if d in axes else 1 for d in range(x.rank)]
    order = sorted(range(len(axes)), key=lambda i: axes[i])
    perm = order if order != list(range(len(axes))) else None
    if scale is not None:
        y = mb.mul(x=y, y=_broadcast_param(ctx, scale, bshape, x.data_type, perm), name=ctx.fresh("norm_scale"))
    if bias is not None:
        y = mb.add(x=y, y=_broadcast_param(ctx, bias, bshape, x.data_type, perm), name=ctx.fresh("norm_bias"))
    return mb.identity(x=y, name=op_name(ctx, node))
