"""The compile step chooses weight prepacking per artifact; the runtime follows the manifest.

Numbers behind the rule: compiler/emitters/ort_optimizer.py (NOTE: weight prepacking) and
benchmarks/bench_prepacking.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import webnnc


def _build(context: webnnc.MLContext, k: int, n: int, rows: int = 4) -> webnnc.MLGraph:
    b = context.create_graph_builder()
    x = b.input("x", [rows, k], "float32")
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


def test_weights_that_multiply_one_row_are_not_prepacked(tmp_path: Path) -> None:
    # a batch-1 classifier: 2 MiB of weights, one row per run (packing them saves nothing)
    ctx = webnnc.ML().create_context(cache_dir=tmp_path)
    g = _build(ctx, 1024, 512, rows=1)
    assert g.manifest.session["prepacking"] is False, g.manifest.session
    assert "2.0 MiB multiply one row" in g.manifest.session["prepacking_reason"]
    y = ctx.compute(g, {"x": np.ones((1, 1024), np.float32)})["y"]
    assert y.shape == (1, 512)


def test_gemm_weight_rows_reads_the_ir() -> None:
    from webnnc.compiler.emitters.onnx_emitter import gemm_weight_rows

    b = webnnc.ML().create_context(use_cache=False).create_graph_builder()
    w = b.constant(np.zeros((64, 32), np.float32))  # 8 KiB
    seq = b.matmul(b.input("t", [2, 16, 64], "float32"), w)  # 32 rows
    vec = b.gemm(b.input("v", [1, 64], "float32"), w)  # one row
    col = b.gemm(b.input("c", [64, 1], "float32"), w, a_transpose=True)  # transposed: one row
    act = b.matmul(b.input("p", [3, 64], "float32"), b.input("q", [64, 32], "float32"))  # no constant
    graph = b.build({"seq": seq, "vec": vec, "col": col, "act": act})
    assert gemm_weight_rows(graph._ir_graph) == {"multi": 8192, "one": 16384}


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
