"""ONNX Resize / Upsample modes beyond WebNN's resample2d == ONNX Runtime on the original.

4-D resizes of H and W import as one resample2d with webnnc's placement extension
(``coordinateTransformationMode`` / ``nearestMode``), which the ONNX target emits as one
Resize node; other ranks and resized batch/channels import as per-axis gathers. Nearest
resizing picks source elements, so it must match exactly; linear resizing as gathers is a
lerp per axis where ONNX Runtime weights the neighbours in one sum, a reassociation:
tolerance rtol 1e-5, atol 1e-6 (float32, unit-scale inputs).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from webnnc.compiler import import_onnx
from webnnc.compiler.emitters import get_emitter
from webnnc.compiler.frontend import MLGraphBuilder

F = TensorProto.FLOAT


def _f(*v: float) -> np.ndarray:
    return np.array(v, np.float32)


def _i(*v: int) -> np.ndarray:
    return np.array(v, np.int64)


# (id, input shape, scales or None, sizes or None, attributes, opset)
CASES: list[tuple[str, list[int], np.ndarray | None, np.ndarray | None, dict[str, Any], int]] = [
    ("linear-align-corners-up", [1, 3, 5, 7], _f(1, 1, 2, 2), None,
     {"mode": "linear", "coordinate_transformation_mode": "align_corners"}, 17),
    ("linear-align-corners-sizes-odd", [1, 2, 6, 5], None, _i(1, 2, 13, 11),
     {"mode": "linear", "coordinate_transformation_mode": "align_corners"}, 17),
    ("linear-align-corners-down", [1, 2, 9, 8], None, _i(1, 2, 4, 3),
     {"mode": "linear", "coordinate_transformation_mode": "align_corners"}, 17),
    ("linear-asymmetric-fractional", [1, 2, 5, 6], _f(1, 1, 1.5, 2.5), None,
     {"mode": "linear", "coordinate_transformation_mode": "asymmetric"}, 17),
    ("linear-pytorch-half-pixel-to-one", [1, 2, 5, 6], None, _i(1, 2, 1, 9),
     {"mode": "linear", "coordinate_transformation_mode": "pytorch_half_pixel"}, 17),
    ("linear-1d-sequence", [1, 4, 10], _f(1, 1, 2), None, {"mode": "linear"}, 17),
    ("trilinear-5d", [1, 2, 3, 4, 5], _f(1, 1, 2, 2, 2), None,
     {"mode": "linear", "coordinate_transformation_mode": "align_corners"}, 17),
    ("linear-half-pixel-symmetric", [1, 2, 5, 6], None, _i(1, 2, 8, 9),
     {"mode": "linear", "coordinate_transformation_mode": "half_pixel_symmetric"}, 19),
    ("nearest-asymmetric-floor-fractional", [1, 3, 7, 5], None, _i(1, 3, 10, 12),
     {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}, 17),
    ("nearest-align-corners-ceil", [1, 2, 4, 6], None, _i(1, 2, 9, 5),
     {"mode": "nearest", "coordinate_transformation_mode": "align_corners", "nearest_mode": "ceil"}, 17),
    ("nearest-tf-half-pixel-for-nn", [1, 2, 5, 5], _f(1, 1, 1.6, 0.6), None,
     {"mode": "nearest", "coordinate_transformation_mode": "tf_half_pixel_for_nn"}, 17),
    ("nearest-asymmetric-round-prefer-floor-1.5", [1, 1, 4, 4], _f(1, 1, 1.5, 1.5), None,
     {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "round_prefer_floor"}, 17),
    ("nearest-3d-input", [2, 3, 7], _f(1, 1, 3), None, {"mode": "nearest"}, 17),
    ("linear-tf-half-pixel-for-nn-down", [1, 2, 9, 7], None, _i(1, 2, 4, 5),
     {"mode": "linear", "coordinate_transformation_mode": "tf_half_pixel_for_nn"}, 17),
    ("linear-asymmetric-scales-down", [1, 3, 10, 9], _f(1, 1, 0.6, 0.45), None,
     {"mode": "linear", "coordinate_transformation_mode": "asymmetric"}, 17),
    ("nearest-half-pixel-symmetric", [1, 2, 5, 7], None, _i(1, 2, 8, 3),
     {"mode": "nearest", "coordinate_transformation_mode": "half_pixel_symmetric",
      "nearest_mode": "round_prefer_ceil"}, 19),
    ("nearest-half-pixel-ceil-fractional", [1, 2, 6, 4], None, _i(1, 2, 9, 7),
     {"mode": "nearest", "nearest_mode": "ceil"}, 17),
    ("linear-align-corners-channels-resized", [1, 4, 5, 6], None, _i(1, 7, 5, 6),
     {"mode": "linear", "coordinate_transformation_mode": "align_corners"}, 17),
]

# the 4-D H/W cases: one resample2d in the graph, one Resize node in the ONNX artifact
ONE_NODE = [c for c in CASES if len(c[1]) == 4 and c[0] != "linear-align-corners-channels-resized"]


def _model(shape: list[int], scales: np.ndarray | None, sizes: np.ndarray | None, attrs: dict[str, Any],
           opset: int) -> onnx.ModelProto:
    inits = [numpy_helper.from_array(np.zeros(0, np.float32), "roi"),
             numpy_helper.from_array(scales if scales is not None else np.zeros(0, np.float32), "scales")]
    names = ["x", "roi", "scales"]
    if sizes is not None:
        inits.append(numpy_helper.from_array(sizes, "sizes"))
        names.append("sizes")
    node = helper.make_node("Resize", names, ["y"], name="resize", **attrs)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", F, shape)],
                              [helper.make_tensor_value_info("y", F, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 9
    return model


def _check(model: onnx.ModelProto, x: np.ndarray, context: Any, exact: bool, cid: str) -> None:
    builder = context.create_graph_builder()
    got = context.compute(builder.build(import_onnx(model, builder=builder)), {"x": x})["y"]
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    assert got.shape == want.shape, f"{cid}: {got.shape} != {want.shape}"
    if exact:
        np.testing.assert_array_equal(got, want, err_msg=cid)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=cid)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_resize_matches_onnxruntime(case: Any, nocache_context: Any) -> None:
    cid, shape, scales, sizes, attrs, opset = case
    x = np.random.default_rng(5).standard_normal(shape).astype(np.float32)
    _check(_model(shape, scales, sizes, attrs, opset), x, nocache_context, attrs["mode"] == "nearest", cid)


def test_upsample_opset9_linear_matches_onnxruntime(nocache_context: Any) -> None:
    """Upsample-9 linear samples asymmetrically, which resample2d cannot express."""
    scales = numpy_helper.from_array(_f(1, 1, 2, 3), "scales")
    node = helper.make_node("Upsample", ["x", "scales"], ["y"], mode="linear")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", F, [1, 2, 3, 4])],
                              [helper.make_tensor_value_info("y", F, None)], [scales])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 9)])
    model.ir_version = 8
    x = np.random.default_rng(6).standard_normal([1, 2, 3, 4]).astype(np.float32)
    _check(model, x, nocache_context, False, "upsample9-linear")


@pytest.mark.parametrize("case", ONE_NODE, ids=[c[0] for c in ONE_NODE])
def test_hw_resize_is_one_resize_node(case: Any) -> None:
    """The resize reaches ONNX Runtime as one Resize with the original's placement attributes."""
    cid, shape, scales, sizes, attrs, opset = case
    builder = MLGraphBuilder()
    graph = builder.build(import_onnx(_model(shape, scales, sizes, attrs, opset), builder=builder))
    assert [n.op_type for n in graph.nodes] == ["resample2d"], cid
    emitted = onnx.load_from_string(get_emitter("onnx").emit(graph).data)
    resizes = [n for n in emitted.graph.node if n.op_type == "Resize"]
    assert [n.op_type for n in emitted.graph.node] == ["Resize"], cid
    got = {a.name: helper.get_attribute_value(a) for a in resizes[0].attribute}
    want_coord = attrs.get("coordinate_transformation_mode", "half_pixel").encode()
    assert got["coordinate_transformation_mode"] == want_coord or got["mode"] == b"nearest", cid


def test_integer_nearest_resize_keeps_gathers(nocache_context: Any) -> None:
    """resample2d takes floats only: an int32 nearest resize with ONNX placement stays exact gathers."""
    node = helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], mode="nearest",
                            coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.INT32, [1, 2, 3, 5])],
                              [helper.make_tensor_value_info("y", TensorProto.INT32, None)],
                              [numpy_helper.from_array(_i(1, 2, 7, 8), "sizes")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    x = np.arange(30, dtype=np.int32).reshape(1, 2, 3, 5)
    _check(model, x, nocache_context, True, "int32-nearest")


def test_resample2d_extension_options_are_validated() -> None:
    b = MLGraphBuilder()
    x = b.input("x", [1, 1, 2, 2], "float32")
    with pytest.raises(TypeError, match="resample2d: coordinateTransformationMode must be one of"):
        b.resample2d(x, sizes=[4, 4], coordinateTransformationMode="tf_crop_and_resize")
    with pytest.raises(TypeError, match="resample2d: nearestMode must be one of"):
        b.resample2d(x, sizes=[4, 4], nearestMode="up")
    plain = b.resample2d(x, sizes=[4, 4], coordinateTransformationMode="half_pixel", nearestMode="round_prefer_floor")
    assert "coordinate_transformation_mode" not in plain._value.producer.attributes  # defaults stay WebNN's


@pytest.mark.parametrize("case", ONE_NODE, ids=[c[0] for c in ONE_NODE])
def test_coreml_resamples_onnx_placements_by_gathers(case: Any) -> None:
    """CoreML's MIL has no ONNX placements: per-axis MIL gathers, evaluated by the reference
    evaluator, == ONNX Runtime on the original (same tolerance as the ONNX target's gathers)."""
    pytest.importorskip("coremltools")
    from tests.mil_reference import MilProgram
    from webnnc.compiler.emitters.coreml_emitter import EMITTER

    cid, shape, scales, sizes, attrs, opset = case
    model = _model(shape, scales, sizes, attrs, opset)
    builder = MLGraphBuilder()
    graph = builder.build(import_onnx(model, builder=builder))
    x = np.random.default_rng(7).standard_normal(shape).astype(np.float32)
    art = EMITTER.emit(graph)
    names = art.info["coreml_io"]
    got = MilProgram.from_archive(art.data).run({names["inputs"]["x"]: x})[names["outputs"]["y"]]
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=cid)
