"""3-D (volumetric) ONNX convolution and pooling as exact compositions of WebNN's 2-D ops.

WebNN has ``conv2d`` and 2-D pooling only; video and medical models (R3D, MC3, X3D, 3-D
U-Nets) use ``Conv`` / ``MaxPool`` / ``AveragePool`` on 5-D ``[N, C, D, H, W]`` inputs.

- **Conv**: a sum over the kernel's depth. The input is transposed to ``[N, D, C, H, W]`` (and
  padded along D); for each kernel depth ``k`` one ``gather`` along D takes the input depth
  every output depth reads, ``od * stride + k * dilation``, with the output depths in the
  batch: ``[N*OD, C, H, W]``; one ``conv2d`` with the filter's slice ``[O, C/G, KH, KW]`` at
  ``k`` computes its share of every output depth, and the ``KD`` shares are added (ONNX
  Runtime folds each add into the convolution of its second term); a reshape and a transpose return
  ``[N, O, OD, OH, OW]``. The work is the same GEMMs as ORT's own 3-D convolution. Gathering
  all ``KD`` depths into the channels for one ``conv2d`` instead (``[N*OD, KD*C, H, W]``)
  held ``KD`` copies of the input, plus their NCHWc reorder, at once: r3d_18 (ORT 1.32,
  2 cores) peaked at 266 MiB against ORT's 225 on the original, and the sum form at 240, for
  0.965 of the CPU time (0.85 of ORT's). A temporal ``KD x 1 x 1`` convolution needs none of
  it: H and W merge and D becomes the conv2d's H.
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
    """ONNX ``Conv`` on a 5-D input as ``conv2d``s (the module docstring says how)."""
    n, c, d, h, wd = x.shape
    o, cg, kd, kh, kw = ctx.shape(w)
    groups = int(node.attr("group", 1))
    strides = [int(s) for s in node.attr("strides", [1, 1, 1])]
    dilations = [int(s) for s in node.attr("dilations", [1, 1, 1])]
    pads = spatial_pads(node, [d, h, wd], [kd, kh, kw], strides, dilations)  # [d0, d1, h0, h1, w0, w1]
    b = None if bias is None else ctx.operand(bias)
    if [kh, kw, strides[1], strides[2], *pads[2:]] == [1, 1, 1, 1, 0, 0, 0, 0]:
        # a temporal (KD x 1 x 1) convolution, as in S3D / R(2+1)D: H and W merge into one axis
        # and the depth is the conv2d's H; no data moves (s3d: its 7 temporal convs were 19% of
        # the unrolled form's time in slices, concats and transposes)
        w4 = _filter(ctx, w, [o, cg, kd, 1])
        y = ctx.call("conv2d", ctx.reshape(x, [n, c, d, h * wd]), w4, padding=[pads[0], pads[1], 0, 0],
                     strides=[strides[0], 1], dilations=[dilations[0], 1], groups=groups, bias=b)
        return ctx.reshape(y, [n, o, y.shape[2], h, wd])
    od = _out_len(d + pads[0] + pads[1], kd, strides[0], dilations[0])
    if od < 1:
        raise Unsupported(f"depth {d} is smaller than the dilated kernel depth {(kd - 1) * dilations[0] + 1}")
    # depth next to the batch (one transpose, and the depth padding); then, per kernel depth k,
    # the input depths it reads for every output depth, od * stride + k * dilation, in one
    # gather: [N, D', C, H, W] -> [N*OD, C, H, W], convolved with the filter's slice k
    xt = ctx.call("transpose", x, permutation=[0, 2, 1, 3, 4])
    if pads[0] or pads[1]:
        xt = ctx.call("pad", xt, [0, pads[0], 0, 0, 0], [0, pads[1], 0, 0, 0])
    acc: MLOperand | None = None
    for k in range(kd):
        taps = np.arange(od) * strides[0] + k * dilations[0]
        if xt.shape[1] == od and k * dilations[0] == 0 and strides[0] == 1:
            cols = xt  # every depth, in order: nothing to gather
        else:
            cols = ctx.call("gather", xt, ctx.operand(taps.astype(np.int32)), axis=1)
        part = ctx.call("conv2d", ctx.reshape(cols, [n * od, c, h, wd]), _filter_tap(ctx, w, k),
                        padding=pads[2:], strides=strides[1:], dilations=dilations[1:], groups=groups,
                        bias=b if k == 0 else None)
        acc = part if acc is None else ctx.call("add", acc, part)  # ORT folds it into part's conv
    assert acc is not None
    _, _, oh, ow = acc.shape
    result: MLOperand = ctx.call("transpose", ctx.reshape(acc, [n, od, o, oh, ow]), permutation=[0, 2, 1, 3, 4])
    return result


def _filter_tap(ctx: ImportContext, w: Tensor, k: int) -> MLOperand:
    """Depth slice ``k`` of the 5-D filter ``[O, C/G, KD, KH, KW]`` as a 4-D conv2d filter."""
    if isinstance(w, MLOperand):
        o, cg, _, kh, kw = w.shape
        return ctx.reshape(ctx.call("slice", w, [0, 0, k, 0, 0], [o, cg, 1, kh, kw]), [o, cg, kh, kw])
    return ctx.operand(np.ascontiguousarray(np.asarray(w)[:, :, k]))


def _filter(ctx: ImportContext, w: Tensor, shape: list[int]) -> MLOperand:
    """The 5-D filter reshaped to a 4-D one (folded when constant)."""
    if isinstance(w, MLOperand):
        return ctx.reshape(w, shape)
    return ctx.operand(np.ascontiguousarray(np.asarray(w).reshape(shape)))


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

    # H x W with depth folded into the batch (skipped when the window is 1 x 1, stride 1)
    if [*kernel[1:], *strides[1:], *pads[2:]] == [1, 1, 1, 1, 0, 0, 0, 0]:
        back, oh, ow = x, h, w
    else:
        hw = pool(ctx.reshape(ctx.call("transpose", x, permutation=[0, 2, 1, 3, 4]), [n * d, c, h, w]),
                  kernel[1:], strides[1:], dilations[1:], pads[2:])
        _, _, oh, ow = hw.shape
        back = ctx.call("transpose", ctx.reshape(hw, [n, d, c, oh, ow]), permutation=[0, 2, 1, 3, 4])
    if [kernel[0], strides[0], pads[0], pads[1]] == [1, 1, 0, 0]:
        return back
    # D as the first axis of a [KD, 1] window: [N, C, D, OH, OW] -> [N, C, D, OH*OW]
    dd = pool(ctx.reshape(back, [n, c, d, oh * ow]), [kernel[0], 1], [strides[0], 1], [dilations[0], 1],
              [pads[0], pads[1], 0, 0])
    return ctx.reshape(dd, [n, c, dd.shape[2], oh, ow])
