"""Shared checks for pass tests: build a graph twice, transform one, compare the two under ORT.

Every pass is checked three ways (STYLE.md §10):

1. structure: the op list (or IR text) after the pass;
2. numerics: ONNX Runtime on the original versus the transformed graph, seeded inputs,
   tolerances from :data:`TOLERANCES`;
3. validity: ``ir.verify`` after the pass (``PassManager(verify_each=True)``) and
   ``onnx.checker`` on the emitted model (the emitter runs it).

ORT loads both models with graph optimizations disabled, so what is compared is webnnc's
transformation, not ONNX Runtime's.

Tolerances per data type, transformed vs original, both under ORT: ``|got - expected| <=
atol * scale + rtol * |expected|``. Removing no-ops and merging duplicates is exact; folding
computes in numpy (another order of operations: a few ulps), ``scale`` is 1. Folding a bias
or a batch normalization into a convolution (``accumulates=True``) rescales the weights
(rounded once from float64) and moves the bias into the accumulation: the error is a few
ulps of the partial sums, whose size the output's largest magnitude stands for, so there
``scale`` is the largest finite magnitude among the expected outputs (at least 1).

- float32: rtol 1e-5, atol 1e-6 (about 8 ulps at 1.0);
- float16: rtol 1e-3, atol 1e-3 (one rounding step at 1.0);
- integers: exact.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from webnnc.compiler.frontend import MLGraphBuilder
from webnnc.compiler.ir import Graph, verify
from webnnc.compiler.passes import PassBase, PassManager

TOLERANCES: dict[str, tuple[float, float]] = {
    "float32": (1e-5, 1e-6),
    "float16": (1e-3, 1e-3),
}

Make = Callable[[MLGraphBuilder], Mapping[str, Any]]


def build(make: Make) -> Graph:
    b = MLGraphBuilder()
    graph: Graph = b.build(dict(make(b)))
    return graph


def ops(graph: Graph) -> list[str]:
    return [n.op_type for n in graph.nodes]


def run_ort(graph: Graph, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Emit ``graph`` as ONNX (``onnx.checker`` runs) and run it once in ONNX Runtime."""
    import onnxruntime as ort

    from webnnc.compiler.emitters import get_emitter

    data = get_emitter("onnx").emit(graph, {"check": True}).data
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.log_severity_level = 3
    session = ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])
    names = sorted(graph.outputs)
    return dict(zip(names, session.run(names, dict(feeds)), strict=True))


def random_feeds(graph: Graph, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    feeds = {}
    for v in graph.inputs:
        dt = v.data_type.numpy_dtype
        if dt.kind == "f":
            feeds[v.name or ""] = rng.standard_normal(v.shape).astype(dt)
        else:
            feeds[v.name or ""] = rng.integers(-20, 20, v.shape).astype(dt)
    return feeds


def assert_close(got: np.ndarray, expected: np.ndarray, what: str, *, accumulates: bool = False) -> None:
    assert got.dtype == expected.dtype, f"{what}: dtype {got.dtype} != {expected.dtype}"
    assert got.shape == expected.shape, f"{what}: shape {got.shape} != {expected.shape}"
    if got.dtype.kind != "f":
        np.testing.assert_array_equal(got, expected, err_msg=what)
        return
    rtol, atol = TOLERANCES[str(got.dtype)]
    finite = expected[np.isfinite(expected)]
    scale = max(1.0, float(np.max(np.abs(finite)))) if accumulates and finite.size else 1.0
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol * scale, err_msg=what)


def check_pass(
    make: Make,
    *passes: PassBase,
    feeds: Mapping[str, np.ndarray] | None = None,
    steps: int = 1,
    accumulates: bool = False,
) -> Graph:
    """Apply ``passes`` (verifying after each) to one build of ``make``; check numerics
    against another, untouched build under ORT; return the transformed graph."""
    original = build(make)
    transformed = build(make)
    pm = PassManager(list(passes), steps=steps, verify_each=True)
    transformed = pm(transformed).graph
    verify(transformed)
    feeds = dict(feeds) if feeds is not None else random_feeds(original)
    expected = run_ort(original, feeds)
    got = run_ort(transformed, feeds)
    for name in expected:
        assert_close(got[name], expected[name], f"output {name!r}", accumulates=accumulates)
    return transformed
