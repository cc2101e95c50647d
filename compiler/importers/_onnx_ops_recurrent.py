"""ONNX LSTM and GRU -> WebNN lstm / gru.

# NOTE: WebNN's default gate layouts were chosen to match ONNX: lstm "iofg" is ONNX's
# i, o, f, c order and gru "zrn" is ONNX's z, r, h order, so weights pass through unchanged.
# ONNX packs the input and recurrent biases into one [dirs, 2 * gates * hidden] tensor; WebNN
# takes them separately. ONNX's linear_before_reset=1 is WebNN's reset_after=true.
"""

from __future__ import annotations

import numpy as np

from webnnc.compiler.frontend import MLOperand
from webnnc.compiler.importers._onnx_core import (
    ImportContext,
    OnnxNode,
    Tensor,
    Unsupported,
    onnx_op,
)

__all__: list[str] = []

_DIRECTIONS = {"forward": "forward", "reverse": "backward", "bidirectional": "both"}
_ACTIVATIONS = {"Sigmoid": "sigmoid", "Tanh": "tanh", "Relu": "relu"}


def _common(ctx: ImportContext, node: OnnxNode, gates: int) -> tuple[MLOperand, dict[str, object], bool]:
    node.reject_attr("clip", None, "WebNN recurrent networks do not clip cell values")
    for key in ("activation_alpha", "activation_beta"):
        if node.attr(key):
            raise Unsupported(f"attribute {key} is not supported: WebNN activations take no parameters")
    direction = node.attr("direction", "forward")
    if direction not in _DIRECTIONS:
        raise Unsupported(f"direction={direction!r} is not an ONNX value")
    x = ctx.operand(node.inputs[0])  # type: ignore[arg-type]
    batch_first = bool(node.attr("layout", 0))
    if batch_first:  # [batch, steps, input] -> [steps, batch, input]
        x = ctx.call("transpose", x, permutation=[1, 0, 2])
    steps = x.shape[0]
    lens = node.input(4)
    if lens is not None and (isinstance(lens, MLOperand) or not np.all(np.asarray(lens) == steps)):
        raise Unsupported("sequence_lens with sequences shorter than the input: WebNN runs every step")
    hidden = int(node.attr("hidden_size", ctx.shape(node.inputs[2])[-1]))  # type: ignore[arg-type]
    options: dict[str, object] = {"direction": _DIRECTIONS[direction], "return_sequence": 0 in node.used_outputs}
    b = node.input(3)
    if b is not None:
        width = gates * hidden
        if isinstance(b, MLOperand):
            dirs = b.shape[0]
            options["bias"] = ctx.call("slice", b, [0, 0], [dirs, width])
            options["recurrent_bias"] = ctx.call("slice", b, [0, width], [dirs, width])
        else:
            options["bias"] = ctx.operand(np.ascontiguousarray(b[:, :width]), like=x)
            options["recurrent_bias"] = ctx.operand(np.ascontiguousarray(b[:, width:]), like=x)
    h0 = node.input(5)
    if h0 is not None:
        options["initial_hidden_state"] = ctx.operand(h0)
    acts = node.attr("activations")
    if acts is not None:
        names = list(acts)
        dirs = 2 if direction == "bidirectional" else 1
        per_dir = len(names) // dirs
        if dirs == 2 and names[:per_dir] != names[per_dir:]:
            raise Unsupported(f"different activations per direction {names}: WebNN uses one list")
        try:
            options["activations"] = [_ACTIVATIONS[a] for a in names[:per_dir]]
        except KeyError as e:
            raise Unsupported(f"activation {e.args[0]!r}: WebNN recurrent activations are relu, sigmoid, tanh") from None
    options["steps"] = steps
    options["hidden_size"] = hidden
    return x, options, batch_first


def _sequence_out(ctx: ImportContext, y: MLOperand, batch_first: bool) -> MLOperand:
    # WebNN: [steps, dirs, batch, hidden]; ONNX layout=1 wants [batch, steps, dirs, hidden]
    return ctx.call("transpose", y, permutation=[2, 0, 1, 3]) if batch_first else y


def _state_out(ctx: ImportContext, h: MLOperand, batch_first: bool) -> MLOperand:
    # WebNN: [dirs, batch, hidden]; ONNX layout=1 wants [batch, dirs, hidden]
    return ctx.call("transpose", h, permutation=[1, 0, 2]) if batch_first else h


@onnx_op("LSTM", webnn=["lstm", "slice", "transpose"],
         note="gate order iofc = WebNN iofg; packed biases are split; layout=1 transposes")
def _lstm(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    node.reject_attr("input_forget", 0, "WebNN lstm has no coupled input-forget gate")
    x, options, batch_first = _common(ctx, node, 4)
    c0, peephole = node.input(6), node.input(7)
    if c0 is not None:
        options["initial_cell_state"] = ctx.operand(c0)
    if peephole is not None:
        options["peephole_weight"] = ctx.operand(peephole, like=x if not isinstance(peephole, MLOperand) else None)
    steps, hidden = options.pop("steps"), options.pop("hidden_size")
    w, r = ctx.operand(node.inputs[1]), ctx.operand(node.inputs[2])  # type: ignore[arg-type]
    outs = ctx.call("lstm", x, w, r, steps, hidden, **options)
    h, c = _state_out(ctx, outs[0], batch_first), _state_out(ctx, outs[1], batch_first)
    y = _sequence_out(ctx, outs[2], batch_first) if options["return_sequence"] else None
    return [y, h, c]


@onnx_op("GRU", webnn=["gru", "slice", "transpose"],
         note="gate order zrh = WebNN zrn; linear_before_reset=1 is reset_after; layout=1 transposes")
def _gru(ctx: ImportContext, node: OnnxNode) -> list[Tensor | None]:
    x, options, batch_first = _common(ctx, node, 3)
    options["reset_after"] = bool(node.attr("linear_before_reset", 0))
    steps, hidden = options.pop("steps"), options.pop("hidden_size")
    w, r = ctx.operand(node.inputs[1]), ctx.operand(node.inputs[2])  # type: ignore[arg-type]
    outs = ctx.call("gru", x, w, r, steps, hidden, **options)
    h = _state_out(ctx, outs[0], batch_first)
    y = _sequence_out(ctx, outs[1], batch_first) if options["return_sequence"] else None
    return [y, h]
