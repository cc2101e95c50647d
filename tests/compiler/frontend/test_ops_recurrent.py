"""gru, gruCell, lstm, lstmCell against a float64 numpy transcription of the spec's step
formulas (all layouts, directions, activations, optional operands); validation messages.

Tolerance: float32 within rtol 1e-5 / atol 1e-5, float16 within rtol 1e-2 / atol 1e-2
(weights ~ N(0, 0.5), two to three steps).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from webnnc.compiler.errors import ValidationError, WebNNTypeError

_TOL = {"float32": {"rtol": 1e-5, "atol": 1e-5}, "float16": {"rtol": 1e-2, "atol": 1e-2}}
_ACT: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
    "tanh": np.tanh,
    "relu": lambda v: np.maximum(v, 0),
}


def _gates(t: np.ndarray, layout: str, hidden: int) -> dict[str, np.ndarray]:
    return {g: t[..., i * hidden : (i + 1) * hidden] for i, g in enumerate(layout)}


def _gru_ref(x, w, r, h, b, rb, layout, reset_after, acts):  # type: ignore[no-untyped-def]
    hs = h.shape[-1]
    f, g = _ACT[acts[0]], _ACT[acts[1]]
    xw = _gates(x @ w.T + (0 if b is None else b), layout, hs)
    hr = _gates(h @ r.T, layout, hs)
    rbg = _gates(np.zeros(3 * hs) if rb is None else rb, layout, hs)
    z = f(xw["z"] + hr["z"] + rbg["z"])
    rr = f(xw["r"] + hr["r"] + rbg["r"])
    if reset_after:
        n = g(xw["n"] + rr * (hr["n"] + rbg["n"]))
    else:
        rn = _gates(r.T, layout, hs)["n"]
        n = g(xw["n"] + (rr * h) @ rn + rbg["n"])
    return (1 - z) * n + z * h


def _lstm_ref(x, w, r, h, c, b, rb, p, layout, acts):  # type: ignore[no-untyped-def]
    hs = h.shape[-1]
    f, g, hh = (_ACT[a] for a in acts)
    pre = _gates(x @ w.T + h @ r.T + (0 if b is None else b) + (0 if rb is None else rb), layout, hs)
    pp = _gates(np.zeros(3 * hs) if p is None else p, "iof", hs)
    i = f(pre["i"] + pp["i"] * c)
    fg = f(pre["f"] + pp["f"] * c)
    c_new = fg * c + i * g(pre["g"])
    o = f(pre["o"] + pp["o"] * c_new)
    return o * hh(c_new), c_new


def _network_ref(kind: str, x, w, r, steps, opts):  # type: ignore[no-untyped-def]
    dirs = w.shape[0]
    batch, hs = x.shape[1], r.shape[-1]
    hstate = [opts.get("h0", np.zeros((dirs, batch, hs)))[d] for d in range(dirs)]
    cstate = [opts.get("c0", np.zeros((dirs, batch, hs)))[d] for d in range(dirs)]
    seq = np.zeros((steps, dirs, batch, hs))
    for step in range(steps):
        for d in range(dirs):
            t = steps - 1 - step if (d == 1 or opts["direction"] == "backward") else step
            pick = (lambda k: None if opts.get(k) is None else opts[k][d])  # noqa: B023, E731
            if kind == "gru":
                hstate[d] = _gru_ref(x[t], w[d], r[d], hstate[d], pick("b"), pick("rb"), opts["layout"],
                                     opts["reset_after"], opts["acts"])
            else:
                hstate[d], cstate[d] = _lstm_ref(x[t], w[d], r[d], hstate[d], cstate[d], pick("b"), pick("rb"),
                                                 pick("p"), opts["layout"], opts["acts"])
            seq[t, d] = hstate[d]
    return np.stack(hstate), np.stack(cstate), seq


def _feed(b: Any, name: str, a: np.ndarray | None) -> Any:
    return None if a is None else b.input(name, list(a.shape), str(a.dtype))


GRU_CASES = [
    # direction, layout, reset_after, activations, with bias/h0, return_sequence
    ("forward", "zrn", True, ("sigmoid", "tanh"), True, False),
    ("backward", "rzn", False, ("sigmoid", "relu"), False, True),
    ("both", "zrn", False, ("tanh", "sigmoid"), True, True),
]


@pytest.mark.parametrize(("direction", "layout", "reset_after", "acts", "extras", "sequence"), GRU_CASES)
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_gru_network(nocache_context: Any, rng: np.random.Generator, dtype: str, direction: str, layout: str,
                     reset_after: bool, acts: tuple[str, str], extras: bool, sequence: bool) -> None:
    steps, batch, size, hs = 3, 2, 3, 4
    dirs = 2 if direction == "both" else 1
    arr = {
        "x": rng.standard_normal((steps, batch, size)),
        "w": rng.normal(0, 0.5, (dirs, 3 * hs, size)),
        "r": rng.normal(0, 0.5, (dirs, 3 * hs, hs)),
        "b": rng.normal(0, 0.5, (dirs, 3 * hs)) if extras else None,
        "rb": rng.normal(0, 0.5, (dirs, 3 * hs)),
        "h0": rng.standard_normal((dirs, batch, hs)) if extras else None,
    }
    cast = {k: None if v is None else v.astype(dtype) for k, v in arr.items()}
    b = nocache_context.create_graph_builder()
    ops = {k: _feed(b, k, v) for k, v in cast.items()}
    outs = b.gru(ops["x"], ops["w"], ops["r"], steps, hs, bias=ops["b"], recurrent_bias=ops["rb"],
                 initial_hidden_state=ops["h0"], reset_after=reset_after, return_sequence=sequence,
                 direction=direction, layout=layout, activations=list(acts))
    assert len(outs) == (2 if sequence else 1)
    graph = b.build({f"y{i}": o for i, o in enumerate(outs)})
    got = nocache_context.compute(graph, {k: v for k, v in cast.items() if v is not None})
    ref = {k: None if v is None else v.astype(np.float64) for k, v in cast.items()}
    opts = {"direction": direction, "layout": layout, "reset_after": reset_after, "acts": acts,
            "b": ref["b"], "rb": ref["rb"], **({"h0": ref["h0"]} if extras else {})}
    hidden, _, seq = _network_ref("gru", ref["x"], ref["w"], ref["r"], steps, opts)
    np.testing.assert_allclose(got["y0"].astype(np.float64), hidden, **_TOL[dtype])
    assert got["y0"].dtype == np.dtype(dtype)
    if sequence:
        np.testing.assert_allclose(got["y1"].astype(np.float64), seq, **_TOL[dtype])


LSTM_CASES = [
    ("forward", "iofg", ("sigmoid", "tanh", "tanh"), True, True),
    ("backward", "ifgo", ("sigmoid", "relu", "tanh"), False, True),
    ("both", "iofg", ("tanh", "sigmoid", "relu"), True, False),
]


@pytest.mark.parametrize(("direction", "layout", "acts", "extras", "sequence"), LSTM_CASES)
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_lstm_network(nocache_context: Any, rng: np.random.Generator, dtype: str, direction: str, layout: str,
                      acts: tuple[str, str, str], extras: bool, sequence: bool) -> None:
    steps, batch, size, hs = 2, 3, 2, 3
    dirs = 2 if direction == "both" else 1
    arr = {
        "x": rng.standard_normal((steps, batch, size)),
        "w": rng.normal(0, 0.5, (dirs, 4 * hs, size)),
        "r": rng.normal(0, 0.5, (dirs, 4 * hs, hs)),
        "b": rng.normal(0, 0.5, (dirs, 4 * hs)),
        "rb": rng.normal(0, 0.5, (dirs, 4 * hs)) if extras else None,
        "p": rng.normal(0, 0.5, (dirs, 3 * hs)) if extras else None,
        "h0": rng.standard_normal((dirs, batch, hs)) if extras else None,
        "c0": rng.standard_normal((dirs, batch, hs)) if extras else None,
    }
    cast = {k: None if v is None else v.astype(dtype) for k, v in arr.items()}
    b = nocache_context.create_graph_builder()
    ops = {k: _feed(b, k, v) for k, v in cast.items()}
    outs = b.lstm(ops["x"], ops["w"], ops["r"], steps, hs, bias=ops["b"], recurrent_bias=ops["rb"],
                  peephole_weight=ops["p"], initial_hidden_state=ops["h0"], initial_cell_state=ops["c0"],
                  return_sequence=sequence, direction=direction, layout=layout, activations=list(acts))
    assert len(outs) == (3 if sequence else 2)
    graph = b.build({f"y{i}": o for i, o in enumerate(outs)})
    got = nocache_context.compute(graph, {k: v for k, v in cast.items() if v is not None})
    ref = {k: None if v is None else v.astype(np.float64) for k, v in cast.items()}
    opts = {"direction": direction, "layout": layout, "acts": acts, "b": ref["b"], "rb": ref["rb"], "p": ref["p"],
            **({"h0": ref["h0"], "c0": ref["c0"]} if extras else {})}
    hidden, cell, seq = _network_ref("lstm", ref["x"], ref["w"], ref["r"], steps, opts)
    np.testing.assert_allclose(got["y0"].astype(np.float64), hidden, **_TOL[dtype])
    np.testing.assert_allclose(got["y1"].astype(np.float64), cell, **_TOL[dtype])
    if sequence:
        np.testing.assert_allclose(got["y2"].astype(np.float64), seq, **_TOL[dtype])


def test_cells(nocache_context: Any, rng: np.random.Generator) -> None:
    batch, size, hs = 2, 3, 4
    x, h, c = rng.standard_normal((batch, size)), rng.standard_normal((batch, hs)), rng.standard_normal((batch, hs))
    w3, r3, b3 = rng.normal(0, 0.5, (3 * hs, size)), rng.normal(0, 0.5, (3 * hs, hs)), rng.normal(0, 0.5, 3 * hs)
    w4, r4, p = rng.normal(0, 0.5, (4 * hs, size)), rng.normal(0, 0.5, (4 * hs, hs)), rng.normal(0, 0.5, 3 * hs)
    f32 = {k: v.astype(np.float32) for k, v in {"x": x, "h": h, "c": c, "w3": w3, "r3": r3, "b3": b3, "w4": w4, "r4": r4, "p": p}.items()}
    b = nocache_context.create_graph_builder()
    o = {k: b.input(k, list(v.shape), "float32") for k, v in f32.items()}
    gru_h = b.gru_cell(o["x"], o["w3"], o["r3"], o["h"], hs, recurrent_bias=o["b3"], reset_after=False, layout="rzn")
    lstm_h, lstm_c = b.lstm_cell(o["x"], o["w4"], o["r4"], o["h"], o["c"], hs,
                                 peephole_weight=o["p"], layout="ifgo")
    got = nocache_context.compute(b.build({"gru_h": gru_h, "lstm_h": lstm_h, "lstm_c": lstm_c}), f32)
    ref = {k: v.astype(np.float64) for k, v in f32.items()}
    want_g = _gru_ref(ref["x"], ref["w3"], ref["r3"], ref["h"], None, ref["b3"], "rzn", False, ("sigmoid", "tanh"))
    want_h, want_c = _lstm_ref(ref["x"], ref["w4"], ref["r4"], ref["h"], ref["c"], None, None, ref["p"], "ifgo",
                               ("sigmoid", "tanh", "tanh"))
    np.testing.assert_allclose(got["gru_h"], want_g, **_TOL["float32"])
    np.testing.assert_allclose(got["lstm_h"], want_h, **_TOL["float32"])
    np.testing.assert_allclose(got["lstm_c"], want_c, **_TOL["float32"])


def _x(b: Any, shape: list[int], dt: str = "float32", name: str = "x") -> Any:
    return b.input(name, shape, dt)


VALIDATION = [
    (lambda b: b.gru(_x(b, [2, 1, 3]), _x(b, [1, 12, 3], name="w"), _x(b, [1, 12, 4], name="r"), 3, 4),
     ValidationError, r"gru: steps \(3\) must equal the input's first dimension \(2\)"),
    (lambda b: b.gru(_x(b, [2, 1, 3]), _x(b, [1, 12, 3], name="w"), _x(b, [1, 12, 4], name="r"), 2, 4, direction="both"),
     ValidationError, r"gru: weight must have shape \[2, 12, 3\]; found \[1, 12, 3\]"),
    (lambda b: b.gru(_x(b, [2, 1, 3]), _x(b, [1, 12, 3], name="w"), _x(b, [1, 12, 4], name="r"), 2, 4, layout="nzr"),
     WebNNTypeError, r"gru: layout must be one of \['zrn', 'rzn'\]; found 'nzr'"),
    (lambda b: b.gru(_x(b, [2, 1, 3]), _x(b, [1, 12, 3], name="w"), _x(b, [1, 12, 4], name="r"), 2, 4,
                     activations=["sigmoid"]),
     ValidationError, r"gru: activations must list 2 functions; found 1"),
    (lambda b: b.gru(_x(b, [2, 1, 3]), _x(b, [1, 12, 3], name="w"), _x(b, [1, 12, 4], name="r"), 2, 4,
                     activations=["sigmoid", "gelu"]),
     WebNNTypeError, r"gru: activations\[1\] must be one of \['relu', 'sigmoid', 'tanh'\]; found 'gelu'"),
    (lambda b: b.gru(_x(b, [2, 1, 3], "int32"), _x(b, [1, 12, 3], name="w"), _x(b, [1, 12, 4], name="r"), 2, 4),
     WebNNTypeError, r"gru: input data type must be one of \[float16, float32\]; found int32"),
    (lambda b: b.lstm(_x(b, [2, 1, 3]), _x(b, [1, 8, 3], name="w"), _x(b, [1, 8, 2], name="r"), 2, 2,
                      peephole_weight=_x(b, [1, 8], name="p")),
     ValidationError, r"lstm: peephole_weight must have shape \[1, 6\]; found \[1, 8\]"),
    (lambda b: b.lstm(_x(b, [2, 1, 3]), _x(b, [1, 8, 3], name="w"), _x(b, [1, 8, 2], name="r"), 2, 0),
     ValidationError, r"lstm: hidden_size must be a positive integer; found 0"),
    (lambda b: b.lstm(_x(b, [2, 1, 3]), _x(b, [1, 8, 3], name="w"), _x(b, [1, 8, 2], "float16", "r"), 2, 2),
     WebNNTypeError, r"lstm: recurrent_weight data type \(float16\) must match input \(float32\)"),
    (lambda b: b.lstm_cell(_x(b, [1, 3]), _x(b, [8, 3], name="w"), _x(b, [8, 2], name="r"), _x(b, [1, 2], name="h"),
                           _x(b, [2, 2], name="c"), 2),
     ValidationError, r"lstmCell: cell_state must have shape \[1, 2\]; found \[2, 2\]"),
    (lambda b: b.gru_cell(_x(b, [1, 3]), _x(b, [6, 3], name="w"), _x(b, [6, 2], name="r"), _x(b, [1, 2], name="h"), 2,
                          direction="both"),
     WebNNTypeError, r"gruCell: unknown options \['direction'\]"),
]


@pytest.mark.parametrize(("make", "exc", "pattern"), VALIDATION)
def test_validation_messages(builder: Any, make: Any, exc: type, pattern: str) -> None:
    with pytest.raises(exc, match=pattern):
        make(builder)
