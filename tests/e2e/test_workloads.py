"""W1-W3 compiled by webnnc match an independent float64 numpy evaluation and stay float32.

Tolerances (float32 result vs float64 reference):
- W1: additions and relus only, exact up to float32 rounding: rtol 1e-6, atol 1e-6.
- W2: overflows to +inf on generic inputs (the workload as specified): infinities must match
  exactly; on inputs at the 0.25 fixed point every element is exact and only the final mean
  rounds: rtol 1e-6.
- W3 (MobileNetV2, 52 convolutions, softmax over 1000 classes): rtol 1e-4 (float32 accumulation
  over deep convolution chains; the observed maximum relative error is about 1e-5).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.numpy_reference import NumpyBuilder
from webnnc.compiler.workloads import w1_simple, w2_complex, w3_mobilenet_v2


def _run(context: Any, fn: Any, x: np.ndarray) -> np.ndarray:
    builder = context.create_graph_builder()
    graph = builder.build(fn(builder))
    out = context.compute(graph, {"input": x})["output"]
    assert out.dtype == np.float32
    return out


def _reference(fn: Any, x: np.ndarray) -> np.ndarray:
    return np.asarray(fn(NumpyBuilder({"input": x}))["output"])


def test_w1_matches_float64_reference(context: Any, rng: np.random.Generator) -> None:
    x = rng.standard_normal([1, 3, 224, 224]).astype(np.float32)
    np.testing.assert_allclose(_run(context, w1_simple, x), _reference(w1_simple, x), rtol=1e-6, atol=1e-6)


def test_w2_overflows_like_the_reference(context: Any, rng: np.random.Generator) -> None:
    x = rng.standard_normal([1, 3, 224, 224]).astype(np.float32)
    out, ref = _run(context, w2_complex, x), _reference(w2_complex, x)
    assert out.shape == (1, 3, 1, 1)
    assert np.array_equal(np.isposinf(out), np.isposinf(ref)) and np.isposinf(ref).all()


def test_w2_exact_at_fixed_point(context: Any, rng: np.random.Generator) -> None:
    # x -> (2x)^2 keeps 0.25 fixed, sends values below 0.25 to 0 and negatives to 0 via relu.
    x = np.where(rng.random([1, 3, 224, 224]) < 0.3, 0.25, rng.uniform(-1, 0.2, [1, 3, 224, 224])).astype(np.float32)
    out, ref = _run(context, w2_complex, x), _reference(w2_complex, x)
    assert np.isfinite(ref).all() and (ref > 0).all()
    np.testing.assert_allclose(out, ref, rtol=1e-6, atol=0)


@pytest.mark.slow
def test_w3_matches_float64_reference(context: Any, rng: np.random.Generator) -> None:
    x = rng.standard_normal([1, 3, 224, 224]).astype(np.float32)
    out, ref = _run(context, w3_mobilenet_v2, x), _reference(w3_mobilenet_v2, x)
    assert out.shape == (1, 1000)
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=0)
    assert abs(float(out.sum()) - 1.0) < 1e-5
