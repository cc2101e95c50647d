"""3-D (volumetric) ONNX convolution and pooling as exact compositions of WebNN's 2-D ops.

WebNN has ``conv2d`` and 2-D pooling only; video and medical models (R3D, MC3, X3D, 3-D
U-Nets) use ``Conv`` / ``MaxPool`` / ``AveragePool`` on 5-D ``[N, C, D, H, W]`` inputs.

- **Conv**: the depth axis is unrolled into channels. For each of the ``KD`` kernel depths the
  (padded) input is sliced along depth with the conv's depth stride and dilation, the ``KD``
  slices are stacked next to the channels and the output depths move into the batch:
  ``[N*OD, G*KD*C/G, H, W]``. One ``conv2d`` with the filter ``[O, C/G, KD, KH, KW]``
  rearranged to ``[O, KD*C/G, KH, KW]`` (group-major channel order, so ``groups`` keeps its
  meaning) then computes every output depth at once; a reshape and a transpose return
  ``[N, O, OD, OH, OW]``. This is the depth part of im2col that ORT's own 3-D convolution
  does anyway, so the work is the same one GEMM per output.
- **MaxPool / AveragePool**: a box maximum or average over ``D x H x W`` is separable: pool
  ``H x W`` with ``D`` folded into the batch, then pool ``D`` as the first axis of a 2-D
  window ``[KD, 1]``. For averages that exclude padding the valid count of a box is the product
  of the per-axis counts, so the two passes stay exact; ``count_include_pad=1`` divides by the
  full box size in each pass, equally exact.
- **Global pools** reduce over ``D*H*W`` flattened into one spatial axis.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from webnnc.compiler.frontend import MLOperand
from webnnc.compiler.importers._onnx_core import ImportContext, OnnxNode, Tensor, Unsupported, prod

__all__ = ["conv3d", "global_pool_nd", "pool3d"]


def _out_len(size: int, kernel: int, stride: int, dilation: int, ceil: bool = False) -> int:
    span = size - (kernel - 1) * dilation - 1
    return (-(-span // stride) if ceil else span // stride) + 1


def conv3d(ctx: ImportContext, node: OnnxNode, x: MLOperand, w: Tensor, bias: Tensor | None,
           spatial_pads: Callable[..., list[int]]) -> MLOperand:
    """ONNX ``Conv`` on a 5-D input as one ``conv2d`` over depth-unrolled channels."""
    n, c, d, h, wd = x.shape
    o, cg, kd, kh, kw = ctx.shape(w)
    groups = int(node.attr("group", 1))
    strides = [int(s) for s in node.attr("strides", [1, 1, 1])]
    dilations = [int(s) for s in node.attr("dilations", [1, 1, 1])]
    pads = spatial_pads(node, [d, h, wd], [kd, kh, kw], strides, dilations)  # [d0, d1, h0, h1, w0, w1]
    if pads[0] or pads[1]:
        x = ctx.call("pad", x, [0, 0, pads[0], 0, 0], [0, 0, pads[1], 0, 0])
    dp = d + pads[0] + pads[1]
    od = _out_len(dp, kd, strides[0], dilations[0])
    if od < 1:
        raise Unsupported(f"depth {d} is smaller than the dilated kernel depth {(kd - 1) * dilations[0] + 1}")
    span = (od - 1) * strides[0] + 1
    slices = [ctx.call("slice", x, [0, 0, k * dilations[0], 0, 0], [n, c, span, h, wd],
                       strides=[1, 1, strides[0], 1, 1]) for k in range(kd)]
    # [N, G, 1, C/G, OD, H, W] per depth tap -> [N, G, KD, C/G, OD, H, W] -> [N, OD, G, KD, C/G, H, W]
    stacked = [ctx.reshape(s, [n, groups, 1, cg, od, h, wd]) for s in slices]
    cat = stacked[0] if kd == 1 else ctx.call("concat", stacked, 2)
    cols = ctx.call("transpose", cat, permutation=[0, 4, 1, 2, 3, 5, 6])
    x4 = ctx.reshape(cols, [n * od, groups * kd * cg, h, wd])
    if isinstance(w, MLOperand):
        w4 = ctx.reshape(ctx.call("transpose", w, permutation=[0, 2, 1, 3, 4]), [o, kd * cg, kh, kw])
    else:
        w4 = np.ascontiguousarray(np.asarray(w).transpose(0, 2, 1, 3, 4).reshape(o, kd * cg, kh, kw))
    y = ctx.call("conv2d", x4, ctx.operand(w4), padding=pads[2:], strides=strides[1:],
                 dilations=dilations[1:], groups=groups, bias=None if bias is None else ctx.operand(bias))
    _, _, oh, ow = y.shape
    y5 = ctx.reshape(y, [n, od, o, oh, ow])
    result: MLOperand = ctx.call("transpose", y5, permutation=[0, 2, 1, 3, 4])
    return result


def global_pool_nd(ctx: ImportContext, op: str, x: MLOperand) -> MLOperand:
    """Global pooling of a rank >= 5 input: the spatial axes flattened into one."""
    n, c, *spatial = x.shape
    y = ctx.call(op, ctx.reshape(x, [n, c, prod(spatial), 1]), window_dimensions=[prod(spatial), 1])
    return ctx.reshape(y, [n, c, *([1] * len(spatial))])


def pool3d(ctx: ImportContext, node: OnnxNode, op: str, x: MLOperand,
           spatial_pads: Callable[..., list[int]], rounding: Callable[..., str]) -> MLOperand:
    """ONNX ``MaxPool`` / ``AveragePool`` on a 5-D input as two separable 2-D pools."""
    n, c, d, h, w = x.shape
    kernel = [int(k) for k in node.attr("kernel_shape")]
    strides = [int(s) for s in node.attr("strides", [1, 1, 1])]
    dilations = [int(s) for s in node.attr("dilations", [1, 1, 1])]
    pads = spatial_pads(node, [d, h, w], kernel, strides, dilations)
    include_pad = op == "averagePool2d" and int(node.attr("count_include_pad", 0)) == 1
    if include_pad and any(pads):
        if node.attr("ceil_mode", 0):
            raise Unsupported("count_include_pad=1 together with ceil_mode=1 is not mapped")
        # separable with the full box as divisor: pad explicitly (zeros), pool without padding
        x = ctx.call("pad", x, [0, 0, pads[0], pads[2], pads[4]], [0, 0, pads[1], pads[3], pads[5]])
        n, c, d, h, w = x.shape
        pads = [0] * 6

    def pool(t: MLOperand, k: Sequence[int], s: Sequence[int], dl: Sequence[int], p: Sequence[int]) -> MLOperand:
        # ceil_mode per pass: the rule looks at each axis on its own, so two passes decide alike
        mode = rounding(node, t.shape[2:], k, p, s, dl)
        opts: dict[str, Any] = {"window_dimensions": list(k), "strides": list(s), "padding": list(p),
                                "rounding_type": mode}
        if list(dl) != [1, 1]:
            opts["dilations"] = list(dl)
        result: MLOperand = ctx.call(op, t, **opts)
        return result

    # H x W with depth folded into the batch
    hw = pool(ctx.reshape(ctx.call("transpose", x, permutation=[0, 2, 1, 3, 4]), [n * d, c, h, w]),
              kernel[1:], strides[1:], dilations[1:], pads[2:])
    _, _, oh, ow = hw.shape
    # D as the first axis of a [KD, 1] window: [N*D, C, OH, OW] -> [N, C, D, OH*OW]
    back = ctx.call("transpose", ctx.reshape(hw, [n, d, c, oh, ow]), permutation=[0, 2, 1, 3, 4])
    dd = pool(ctx.reshape(back, [n, c, d, oh * ow]), [kernel[0], 1], [strides[0], 1], [dilations[0], 1],
              [pads[0], pads[1], 0, 0])
    return ctx.reshape(dd, [n, c, dd.shape[2], oh, ow])
