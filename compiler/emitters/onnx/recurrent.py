"""ONNX lowerings of gru, gruCell, lstm and lstmCell, unrolled over the (static) steps.

NOTE: ONNX's GRU/LSTM operators differ from WebNN in gate layouts ("rzn", "ifgo"), bias
handling, the activations allowed per gate, and float16 support; unrolling into MatMul /
Add / activation nodes follows the spec's own step formulas term by term instead (the
graph grows linearly with ``steps``, which is static in WebNN). The input projections of all steps are one MatMul per direction; the sequence output is indexed by
input time step in both directions. float16 graphs compute in float32 and round once per
output.
"""

from __future__ import annotations

from collections.abc import Sequence

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
_ACTIVATIONS = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh"}


class _Unroller:
    """Shared plumbing: compute-type casts, per-direction parameters, gate slices."""

    def __init__(self, ctx: LoweringContext, node: Node) -> None:
        self.ctx = ctx
        self.node = node
        x = node.inputs[0]
        assert x is not None
        self.widen = x.data_type == DataType.FLOAT16
        self.hidden = int(node.attributes["hidden_size"])
        self.layout = str(node.attributes["layout"])
        self.acts = [_ACTIVATIONS[str(a)] for a in node.attributes["activations"]]
        self._cache: dict[int, str] = {}

    def name(self, v: Value | None) -> str | None:
        """The operand in the compute type (cast once per graph value)."""
        if v is None:
            return None
        if id(v) not in self._cache:
            n = self.ctx.name(v)
            self._cache[id(v)] = self.ctx.add("Cast", [n], to=_FLOAT) if self.widen else n
        return self._cache[id(v)]

    def direction(self, name: str | None, d: int | None) -> str | None:
        """Slice ``d`` of a parameter stacked by direction (``d`` None: unstacked)."""
        if name is None or d is None:
            return name
        return self.ctx.add("Gather", [name, self.ctx.const(np.asarray(d, np.int64), "dir")], axis=0)

    def transposed(self, name: str) -> str:
        return self.ctx.add("Transpose", [name], perm=[1, 0])

    def gate(self, t: str, letter: str, order: str | None = None) -> str:
        """Columns of gate ``letter`` of a ``[..., gates * hidden]`` tensor."""
        g = (order or self.layout).index(letter)
        h = self.hidden
        ctx = self.ctx
        return ctx.add("Slice", [t, ctx.int64s([g * h], "s"), ctx.int64s([(g + 1) * h], "e"), ctx.int64s([-1], "a")])

    def act(self, i: int, t: str) -> str:
        return self.ctx.add(self.acts[i], [t])

    def add(self, a: str, b: str | None) -> str:
        return a if b is None else self.ctx.add("Add", [a, b])

    def mul(self, a: str, b: str) -> str:
        return self.ctx.add("Mul", [a, b])

    def matmul(self, a: str, b: str) -> str:
        return self.ctx.add("MatMul", [a, b])

    def write(self, i: int, t: str) -> None:
        out = out_name(self.ctx, self.node, i)
        if self.widen:
            self.ctx.add("Cast", [t], [out], to=_FLOAT16)
        else:
            self.ctx.add("Identity", [t], [out])

    def stack(self, parts: Sequence[str]) -> str:
        """``[a, b, ...]`` of equal shapes -> one tensor with a new leading dimension."""
        axes = self.ctx.int64s([0], "axes")
        ups = [self.ctx.add("Unsqueeze", [p, axes]) for p in parts]
        return ups[0] if len(ups) == 1 else self.ctx.add("Concat", ups, axis=0)


def _gru_step(
    u: _Unroller, xw: str, h: str, r_t: str, rb: str | None, reset_after: bool
) -> str:
    """One GRU step given ``xw = x @ W^T + b`` (all gates) and ``r_t = R^T``."""
    hr = u.matmul(h, r_t)
    zr = u.add(u.add(xw, hr), rb)
    z = u.act(0, u.gate(zr, "z"))
    r = u.act(0, u.gate(zr, "r"))
    rb_n = u.gate(rb, "n") if rb is not None else None
    if reset_after:
        n_in = u.mul(r, u.add(u.gate(hr, "n"), rb_n))
    else:
        n_in = u.add(u.matmul(u.mul(r, h), u.gate(r_t, "n")), rb_n)
    n = u.act(1, u.add(u.gate(xw, "n"), n_in))
    one = u.ctx.const(np.asarray(1.0, np.float32), "one")
    return u.add(u.mul(u.ctx.add("Sub", [one, z]), n), u.mul(z, h))


def _lstm_step(
    u: _Unroller, xw: str, h: str, c: str, r_t: str, rb: str | None, peephole: str | None
) -> tuple[str, str]:
    """One LSTM step given ``xw = x @ W^T + b`` (all gates); returns (hidden, cell)."""
    pre = u.add(u.add(xw, u.matmul(h, r_t)), rb)

    def peep(letter: str, state: str) -> str | None:
        return None if peephole is None else u.mul(u.gate(peephole, letter, "iof"), state)

    i = u.act(0, u.add(u.gate(pre, "i"), peep("i", c)))
    f = u.act(0, u.add(u.gate(pre, "f"), peep("f", c)))
    g = u.act(1, u.gate(pre, "g"))
    c_new = u.add(u.mul(f, c), u.mul(i, g))
    o = u.act(0, u.add(u.gate(pre, "o"), peep("o", c_new)))
    return u.mul(o, u.act(2, c_new)), c_new


def _zeros(u: _Unroller, batch: int) -> str:
    return u.ctx.const(np.zeros((batch, u.hidden), np.float32), "zeros")  # compute type


@lowers("gru", "lstm")
def _network(ctx: LoweringContext, node: Node) -> None:
    u = _Unroller(ctx, node)
    lstm = node.op_type == "lstm"
    x, w, r, b, rb, h0 = node.inputs[:6]
    peephole, c0 = (node.inputs[6], node.inputs[7]) if lstm else (None, None)
    assert x is not None
    a = node.attributes
    steps, batch = x.shape[0], x.shape[1]
    direction = str(a["direction"])
    dirs = 2 if direction == "both" else 1
    xs = u.name(x)
    assert xs is not None
    states: list[tuple[str, str | None]] = []
    params: list[tuple[str, str, str | None, str | None, bool]] = []
    for d in range(dirs):
        w_t = u.transposed(u.direction(u.name(w), d) or "")
        xw_all = u.add(u.matmul(xs, w_t), u.direction(u.name(b), d))
        r_t = u.transposed(u.direction(u.name(r), d) or "")
        backward = direction == "backward" or d == 1
        params.append((xw_all, r_t, u.direction(u.name(rb), d), u.direction(u.name(peephole), d), backward))
        h = u.direction(u.name(h0), d) if h0 is not None else _zeros(u, batch)
        c = (u.direction(u.name(c0), d) if c0 is not None else _zeros(u, batch)) if lstm else None
        states.append((h or "", c))
    # the sequence output is indexed by input time step, whatever the direction
    at_time: list[list[str]] = [[""] * dirs for _ in range(steps)]
    for step in range(steps):
        for d, (xw_all, r_t, rb_d, peep_d, backward) in enumerate(params):
            t = steps - 1 - step if backward else step
            xw = ctx.add("Gather", [xw_all, ctx.const(np.asarray(t, np.int64), "t")], axis=0)
            h, c = states[d]
            if lstm:
                assert c is not None
                states[d] = _lstm_step(u, xw, h, c, r_t, rb_d, peep_d)
            else:
                states[d] = (_gru_step(u, xw, h, r_t, rb_d, bool(a["reset_after"])), None)
            at_time[t][d] = states[d][0]
    u.write(0, u.stack([s[0] for s in states]))
    if lstm:
        u.write(1, u.stack([s[1] or "" for s in states]))
    if a["return_sequence"]:
        u.write(len(node.outputs) - 1, u.stack([u.stack(hs) for hs in at_time]))


@lowers("gruCell")
def _gru_cell(ctx: LoweringContext, node: Node) -> None:
    u = _Unroller(ctx, node)
    x, w, r, h, b, rb = (u.name(v) for v in node.inputs)
    assert x is not None and w is not None and r is not None and h is not None
    xw = u.add(u.matmul(x, u.transposed(w)), b)
    u.write(0, _gru_step(u, xw, h, u.transposed(r), rb, bool(node.attributes["reset_after"])))


@lowers("lstmCell")
def _lstm_cell(ctx: LoweringContext, node: Node) -> None:
    u = _Unroller(ctx, node)
    x, w, r, h, b, rb, c, peephole = (u.name(v) for v in node.inputs)
    assert x is not None and w is not None and r is not None and h is not None and c is not None
    xw = u.add(u.matmul(x, u.transposed(w)), b)
    h_new, c_new = _lstm_step(u, xw, h, c, u.transposed(r), rb, peephole)
    u.write(0, h_new)
    u.write(1, c_new)
