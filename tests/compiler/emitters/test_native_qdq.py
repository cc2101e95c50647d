"""Quantized (QDQ) models keep their integer weights and run ONNX Runtime's integer kernels.

The importer leaves DequantizeLinear of a constant weight unfolded, the ONNX emitter lowers
quantizeLinear / dequantizeLinear to ONNX's own operators where they compute the same, and
ORT's optimizer then fuses the QDQ groups into QLinearConv / QGemm, as it does for the
original model (compiler/emitters/onnx/quantization.py). Reference: ORT on the original file.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import webnnc
from webnnc.compiler.importers import import_onnx

rng = np.random.default_rng(7)


def _qdq_conv_model(activation: int, head: str = "Gemm") -> onnx.ModelProto:
    """x -> Q -> DQ -> Conv(DQ(int8 weights, per channel), DQ(int32 bias)) -> Relu -> Q -> DQ ->
    Flatten + Gemm (``head="Gemm"``) or Reshape + MatMul (``"MatMul"``) with DQ(int8) weights."""
    act = np.uint8 if activation == TensorProto.UINT8 else np.int8
    w = rng.integers(-127, 128, size=(16, 8, 3, 3), dtype=np.int8)
    w_scale = (rng.random(16) * 0.01 + 0.001).astype(np.float32)
    x_scale, y_scale = np.float32(0.02), np.float32(0.05)
    bias = rng.integers(-500, 500, size=16, dtype=np.int32)
    fc = rng.integers(-127, 128, size=(16 * 6 * 6, 10), dtype=np.int8)
    inits = [
        numpy_helper.from_array(w, "w"), numpy_helper.from_array(w_scale, "w_scale"),
        numpy_helper.from_array(np.zeros(16, np.int8), "w_zp"),
        numpy_helper.from_array(bias, "b"), numpy_helper.from_array(w_scale * x_scale, "b_scale"),
        numpy_helper.from_array(np.zeros(16, np.int32), "b_zp"),
        numpy_helper.from_array(np.array(x_scale), "x_scale"),
        numpy_helper.from_array(np.array(3 if act is np.uint8 else -3, act), "x_zp"),
        numpy_helper.from_array(np.array(y_scale), "y_scale"),
        numpy_helper.from_array(np.array(0, act), "y_zp"),
        numpy_helper.from_array(fc, "fc"), numpy_helper.from_array(np.float32(0.004), "fc_scale"),
        numpy_helper.from_array(np.int8(0), "fc_zp"),
        numpy_helper.from_array(np.array([1, -1], np.int64), "flat"),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "x_scale", "x_zp"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "x_scale", "x_zp"], ["xd"]),
        helper.make_node("DequantizeLinear", ["w", "w_scale", "w_zp"], ["wd"], axis=0),
        helper.make_node("DequantizeLinear", ["b", "b_scale", "b_zp"], ["bd"], axis=0),
        helper.make_node("Conv", ["xd", "wd", "bd"], ["c"], pads=[0, 0, 0, 0]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("QuantizeLinear", ["r", "y_scale", "y_zp"], ["rq"]),
        helper.make_node("DequantizeLinear", ["rq", "y_scale", "y_zp"], ["rd"]),
        helper.make_node("DequantizeLinear", ["fc", "fc_scale", "fc_zp"], ["fcd"]),
        *([helper.make_node("Reshape", ["rd", "flat"], ["f"]), helper.make_node("MatMul", ["f", "fcd"], ["y"])]
          if head == "MatMul" else
          [helper.make_node("Flatten", ["rd"], ["f"]), helper.make_node("Gemm", ["f", "fcd"], ["y"])]),
    ]
    graph = helper.make_graph(nodes, "qdq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def _references(model: onnx.ModelProto, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the model's QDQ arithmetic as written: ORT with its rewrites off, ORT as it runs the
    original by default). The second is no exact reference: its fused integer kernels land
    0.07-8.4 away from the first on these models (output range ~20-70)."""
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    data = model.SerializeToString()
    literal = ort.InferenceSession(data, so, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    default = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    return literal, default


def _assert_no_less_exact(got: np.ndarray, literal: np.ndarray, theirs: np.ndarray) -> None:
    """webnnc's result is at least as close to the model's own arithmetic as ORT's on the
    original (to float32 rounding: 1e-5 of the output's range)."""
    ours_err, theirs_err = np.max(np.abs(got - literal)), np.max(np.abs(theirs - literal))
    assert ours_err <= theirs_err + 1e-5 * np.ptp(literal), (ours_err, theirs_err)


def _integer_kernels(model: onnx.ModelProto) -> Counter[str]:
    from webnnc.compiler.emitters.ort_optimizer import QUANTIZED_PREPACKED_OPS

    return Counter(n.op_type for n in model.graph.node if n.op_type in QUANTIZED_PREPACKED_OPS)


def _ort_optimized(model: onnx.ModelProto, folder: Path) -> onnx.ModelProto:
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.optimized_model_filepath = str(folder / "ort-optimized.onnx")
    ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return onnx.load(so.optimized_model_filepath)


@pytest.mark.parametrize("activation", [TensorProto.UINT8, TensorProto.INT8], ids=["uint8", "int8"])
def test_qdq_model_runs_the_integer_kernels_and_matches_ort(tmp_path: Path, activation: int) -> None:
    model = _qdq_conv_model(activation)
    ctx = webnnc.ML().create_context(cache_dir=tmp_path)
    builder = ctx.create_graph_builder()
    graph = builder.build(import_onnx(model, builder=builder))
    # the stored graph holds as many integer kernels as ORT builds from the original, and
    # its weights stay 8-bit (float ones alone would be 4 x 6912 bytes)
    stored = tmp_path / "objects" / graph.manifest.artifact_sha256[:2] / graph.manifest.artifact_sha256
    ours = _integer_kernels(onnx.load(str(stored / "model.onnx"), load_external_data=False))
    theirs = _integer_kernels(_ort_optimized(model, tmp_path))
    assert sum(ours.values()) >= sum(theirs.values()) >= 1, (ours, theirs)
    if activation == TensorProto.UINT8:  # Conv + Relu + Q(zero point 0) is one QLinearConv
        assert ours["QLinearConv"] == 1, ours
    assert graph.manifest.artifact_size < 16 * 1024, graph.manifest.artifact_size
    # integer kernels pack their weights at every run unless prepacked; cheaply, so at once
    assert graph.manifest.session["prepacking"] is True
    assert "integer kernels" in graph.manifest.session["prepacking_reason"]
    assert graph.manifest.session["prepacking_deferred"] is False
    assert graph.build_info["session"]["prepacking"] == "on"
    x = rng.standard_normal((1, 8, 8, 8)).astype(np.float32)
    literal, theirs_y = _references(model, x)
    _assert_no_less_exact(ctx.compute(graph, {"x": x})["y"], literal, theirs_y)


def test_quantization_spelled_out_when_not_native() -> None:
    # block-wise scales (WebNN's broadcasting) have no ONNX QuantizeLinear equivalent
    from webnnc.compiler.emitters.onnx_emitter import to_model

    b = webnnc.ML().create_context(use_cache=False).create_graph_builder()
    x = b.input("x", [4, 6], "float32")
    scale = b.constant(np.full((2, 3), 0.1, np.float32))
    zero = b.constant(np.zeros((2, 3), np.uint8))
    q = b.quantize_linear(x, scale, zero)
    per_axis = b.dequantize_linear(q, b.constant(np.full((4, 1), 0.1, np.float32)), b.constant(np.zeros((4, 1), np.uint8)))
    graph = b.build({"y": b.dequantize_linear(q, scale, zero), "z": per_axis})
    stats: dict[str, int] = {}
    kinds = [n.op_type for n in to_model(graph._ir_graph, stats=stats).graph.node]
    assert kinds.count("QuantizeLinear") == 0 and kinds.count("DequantizeLinear") == 1, kinds
    assert stats == {"native_qdq": 1}
    assert "DequantizeLinear" not in [n.op_type for n in to_model(graph._ir_graph, native_qdq=False).graph.node]


def test_ort_failure_on_native_qdq_is_retried_without_qdq_propagation(tmp_path: Path) -> None:
    # int8 activations, Reshape -> quantized MatMul: onnxruntime 1.32's QDQ propagation and its
    # int8 -> uint8 activation rewrite together fail on the opset-21 graph (ort_optimizer's NOTE)
    model = _qdq_conv_model(TensorProto.INT8, head="MatMul")
    ctx = webnnc.ML().create_context(cache_dir=tmp_path)
    builder = ctx.create_graph_builder()
    graph = builder.build(import_onnx(model, builder=builder))
    stored = tmp_path / "objects" / graph.manifest.artifact_sha256[:2] / graph.manifest.artifact_sha256
    ours = _integer_kernels(onnx.load(str(stored / "model.onnx"), load_external_data=False))
    assert sum(ours.values()) >= sum(_integer_kernels(_ort_optimized(model, tmp_path)).values()) >= 1, ours
    assert graph.manifest.extra.get("optimizers_disabled") == ["QDQPropagationTransformer"], graph.manifest.extra
    x = rng.standard_normal((1, 8, 8, 8)).astype(np.float32)
    literal, _ = _references(model, x)
    # Without QDQ propagation the convolution runs as float math in its own summation order,
    # and a ReLU output within float rounding of a quantization boundary (step 0.05) may land
    # on the neighbouring level: each flip moves an output by at most 0.05 * 127 * 0.004 (the
    # largest weight of the quantized MatMul). Measured: 0.05 (ORT 1.32), 0.066 (ORT 1.31).
    err = float(np.max(np.abs(ctx.compute(graph, {"x": x})["y"] - literal)))
    assert err <= 4 * 0.05 * 127 * 0.004, err


def test_int8_activations_beside_layout_transposes_compile_and_compute(caplog: pytest.LogCaptureFixture) -> None:
    # int8 activations beside NHWC transposes: ORT 1.32's QDQ rewrites fail on this graph as
    # emitted (the WPT case "dequantizeLinear -> conv2d -> clamp -> quantizeLinear")
    ctx = webnnc.ML().create_context(use_cache=False)
    b = ctx.create_graph_builder()
    x = b.input("x", [1, 4, 4, 3], "float32")
    s, z = b.constant(np.full((1, 1, 1, 1), 0.01, np.float32)), b.constant(np.zeros((1, 1, 1, 1), np.int8))
    xd = b.dequantize_linear(b.quantize_linear(x, s, z), s, z)
    w = b.dequantize_linear(b.constant(np.ones((2, 1, 1, 3), np.int8)), b.constant(np.full((1, 1, 1, 1), 0.5, np.float32)),
                            b.constant(np.zeros((1, 1, 1, 1), np.int8)))
    y = b.conv2d(xd, w, input_layout="nhwc", filter_layout="ohwi")
    with caplog.at_level(logging.WARNING):
        graph = b.build({"y": b.dequantize_linear(b.quantize_linear(y, s, z), s, z)})
    xs = np.linspace(-0.5, 0.5, 48, dtype=np.float32).reshape(1, 4, 4, 3)
    xq = np.clip(np.round(xs / 0.01), -128, 127) * 0.01
    want = np.clip(np.round(xq.sum(axis=3, keepdims=True) * 0.5 / 0.01), -128, 127) * 0.01
    np.testing.assert_allclose(ctx.compute(graph, {"x": xs})["y"], np.repeat(want, 2, axis=3), rtol=1e-5, atol=1e-6)
    # which route compiled it is recorded: native (perhaps after the retry without QDQ
    # propagation, named in the manifest), or spelled out after a logged warning
    warned = any("quantization as float arithmetic" in r.getMessage() for r in caplog.records)
    extra = graph.manifest.extra
    assert bool(extra.get("native_qdq")) != warned, (extra.get("native_qdq"), warned)
    assert extra.get("optimizers_disabled") in (None, ["QDQPropagationTransformer"])


def test_driver_spells_quantization_out_when_the_optimizer_keeps_failing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from webnnc.compiler.emitters import ort_optimizer

    real = ort_optimizer.optimize

    def failing(model: bytes, **kwargs: object) -> object:
        if kwargs.get("quantized"):
            raise RuntimeError("simulated optimizer failure on native QDQ")
        return real(model, **kwargs)

    monkeypatch.setattr(ort_optimizer, "optimize", failing)
    model = _qdq_conv_model(TensorProto.UINT8)
    ctx = webnnc.ML().create_context(use_cache=False)
    builder = ctx.create_graph_builder()
    with caplog.at_level(logging.WARNING):
        graph = builder.build(import_onnx(model, builder=builder))
    assert any("simulated optimizer failure" in r.getMessage() and "float arithmetic" in r.getMessage()
               for r in caplog.records)
    assert not graph.manifest.extra.get("native_qdq")
    x = rng.standard_normal((1, 8, 8, 8)).astype(np.float32)
    _assert_no_less_exact(ctx.compute(graph, {"x": x})["y"], *_references(model, x))
