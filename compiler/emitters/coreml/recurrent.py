"""CoreML lowerings of the recurrent operators (gru, lstm and their cells), unrolled.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from coremltools.converters.mil import Builder as mb  # noqa: N813 - the MIL idiom
from coremltools.converters.mil.mil import Var

from webnnc.compiler.emitters.coreml._core import (
    FLOATS,
    LoweringTable,
    MilContext,
    input_type,
    operand,
)
from webnnc.compiler.ir import DataType, Node, Value

__all__ = ["LOWERINGS"]

LOWERINGS = LoweringTable()
lowers = LOWERINGS.lowers


# NOTE: WebNN's recurrent ops have static step counts, so they are unrolled into matmuls
# and element-wise ops: MIL's own gru / lstm fix the gate order, activations and the
# reset-after form, and the spec's options (layouts, reset_after=False, peepholes, any
# activation) do not all map onto them.
_RNN_ACT = {"sigmoid": mb.sigmoid, "tanh": mb.tanh, "relu": mb.relu}


def _pick(ctx: MilContext, var: Var, index: int, hint: str) -> Var:
    """``var[index]`` along axis 0 (drops the axis)."""
    return mb.gather(x=var, indices=np.int32(index), axis=0, name=ctx.fresh(hint))


def _gate(ctx: MilContext, var: Var, layout: str, gate: str, hidden: int) -> Var:
    """The ``gate`` block of the last axis of ``var`` (gates stacked in ``layout`` order)."""
    i = layout.index(gate)
    rank = len(var.shape)
    begin = [0] * rank
    end = list(var.shape)
    begin[-1], end[-1] = i * hidden, (i + 1) * hidden
    return mb.slice_by_index(x=var, begin=np.asarray(begin, np.int32), end=np.asarray(end, np.int32),
                             name=ctx.fresh(f"gate_{gate}"))


def _act(ctx: MilContext, name: str, x: Var) -> Var:
    return _RNN_ACT[name](x=x, name=ctx.fresh(name))


def _affine(ctx: MilContext, x: Var, w: Var, b: Var | None, hint: str) -> Var:
    y = mb.matmul(x=x, y=w, transpose_y=True, name=ctx.fresh(hint))
    return mb.add(x=y, y=b, name=ctx.fresh(hint + "_bias")) if b is not None else y


def _gru_step(
    ctx: MilContext, x: Var, h: Var, w: Var, r: Var, b: Var | None, rb: Var | None,
    hidden: int, layout: str, reset_after: bool, acts: Sequence[str],
) -> Var:
    xw = _affine(ctx, x, w, b, "gru_x")
    hr = _affine(ctx, h, r, rb, "gru_h")

    def gate(t: Var, g: str) -> Var:
        return _gate(ctx, t, layout, g, hidden)

    z = _act(ctx, acts[0], mb.add(x=gate(xw, "z"), y=gate(hr, "z"), name=ctx.fresh("gru_z")))
    rr = _act(ctx, acts[0], mb.add(x=gate(xw, "r"), y=gate(hr, "r"), name=ctx.fresh("gru_r")))
    if reset_after:
        inner = mb.mul(x=rr, y=gate(hr, "n"), name=ctx.fresh("gru_rh"))
    else:
        # (r * h) R_n^T + rb_n: the recurrent product of the reset state
        r_n = _gate(ctx, mb.transpose(x=r, perm=[1, 0], name=ctx.fresh("gru_rt")), layout, "n", hidden)
        inner = mb.matmul(x=mb.mul(x=rr, y=h, name=ctx.fresh("gru_rh")), y=r_n, name=ctx.fresh("gru_rhr"))
        if rb is not None:
            inner = mb.add(x=inner, y=gate(rb, "n"), name=ctx.fresh("gru_rhb"))
    n = _act(ctx, acts[1], mb.add(x=gate(xw, "n"), y=inner, name=ctx.fresh("gru_n")))
    # h' = (1 - z) * n + z * h = n + z * (h - n)
    return mb.add(x=n, y=mb.mul(x=z, y=mb.sub(x=h, y=n, name=ctx.fresh("gru_d")), name=ctx.fresh("gru_zd")),
                  name=ctx.fresh("gru_h_next"))


def _lstm_step(
    ctx: MilContext, x: Var, h: Var, c: Var, w: Var, r: Var, b: Var | None, rb: Var | None,
    p: Var | None, hidden: int, layout: str, acts: Sequence[str],
) -> tuple[Var, Var]:
    pre = mb.add(x=_affine(ctx, x, w, b, "lstm_x"), y=_affine(ctx, h, r, rb, "lstm_h"), name=ctx.fresh("lstm_pre"))

    def gate(g: str) -> Var:
        return _gate(ctx, pre, layout, g, hidden)

    def peep(g: str, state: Var) -> Var | None:
        if p is None:
            return None
        return mb.mul(x=_gate(ctx, p, "iof", g, hidden), y=state, name=ctx.fresh(f"lstm_p{g}"))

    def with_peep(g: str, state: Var) -> Var:
        extra = peep(g, state)
        return gate(g) if extra is None else mb.add(x=gate(g), y=extra, name=ctx.fresh(f"lstm_{g}p"))

    i = _act(ctx, acts[0], with_peep("i", c))
    f = _act(ctx, acts[0], with_peep("f", c))
    g = _act(ctx, acts[1], gate("g"))
    c_next = mb.add(x=mb.mul(x=f, y=c, name=ctx.fresh("lstm_fc")), y=mb.mul(x=i, y=g, name=ctx.fresh("lstm_ig")),
                    name=ctx.fresh("lstm_c_next"))
    o = _act(ctx, acts[0], with_peep("o", c_next))
    h_next = mb.mul(x=o, y=_act(ctx, acts[2], c_next), name=ctx.fresh("lstm_h_next"))
    return h_next, c_next


def _opt(ctx: MilContext, v: Value | None) -> Var | None:
    return None if v is None else ctx.var(v)


def _zeros(ctx: MilContext, shape: Sequence[int], dt: DataType) -> Var:
    return ctx.const(np.zeros(shape), dt, "zeros")


@lowers("gruCell", data_types=FLOATS)
def _gru_cell(ctx: MilContext, node: Node) -> Var:
    x, w, r, h, b, rb = node.inputs
    a = node.attributes
    return _gru_step(
        ctx, ctx.var(x), ctx.var(h), ctx.var(w), ctx.var(r), _opt(ctx, b), _opt(ctx, rb),
        int(a["hidden_size"]), str(a["layout"]), bool(a["reset_after"]), [str(s) for s in a["activations"]],
    )


@lowers("lstmCell", data_types=FLOATS)
def _lstm_cell(ctx: MilContext, node: Node) -> Sequence[Var]:
    x, w, r, h, b, rb, c, p = node.inputs
    a = node.attributes
    return _lstm_step(
        ctx, ctx.var(x), ctx.var(h), ctx.var(c), ctx.var(w), ctx.var(r), _opt(ctx, b), _opt(ctx, rb),
        _opt(ctx, p), int(a["hidden_size"]), str(a["layout"]), [str(s) for s in a["activations"]],
    )


@lowers("gru", "lstm", data_types=FLOATS)
def _recurrent_network(ctx: MilContext, node: Node) -> Sequence[Var]:
    a = node.attributes
    lstm = node.op_type == "lstm"
    x, w, r, b, rb, h0 = node.inputs[:6]
    p, c0 = (node.inputs[6], node.inputs[7]) if lstm else (None, None)
    steps, hidden = int(a["steps"]), int(a["hidden_size"])
    direction = str(a["direction"])
    dirs = 2 if direction == "both" else 1
    dt = input_type(node)
    batch = operand(node).shape[1]
    acts = [str(s) for s in a["activations"]]
    xv = ctx.var(x)
    inputs = [_pick(ctx, xv, t, "x_t") for t in range(steps)]
    finals_h: list[Var] = []
    finals_c: list[Var] = []
    seq: list[list[Var | None]] = [[None] * dirs for _ in range(steps)]
    for d in range(dirs):
        def per_dir(v: Value | None, hint: str, d: int = d) -> Var | None:
            return None if v is None else _pick(ctx, ctx.var(v), d, hint)

        wd, rd = per_dir(w, "w_d"), per_dir(r, "r_d")
        assert wd is not None and rd is not None
        bd, rbd, pd = per_dir(b, "b_d"), per_dir(rb, "rb_d"), per_dir(p, "p_d")
        h_init, c_init = per_dir(h0, "h0_d"), per_dir(c0, "c0_d")
        h = h_init if h_init is not None else _zeros(ctx, [batch, hidden], dt)
        c = c_init if c_init is not None else _zeros(ctx, [batch, hidden], dt)
        backward = d == 1 or direction == "backward"
        for step in range(steps):
            t = steps - 1 - step if backward else step
            if lstm:
                h, c = _lstm_step(ctx, inputs[t], h, c, wd, rd, bd, rbd, pd, hidden, str(a["layout"]), acts)
            else:
                h = _gru_step(ctx, inputs[t], h, wd, rd, bd, rbd, hidden, str(a["layout"]), bool(a["reset_after"]), acts)
            seq[t][d] = h
        finals_h.append(h)
        finals_c.append(c)

    def stack(vs: Sequence[Var | None], hint: str) -> Var:
        return mb.stack(values=list(vs), axis=0, name=ctx.fresh(hint))

    outs = [stack(finals_h, "hidden")]
    if lstm:
        outs.append(stack(finals_c, "cell"))
    if bool(a["return_sequence"]):
        outs.append(stack([stack(row, "seq_t") for row in seq], "sequence"))
    return outs
