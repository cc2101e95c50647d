"""Per-op precision and speed of the ONNX lowering: ``precision="fast"`` (ONNX Runtime's
native kernel) against ``precision="strict"`` (the spec's exact formula).

For each op: the largest error in float32 ULP against a float64 reference of the spec's
formula on a realistic input (standard normal, the range activations take in trained and
randomly initialised networks; the largest ULP errors are where the result is near 0), the
largest absolute error on a wide one (uniform in [-20, 20]); and the time of
one op on a 1x64x112x112 tensor (ORT with its own optimizations off, interleaved rounds,
median), fast / strict.

Usage::

    python benchmarks/bench_lowering_precision.py [--rounds 15]

Prints a markdown table (the one in ``compiler/emitters/LOWERING.md``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_lines, markdown_table

SHAPE = [1, 64, 112, 112]
F64 = np.float64


def _erf(x: np.ndarray) -> np.ndarray:
    from math import erf

    return np.vectorize(erf)(x)


def _norm(x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-5)


# op -> (builder call, float64 reference)
OPS: dict[str, tuple[Callable[[Any, Any], Any], Callable[[np.ndarray], np.ndarray]]] = {
    "sigmoid": (lambda b, x: b.sigmoid(x), lambda x: 1 / (1 + np.exp(-x))),
    "hardSwish": (lambda b, x: b.hard_swish(x), lambda x: x * np.clip(x + 3, 0, 6) / 6),
    "elu": (lambda b, x: b.elu(x), lambda x: np.where(x < 0, np.expm1(x), x)),
    "gelu": (lambda b, x: b.gelu(x), lambda x: 0.5 * x * (1 + _erf(x / np.sqrt(2)))),
    "layerNormalization": (lambda b, x: b.layer_normalization(x, axes=[1, 2, 3]), lambda x: _norm(x, (1, 2, 3))),
    "instanceNormalization": (lambda b, x: b.instance_normalization(x), lambda x: _norm(x, (2, 3))),
    "batchNormalization": (
        lambda b, x: b.batch_normalization(
            x, b.constant(np.linspace(-1, 1, SHAPE[1], dtype=np.float32)),
            b.constant(np.linspace(0.5, 2, SHAPE[1], dtype=np.float32))),
        lambda x: (x - np.linspace(-1, 1, SHAPE[1], dtype=np.float32).astype(F64).reshape(1, -1, 1, 1))
        / np.sqrt(np.linspace(0.5, 2, SHAPE[1], dtype=np.float32).astype(F64).reshape(1, -1, 1, 1) + 1e-5),
    ),
}


def _ulp(got: np.ndarray, ref: np.ndarray) -> float:
    def ordered(a: np.ndarray) -> np.ndarray:
        i = a.astype(np.float32).view(np.int32).astype(np.int64)
        return np.where(i < 0, -(i & 0x7FFFFFFF), i)

    return float(np.max(np.abs(ordered(got) - ordered(ref.astype(np.float32)))))


def _session(op: str, precision: str, shape: list[int]) -> Any:
    import onnxruntime as ort

    from webnnc.compiler.emitters.onnx_emitter import to_model
    from webnnc.compiler.frontend import MLGraphBuilder

    b = MLGraphBuilder()
    graph = b.build({"y": OPS[op][0](b, b.input("x", shape, "float32"))})
    so = ort.SessionOptions()
    so.log_severity_level = 3
    # ORT's own optimizer runs as in webnnc's compile stage (basic: constant folding,
    # no layout changes, so the op itself is timed)
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    data = to_model(graph, precision=precision).SerializeToString()
    return ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])


def measure(op: str, rounds: int) -> list[str]:
    rng = np.random.default_rng(0)
    small = [1, SHAPE[1], 16, 16]
    inputs = {
        "normal": rng.standard_normal(small).astype(np.float32),
        "wide": rng.uniform(-20, 20, small).astype(np.float32),
    }
    row = [op]
    for precision in ("fast", "strict"):
        s = _session(op, precision, small)
        x = inputs["normal"]
        row.append(f"{_ulp(s.run(None, {'x': x})[0], OPS[op][1](x.astype(F64))):.0f}")
        x = inputs["wide"]
        row.append(f"{np.max(np.abs(s.run(None, {'x': x})[0] - OPS[op][1](x.astype(F64)))):.1e}")
    big = rng.standard_normal(SHAPE).astype(np.float32)
    sessions = {p: _session(op, p, SHAPE) for p in ("fast", "strict")}
    times: dict[str, list[float]] = {p: [] for p in sessions}
    for r in range(rounds):
        for p in (("fast", "strict") if r % 2 == 0 else ("strict", "fast")):
            t0 = time.perf_counter()
            sessions[p].run(None, {"x": big})
            times[p].append(time.perf_counter() - t0)
    ratios = [a / b for a, b in zip(times["fast"], times["strict"], strict=True)]
    row += [f"{statistics.median(times['fast']) * 1e3:.2f}", f"{statistics.median(times['strict']) * 1e3:.2f}",
            f"{statistics.median(ratios):.2f}"]
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    rows = [measure(op, args.rounds) for op in OPS]
    header = ["op", "fast max ULP (normal)", "fast max abs err (wide)", "strict max ULP (normal)",
              "strict max abs err (wide)",
              "fast ms", "strict ms", "fast / strict"]
    print("\n".join(machine_lines()))
    print(f"\nfloat32 ULP against float64; time of one op on {SHAPE}\n")
    print("\n".join(markdown_table(header, rows)))


if __name__ == "__main__":
    main()
