"""A Pad before a pool keeps ONNX Runtime's pad fusion away (ort_optimizer.optimize's NOTE).

onnxruntime 1.31.1 folds a zero Pad into the next pool's ``pads`` even when the sum reaches
the window, and then refuses to create the pool; the emitter pads an average pool explicitly
exactly when its padding reaches the window, so those pools failed to compile there. The
pool tests (tests/compiler/frontend/test_ops_conv_pool.py) caught it on 1.31.1; these check
the mechanism on any version: the emitter says when a Pad feeds a pool, and the optimizer,
told so, leaves that Pad in place.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

from webnnc.compiler.frontend import MLGraphBuilder

pytest.importorskip("onnxruntime")


def _emit(padding: list[int]) -> Any:
    from webnnc.compiler.emitters.onnx_emitter import EMITTER

    b = MLGraphBuilder()
    x = b.input("x", [1, 3, 6, 7], "float32")
    graph = b.build({"y": b.average_pool2d(x, window_dimensions=[2, 2], padding=padding)})
    return EMITTER.emit(graph)


def test_the_emitter_says_when_a_pad_feeds_a_pool() -> None:
    assert _emit([3, 2, 2, 3]).info.get("pad_feeds_pool") is True  # padding >= window: explicit Pad
    assert "pad_feeds_pool" not in _emit([1, 1, 1, 1]).info  # the pool's own pads


def test_the_optimizer_keeps_a_pad_that_reaches_the_window() -> None:
    import onnx
    import onnxruntime as ort

    from webnnc.compiler.emitters.ort_optimizer import optimize

    artifact = _emit([3, 2, 2, 3])
    optimized = optimize(artifact.data, level="all", save_format="ONNX", pad_feeds_pool=True)
    ops = [n.op_type for n in onnx.load_model_from_string(optimized.data).graph.node]
    assert "Pad" in ops, ops
    # and the optimized model runs (loaded as the runtime loads it, not optimized again): the zero padding counts as taps, the emitter's divisor
    # correction removes them (compared with numpy float64, rtol 1e-5)
    x = np.random.default_rng(0).standard_normal((1, 3, 6, 7)).astype(np.float32)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # as the runtime loads it
    got = ort.InferenceSession(optimized.data, so, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    padded = np.full((1, 3, 11, 12), np.nan)
    padded[:, :, 3:9, 2:9] = x
    windows = np.lib.stride_tricks.sliding_window_view(padded, (2, 2), axis=(2, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # nanmean of an all-padding window
        want = np.nan_to_num(np.nanmean(windows, axis=(-2, -1)), nan=0.0)  # which gives 0
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
