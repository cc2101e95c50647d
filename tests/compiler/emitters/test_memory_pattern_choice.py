"""The compile step chooses ONNX Runtime's memory pattern per artifact; the runtime follows it.

Numbers behind the rule: compiler/emitters/ort_optimizer.py (NOTE: the memory pattern).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import webnnc
from webnnc.compiler.emitters.ort_optimizer import MEMORY_PATTERN_MAX_BYTES, memory_pattern_pays


def _chain(context: webnnc.MLContext, shape: list[int]) -> webnnc.MLGraph:
    b = context.create_graph_builder()
    x = b.input("x", shape, "float32")
    h = b.relu(b.add(x, x))  # intermediates: x + x, and its relu
    return b.build({"y": b.sigmoid(b.mul(h, h))})


def _reference(x: np.ndarray) -> np.ndarray:
    h = np.maximum(x.astype(np.float64) * 2, 0)
    return 1 / (1 + np.exp(-h * h))


def test_large_activations_run_without_the_pattern(tmp_path: Path) -> None:
    ctx = webnnc.ML().create_context(cache_dir=tmp_path)
    shape = [1, 64, 256, 256]  # 16 MiB per intermediate value
    g = _chain(ctx, shape)
    assert g.manifest.session["memory_pattern"] is False, g.manifest.session
    assert "MiB of planned activations" in g.manifest.session["memory_pattern_reason"]
    assert g.build_info["session"]["memory_pattern"] == "off"
    assert g._session.get_session_options().enable_mem_pattern is False
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    for _ in range(3):  # the pattern would have been used from the second run on
        y = ctx.compute(g, {"x": x})["y"]
        np.testing.assert_allclose(y, _reference(x), rtol=1e-5, atol=1e-6)
    # a later process reads the choice from the manifest
    again = webnnc.runtime.load(g.build_info["key"], cache_dir=tmp_path)
    assert again.build_info["session"]["memory_pattern"] == "off"
    assert again._session.get_session_options().enable_mem_pattern is False


def test_small_activations_keep_the_pattern(tmp_path: Path) -> None:
    ctx = webnnc.ML().create_context(cache_dir=tmp_path)
    g = _chain(ctx, [2, 8, 16, 16])
    assert g.manifest.session["memory_pattern"] is True, g.manifest.session
    assert g.build_info["session"]["memory_pattern"] == "on"
    assert g._session.get_session_options().enable_mem_pattern is True
    x = np.linspace(-2, 2, 2 * 8 * 16 * 16, dtype=np.float32).reshape(2, 8, 16, 16)
    np.testing.assert_allclose(ctx.compute(g, {"x": x})["y"], _reference(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("size", "keeps"),
    [(0, True), (MEMORY_PATTERN_MAX_BYTES - 1, True), (MEMORY_PATTERN_MAX_BYTES, False), (1 << 30, False)],
)
def test_memory_pattern_threshold(size: int, keeps: bool) -> None:
    assert memory_pattern_pays(size)[0] is keeps


def test_manifests_without_the_choice_keep_onnx_runtimes_default() -> None:
    import onnx
    from onnx import helper

    from webnnc.runtime._session import create_session

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])], "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 4])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # what every onnxruntime we support reads (onnx 1.23 writes 14 by default)
    data = model.SerializeToString()
    session, info = create_session(target="onnx-cpu", fmt="onnx", data=data, settings={"prepacking": False})
    assert info["memory_pattern"] == "on" and session.get_session_options().enable_mem_pattern is True
    session, info = create_session(target="onnx-cpu", fmt="onnx", data=data, settings={"memory_pattern": False})
    assert info["memory_pattern"] == "off" and session.get_session_options().enable_mem_pattern is False
