"""1-D and 3-D Conv / MaxPool / AveragePool / global pools / InstanceNormalization == ONNX Runtime.

WebNN has 2-D convolution, pooling and instance normalization only: 1-D inputs run in an
[N, C, 1, L] layout, 3-D ones as compositions (a sum over the kernel depth of 2-D convolutions for Conv, two
separable 2-D pools, spatial axes flattened for global pools and instance norm), so sums are
reassociated: tolerance rtol 1e-4, atol 1e-5 for convolutions, averages and norms (float32,
inputs and weights of unit scale); max pooling is exact.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from webnnc.compiler import import_onnx

F = TensorProto.FLOAT
rng0 = np.random.default_rng(3)


def _w(*shape: int) -> np.ndarray:
    return rng0.standard_normal(shape).astype(np.float32)


# (id, op, input shape, weights (or None), bias (or None), attributes)
CASES: list[tuple[str, str, list[int], np.ndarray | None, np.ndarray | None, dict[str, Any]]] = [
    ("conv3d-r3d-stem", "Conv", [1, 3, 6, 14, 14], _w(4, 3, 3, 7, 7), _w(4),
     {"pads": [1, 3, 3, 1, 3, 3], "strides": [1, 2, 2]}),
    ("conv3d-stride2-pad", "Conv", [2, 4, 7, 8, 8], _w(5, 4, 3, 3, 3), None,
     {"pads": [1, 1, 1, 1, 1, 1], "strides": [2, 2, 2]}),
    ("conv3d-1x1x1-downsample", "Conv", [1, 4, 8, 6, 6], _w(6, 4, 1, 1, 1), None, {"strides": [2, 2, 2]}),
    ("conv3d-grouped-dilated", "Conv", [1, 6, 9, 7, 7], _w(4, 3, 2, 3, 3), _w(4),
     {"group": 2, "dilations": [2, 1, 2], "pads": [0, 1, 2, 1, 1, 2]}),
    ("conv3d-depthwise-same-upper", "Conv", [1, 4, 5, 6, 6], _w(4, 1, 3, 3, 3), None,
     {"group": 4, "auto_pad": "SAME_UPPER", "strides": [2, 1, 2]}),
    ("conv3d-temporal-kx1x1", "Conv", [1, 6, 9, 5, 4], _w(4, 3, 3, 1, 1), _w(4),
     {"group": 2, "pads": [2, 0, 0, 1, 0, 0], "strides": [2, 1, 1], "dilations": [2, 1, 1]}),
    ("conv3d-spatial-1xkxk", "Conv", [1, 3, 4, 9, 9], _w(5, 3, 1, 3, 3), None,
     {"pads": [0, 1, 1, 0, 1, 1], "strides": [1, 2, 2]}),
    ("maxpool3d-spatial-only", "MaxPool", [1, 3, 4, 9, 9], None, None,
     {"kernel_shape": [1, 3, 3], "strides": [1, 2, 2], "pads": [0, 1, 1, 0, 1, 1]}),
    ("maxpool3d-temporal-only", "MaxPool", [1, 3, 8, 5, 5], None, None, {"kernel_shape": [2, 1, 1], "strides": [2, 1, 1]}),
    ("maxpool3d", "MaxPool", [1, 3, 8, 9, 9], None, None,
     {"kernel_shape": [3, 3, 3], "strides": [2, 2, 2], "pads": [1, 1, 1, 1, 1, 1]}),
    ("maxpool3d-ceil", "MaxPool", [1, 2, 7, 7, 7], None, None,
     {"kernel_shape": [2, 3, 3], "strides": [2, 2, 2], "ceil_mode": 1}),
    ("avgpool3d-exclude-pad", "AveragePool", [1, 3, 6, 7, 7], None, None,
     {"kernel_shape": [3, 3, 3], "strides": [1, 2, 2], "pads": [1, 1, 1, 1, 1, 1]}),
    ("avgpool3d-include-pad", "AveragePool", [1, 3, 6, 7, 7], None, None,
     {"kernel_shape": [3, 2, 3], "strides": [2, 1, 2], "pads": [1, 0, 1, 1, 1, 1], "count_include_pad": 1}),
    ("conv1d-strided-padded-dilated-grouped", "Conv", [1, 4, 33], _w(6, 2, 5), _w(6),
     {"pads": [2, 1], "strides": [3], "dilations": [2], "group": 2}),
    ("conv1d-same-lower", "Conv", [2, 3, 16], _w(4, 3, 4), None, {"auto_pad": "SAME_LOWER", "strides": [2]}),
    ("conv-transpose1d-upsample", "ConvTranspose", [1, 4, 9], _w(4, 3, 8), _w(3),
     {"strides": [4], "pads": [2, 2]}),
    ("conv-transpose1d-grouped-output-padding", "ConvTranspose", [1, 4, 6], _w(4, 2, 3), None,
     {"strides": [2], "group": 2, "output_padding": [1], "dilations": [2]}),
    ("maxpool1d-ceil", "MaxPool", [1, 3, 10], None, None, {"kernel_shape": [3], "strides": [2], "ceil_mode": 1}),
    ("avgpool1d-include-pad", "AveragePool", [1, 3, 11], None, None,
     {"kernel_shape": [3], "strides": [2], "pads": [1, 1], "count_include_pad": 1}),
    ("global-avgpool1d", "GlobalAveragePool", [1, 5, 7], None, None, {}),
    ("instance-norm-3d-input", "InstanceNormalization", [2, 4, 50], _w(4), _w(4), {"epsilon": 1e-5}),
    ("instance-norm-5d-input", "InstanceNormalization", [1, 3, 4, 5, 6], _w(3), _w(3), {}),
    ("global-avgpool3d", "GlobalAveragePool", [1, 5, 3, 4, 5], None, None, {}),
    ("global-maxpool3d", "GlobalMaxPool", [1, 5, 3, 4, 5], None, None, {}),
]


def _model(op: str, shape: list[int], w: np.ndarray | None, b: np.ndarray | None,
           attrs: dict[str, Any]) -> onnx.ModelProto:
    inits = [numpy_helper.from_array(a, n) for a, n in ((w, "w"), (b, "b")) if a is not None]
    if op == "InstanceNormalization":  # scale and bias are its two constant inputs
        inits = [numpy_helper.from_array(w, "s"), numpy_helper.from_array(b, "b")]
    names = ["x", *(i.name for i in inits)]
    node = helper.make_node(op, names, ["y"], name=f"{op}_node", **attrs)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", F, shape)],
                              [helper.make_tensor_value_info("y", F, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_spatial_rank_op_matches_onnxruntime(case: Any, nocache_context: Any) -> None:
    cid, op, shape, w, b, attrs = case
    model = _model(op, shape, w, b, attrs)
    x = np.random.default_rng(11).standard_normal(shape).astype(np.float32)
    builder = nocache_context.create_graph_builder()
    got = nocache_context.compute(builder.build(import_onnx(model, builder=builder)), {"x": x})["y"]
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    assert got.shape == want.shape, f"{cid}: {got.shape} != {want.shape}"
    assert got.dtype == want.dtype
    if op == "MaxPool" or op == "GlobalMaxPool":
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=cid)


def test_conv3d_with_a_filter_computed_at_run_time(nocache_context: Any) -> None:
    # the filter is a graph input: its depth slices are sliced in the graph, not folded
    shape, wshape = [1, 4, 6, 7, 7], [6, 2, 3, 3, 3]
    node = helper.make_node("Conv", ["x", "w"], ["y"], group=2, pads=[1, 0, 1, 1, 1, 0], strides=[1, 2, 1])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", F, shape),
                                            helper.make_tensor_value_info("w", F, wshape)],
                              [helper.make_tensor_value_info("y", F, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    rng = np.random.default_rng(5)
    feeds = {"x": rng.standard_normal(shape).astype(np.float32), "w": rng.standard_normal(wshape).astype(np.float32)}
    builder = nocache_context.create_graph_builder()
    got = nocache_context.compute(builder.build(import_onnx(model, builder=builder)), feeds)["y"]
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
