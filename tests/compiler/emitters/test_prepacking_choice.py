"""The compile step chooses weight prepacking per artifact; the runtime follows the manifest.

Numbers behind the rule: compiler/emitters/ort_optimizer.py (NOTE: weight prepacking) and
benchmarks/bench_prepacking.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import webnnc


def _build(context: webnnc.MLContext, k: int, n: int) -> webnnc.MLGraph:
    b = context.create_graph_builder()
    x = b.input("x", [4, k], "float32")
    w = b.constant(np.random.default_rng(0).standard_normal((k, n)).astype(np.float32))
    return b.build({"y": b.relu(b.matmul(x, w))})


def test_large_gemm_weights_are_prepacked(tmp_path: Path) -> None:
    ctx = webnnc.ML().create_context(cache_dir=tmp_path)
    g = _build(ctx, 1024, 512)  # 2 MiB of GEMM weights
    assert g.manifest.session["prepacking"] is True, g.manifest.session
    # the runtime follows it: opened unpacked, prepacked in the background (tests/runtime/
    # test_deferred_prepacking.py), or at once when asked
    assert g.build_info["session"]["prepacking"] == "deferred"
    assert g.finish_loading() and g.build_info["session"]["prepacking"] == "on (deferred)"
    again = webnnc.runtime.load(g.build_info["key"], cache_dir=tmp_path, prepacking="eager")
    assert again.build_info["session"]["prepacking"] == "on"


def test_small_or_no_gemm_weights_start_without_prepacking(tmp_path: Path) -> None:
    ctx = webnnc.ML().create_context(cache_dir=tmp_path)
    g = _build(ctx, 64, 32)  # 8 KiB: not worth a copy at creation
    assert g.manifest.session["prepacking"] is False
    assert g.build_info["session"]["prepacking"] == "off"
    x = np.ones((4, 64), np.float32)
    y = ctx.compute(g, {"x": x})["y"]
    assert y.shape == (4, 32) and np.all(y >= 0)


def test_prepacking_pays_reads_the_graph() -> None:
    import onnx
    from onnx import helper, numpy_helper

    from webnnc.compiler.emitters.ort_optimizer import prepacking_pays

    w = numpy_helper.from_array(np.zeros((1024, 1024), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 1024])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 1024])], [w],
    )
    pays, why = prepacking_pays(helper.make_model(graph).SerializeToString())
    assert pays and "4.0 MiB" in why
    relu = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])], "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 4])],
    )
    assert prepacking_pays(helper.make_model(relu).SerializeToString())[0] is False
