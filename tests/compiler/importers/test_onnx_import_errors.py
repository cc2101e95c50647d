"""Import errors are reported clearly, all at once; constant subgraphs fold away."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from webnnc.compiler import import_onnx
from webnnc.compiler.importers import (
    OnnxImportError,
    UnsupportedOnnxOperatorsError,
    parse_input_shapes,
)

F = TensorProto.FLOAT


def _model(nodes: list[onnx.NodeProto], inputs: list[onnx.ValueInfoProto], outputs: list[str],
           inits: list[onnx.TensorProto] | None = None, opset: int = 17,
           extra_opsets: list[onnx.OperatorSetIdProto] | None = None) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs,
                              [helper.make_tensor_value_info(o, TensorProto.UNDEFINED, None) for o in outputs],
                              inits or [])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset), *(extra_opsets or [])])
    m.ir_version = 8
    return onnx.shape_inference.infer_shapes(m)


def test_every_unsupported_node_is_reported_at_once() -> None:
    x = helper.make_tensor_value_info("x", F, [1, 2, 4, 4, 4])
    # 3-D convolution imports (as a conv2d composition); a 4-D one is still beyond WebNN
    x6 = helper.make_tensor_value_info("x6", F, [1, 2, 3, 3, 3, 3])
    k = numpy_helper.from_array(np.array([2], np.int64), "k")
    w3 = numpy_helper.from_array(np.ones([2, 2, 1, 1, 1, 1], np.float32), "w3")
    nodes = [
        helper.make_node("Conv", ["x6", "w3"], ["c"], name="conv3d"),
        helper.make_node("Relu", ["c"], ["r"], name="after_conv3d"),  # downstream: not re-reported
        helper.make_node("TopK", ["x", "k"], ["v", "i"], name="topk", axis=-1),
        helper.make_node("NonZero", ["x"], ["nz"], name="nonzero"),
        helper.make_node("Custom", ["x"], ["cu"], name="custom", domain="com.example"),
        helper.make_node("MaxPool", ["x"], ["mp", "idx"], name="pool_with_indices", kernel_shape=[2, 2, 2]),
    ]
    model = _model(nodes, [x, x6], ["r", "v", "nz", "cu", "idx"], [k, w3],
                   extra_opsets=[helper.make_opsetid("com.example", 1)])
    with pytest.raises(UnsupportedOnnxOperatorsError) as info:
        import_onnx(model)
    problems = {p.node: p for p in info.value.problems}
    assert set(problems) == {"conv3d", "topk", "nonzero", "custom", "pool_with_indices"}
    assert all(p.opset == 17 for p in problems.values())
    assert "4-D spatial input" in problems["conv3d"].reason
    assert problems["topk"].op_type == "TopK" and "top-k" in problems["topk"].reason
    assert "static shapes" in problems["nonzero"].reason
    assert "custom domain 'com.example'" in problems["custom"].reason
    assert "Indices output" in problems["pool_with_indices"].reason
    message = str(info.value)
    assert "5 ONNX node(s) cannot be expressed in WebNN" in message
    assert "node 'topk' (TopK, opset 17)" in message
    assert isinstance(info.value, NotImplementedError)  # UnsupportedOperatorError's builtin base


def test_unsupported_attribute_names_the_attribute() -> None:
    x = helper.make_tensor_value_info("x", F, [1, 4])
    node = helper.make_node("ArgMax", ["x"], ["y"], name="am", axis=1, select_last_index=1)
    with pytest.raises(UnsupportedOnnxOperatorsError, match=r"'am' \(ArgMax, opset 17\): attribute select_last_index=1"):
        import_onnx(_model([node], [x], ["y"]))


def test_runtime_values_where_webnn_needs_constants_are_explained() -> None:
    x = helper.make_tensor_value_info("x", F, [2, 3])
    shape = helper.make_tensor_value_info("shape", TensorProto.INT64, [2])
    node = helper.make_node("Reshape", ["x", "shape"], ["y"], name="dyn_reshape")
    with pytest.raises(UnsupportedOnnxOperatorsError, match=r"input 1 \(shape\) is computed at run time"):
        import_onnx(_model([node], [x, shape], ["y"]))


def test_dynamic_dims_listed_with_a_fix() -> None:
    x = helper.make_tensor_value_info("images", F, ["N", 3, "H", "W"])
    y = helper.make_tensor_value_info("scale", F, [1])
    node = helper.make_node("Mul", ["images", "scale"], ["out"])
    model = _model([node], [x, y], ["out"])
    with pytest.raises(OnnxImportError, match=r"images \[N, 3, H, W\].*--input-shape images=1,3,1,1"):
        import_onnx(model)
    graph = import_onnx(model, input_shapes={"images": [2, 3, 8, 8]})
    assert graph.inputs[0].shape == (2, 3, 8, 8)
    with pytest.raises(OnnxImportError, match="not graph inputs"):
        import_onnx(model, input_shapes={"image": [1, 3, 8, 8]})
    with pytest.raises(OnnxImportError, match="has rank 4; --input-shape gives 2"):
        import_onnx(model, input_shapes={"images": [1, 3]})


def test_parse_input_shapes_rejects_bad_text() -> None:
    assert parse_input_shapes(["x=1,3,224,224"]) == {"x": [1, 3, 224, 224]}
    for bad in ("x", "x=", "=1,2", "x=1,a", "x=0,3"):
        with pytest.raises(OnnxImportError, match="NAME=D1,D2"):
            parse_input_shapes([bad])


def test_opset_and_file_errors(tmp_path: Any) -> None:
    x = helper.make_tensor_value_info("x", F, [2])
    old = _model([helper.make_node("Relu", ["x"], ["y"])], [x], ["y"], opset=6)
    assert import_onnx(old).op_counts() == {"relu": 1}  # upgraded by onnx.version_converter
    ancient = _model([helper.make_node("Frobnicate", ["x"], ["y"])], [x], ["y"], opset=5)
    with pytest.raises(OnnxImportError, match="opset 5 is older than 7 and ONNX's version converter cannot"):
        import_onnx(ancient)
    with pytest.raises(OnnxImportError, match="does not exist"):
        import_onnx(tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a protobuf at all")
    with pytest.raises(OnnxImportError, match=r"junk\.onnx"):
        import_onnx(tmp_path / "junk.onnx")


def test_shape_subgraphs_and_constants_fold_away(nocache_context: Any, rng: np.random.Generator) -> None:
    """Shape -> Gather -> Unsqueeze -> Concat -> Reshape, ConstantOfShape and Constant all fold."""
    x = helper.make_tensor_value_info("x", F, [2, 3, 4])
    c = lambda name, v: numpy_helper.from_array(np.array(v, np.int64), name)  # noqa: E731
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n", "axes0"], ["n1"]),
        helper.make_node("Concat", ["n1", "minus1"], ["target"], axis=0),
        helper.make_node("Reshape", ["x", "target"], ["flat"]),
        helper.make_node("ConstantOfShape", ["twelve"], ["ones"],
                         value=numpy_helper.from_array(np.array([1.5], np.float32))),
        helper.make_node("Constant", [], ["k"], value_float=2.0),
        helper.make_node("Mul", ["ones", "k"], ["threes"]),
        helper.make_node("Add", ["flat", "threes"], ["y"]),
    ]
    inits = [c("zero", 0), c("axes0", [0]), c("minus1", [-1]), c("twelve", [12])]
    model = _model(nodes, [x], ["y"], inits)
    graph = import_onnx(model)
    assert graph.op_counts() == {"reshape": 1, "add": 1}
    builder = nocache_context.create_graph_builder()
    compiled = builder.build(import_onnx(model, builder=builder))
    feeds = {"x": rng.standard_normal([2, 3, 4]).astype(np.float32)}
    got = nocache_context.compute(compiled, feeds)["y"]
    (want,) = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)
    np.testing.assert_array_equal(got, want)


def test_resize_modes_beyond_nearest_and_linear_are_refused() -> None:
    # nearest/linear modes resample2d cannot express import as exact gathers
    # (test_onnx_resize_gathers.py); cubic has neither form
    x = helper.make_tensor_value_info("x", F, [1, 1, 4, 4])
    scales = numpy_helper.from_array(np.array([1, 1, 1.5, 1.5], np.float32), "scales")
    node = helper.make_node("Resize", ["x", "", "scales"], ["y"], name="rs", mode="cubic")
    with pytest.raises(UnsupportedOnnxOperatorsError, match="mode='cubic'.*as gathers: mode='cubic'"):
        import_onnx(_model([node], [x], ["y"], [scales]))


def test_shape_disagreements_with_onnx_inference_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    # ONNX's shape inference keeps a ceil_mode window that starts in the end padding; ONNX
    # Runtime (the reference) and the importer drop it.
    x = helper.make_tensor_value_info("x", F, [1, 1, 5, 5])
    node = helper.make_node("MaxPool", ["x"], ["y"], name="mp", kernel_shape=[2, 2], strides=[2, 2],
                            pads=[1, 1, 1, 1], ceil_mode=1)
    with caplog.at_level("WARNING", logger="webnnc.compiler.importers.onnx_importer"):
        graph = import_onnx(_model([node], [x], ["y"]))
    assert graph.outputs["y"].shape == (1, 1, 3, 3)
    assert "WebNN shape [1, 1, 3, 3], ONNX shape inference [1, 1, 4, 4]" in caplog.text


def test_if_with_a_constant_condition_inlines_the_taken_branch(
    nocache_context: Any, rng: np.random.Generator
) -> None:
    """Exporters guard reshapes with shape checks: If(Equal(Shape(x)[0], 2)) folds at import."""
    x = helper.make_tensor_value_info("x", F, [2, 3])
    then_g = helper.make_graph([helper.make_node("Relu", ["x"], ["t"])], "then", [],
                               [helper.make_tensor_value_info("t", F, [2, 3])])
    else_g = helper.make_graph([helper.make_node("Neg", ["x"], ["e"])], "else", [],
                               [helper.make_tensor_value_info("e", F, [2, 3])])
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        helper.make_node("Equal", ["n", "two"], ["cond"]),
        helper.make_node("If", ["cond"], ["r"], then_branch=then_g, else_branch=else_g),
        helper.make_node("Mul", ["r", "r"], ["y"]),
    ]
    inits = [numpy_helper.from_array(np.array(0, np.int64), "zero"),
             numpy_helper.from_array(np.array(2, np.int64), "two")]
    model = _model(nodes, [x], ["y"], inits)
    assert import_onnx(model).op_counts() == {"relu": 1, "mul": 1}
    builder = nocache_context.create_graph_builder()
    compiled = builder.build(import_onnx(model, builder=builder))
    feeds = {"x": rng.standard_normal([2, 3]).astype(np.float32)}
    (want,) = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)
    np.testing.assert_array_equal(nocache_context.compute(compiled, feeds)["y"], want)


def test_outputs_that_fold_to_constants_are_still_computed(nocache_context: Any) -> None:
    x = helper.make_tensor_value_info("x", F, [2, 3])
    nodes = [helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Relu", ["x"], ["r"])]
    model = _model(nodes, [x], ["s", "r"])
    builder = nocache_context.create_graph_builder()
    compiled = builder.build(import_onnx(model, builder=builder))
    out = nocache_context.compute(compiled, {"x": np.ones([2, 3], np.float32)})
    np.testing.assert_array_equal(out["s"], np.array([2, 3], np.int64))
    assert out["s"].dtype == np.int64


def test_input_shapes_only_apply_to_onnx_sources() -> None:
    from webnnc.compiler.sources import SourceError, resolve_source

    with pytest.raises(SourceError, match="applies to .onnx models only"):
        resolve_source("webnnc.compiler.workloads:w1_simple", input_shapes={"input": [1, 3, 8, 8]})


def test_many_identical_refusals_summarize_in_one_line_per_kind() -> None:
    # an SSD-like detector: 180 NonZero nodes and one If on a run-time condition -> 2 lines
    x = helper.make_tensor_value_info("x", F, [1, 8])
    flag = helper.make_tensor_value_info("flag", F, [])
    branch = helper.make_graph([helper.make_node("Identity", ["x"], ["b"])], "b", [],
                               [helper.make_tensor_value_info("b", F, [1, 8])])
    nodes = [helper.make_node("NonZero", ["x"], [f"nz{i}"], name=f"nonzero_{i}") for i in range(180)]
    nodes.append(helper.make_node("Cast", ["flag"], ["cond"], name="to_bool", to=TensorProto.BOOL))
    nodes.append(helper.make_node("If", ["cond"], ["picked"], name="the_if", then_branch=branch, else_branch=branch))
    model = _model(nodes, [x, flag], [*(f"nz{i}" for i in range(180)), "picked"])
    with pytest.raises(UnsupportedOnnxOperatorsError) as info:
        import_onnx(model)
    assert len(info.value.problems) == 181  # every node is still there for programs
    lines = str(info.value).splitlines()
    assert len(lines) == 3, lines  # the headline, then one line per kind of refusal
    assert "181 ONNX node(s) cannot be expressed in WebNN" in lines[0]
    assert "blocking operators: NonZero (180), If (1)" in lines[0]
    assert lines[1].startswith("  - 180 NonZero nodes (opset 17): ") and "static shapes" in lines[1]
    assert "'nonzero_0', 'nonzero_1', 'nonzero_2' and 177 more" in lines[1]
    assert lines[2].startswith("  - node 'the_if' (If, opset 17): ")


def test_refusal_summary_is_bounded() -> None:
    from webnnc.compiler.importers._onnx_core import UnsupportedProblem, summarize_problems

    problems = [UnsupportedProblem(f"n{i}", f"Op{i}", 17, "no mapping") for i in range(1000)]
    text = summarize_problems(problems, "big.onnx")
    assert len(text.splitlines()) <= 27 and "and 975 more node(s) in 975 other groups" in text
