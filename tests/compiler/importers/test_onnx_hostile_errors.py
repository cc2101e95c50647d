"""Issue 15 item 10: malformed ONNX models end in one OnnxImportError naming the model and the
node, input or initializer, never a KeyError / TypeError / protobuf or onnx traceback."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper

from webnnc.compiler.importers import import_onnx
from webnnc.compiler.importers._onnx_core import OnnxImportError, UnsupportedOnnxOperatorsError


def _model(nodes: list[onnx.NodeProto], inits: tuple[onnx.TensorProto, ...] = (),
           outs: tuple[str, ...] = ("y",), in_type: int = T.FLOAT) -> onnx.ModelProto:
    g = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", in_type, [2])],
                     [h.make_tensor_value_info(o, T.FLOAT, [2]) for o in outs], list(inits))
    return h.make_model(g, opset_imports=[h.make_opsetid("", 17)])


def _bad_dtype_tensor() -> onnx.TensorProto:
    t = h.make_tensor("c", T.FLOAT, [2], [1, 2])
    t.data_type = 77
    return t


def _non_utf8_op() -> bytes:
    raw = _model([h.make_node("Relu", ["x"], ["y"])]).SerializeToString()
    return raw.replace(b"Relu", b"R\xff\xfeu")


CASES: dict[str, tuple[Any, str]] = {
    "output nothing produces": (
        _model([h.make_node("Relu", ["x"], ["y"])], outs=("y", "z")), "graph output 'z' is produced by no"),
    "initializer of unknown dtype": (
        _model([h.make_node("Add", ["x", "c"], ["y"])], (_bad_dtype_tensor(),)), "initializer 'c' (ONNX data type 77"),
    "Constant attribute of unknown dtype": (
        _model([h.make_node("Constant", [], ["c"], value=_bad_dtype_tensor()), h.make_node("Add", ["x", "c"], ["y"])]),
        "node 'Constant_0' (Constant): an attribute cannot be read"),
    "input of unknown dtype": (_model([h.make_node("Relu", ["x"], ["y"])], in_type=99), "input 'x' has ONNX element type 99"),
    "non-UTF-8 op type": (_non_utf8_op(), "not UTF-8"),
    "garbage bytes": (b"\x08\x07garbage" * 10, "not a readable ONNX model"),
    "value assigned twice": (
        _model([h.make_node("Relu", ["x"], ["y"], name="a"), h.make_node("Neg", ["x"], ["y"], name="b")]),
        "node 'b' writes 'y', which node 'a' already defines; expected every value to be assigned once"),
    "node writes a graph input": (
        _model([h.make_node("Relu", ["x"], ["x"], name="r"), h.make_node("Neg", ["x"], ["y"])]),
        "node 'r' writes 'x', which a graph input or initializer already defines"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_model_is_one_clean_error(name: str) -> None:
    model, match = CASES[name]
    with pytest.raises(OnnxImportError, match=re.escape(match)) as info:
        import_onnx(model)
    assert "\n" not in str(info.value)


# Malformed attributes and constant inputs: each node ends as one named problem saying what was
# expected and what was found, never "importer error (IndexError ...); please report it".
def _node_model(node: onnx.NodeProto, inits: tuple[onnx.TensorProto, ...] = (), shape: tuple[int, ...] = (1, 2, 8, 8)) -> onnx.ModelProto:
    g = h.make_graph([node], "g", [h.make_tensor_value_info("x", T.FLOAT, list(shape))],
                     [h.make_tensor_value_info("y", T.FLOAT, None)], list(inits))
    return h.make_model(g, opset_imports=[h.make_opsetid("", 17)])


def _const(name: str, values: list[Any], dtype: Any = np.int64) -> onnx.TensorProto:
    return numpy_helper.from_array(np.array(values, dtype=dtype), name)


_W = numpy_helper.from_array(np.ones((4, 2, 3, 3), np.float32), "w")
_THEN = h.make_graph([h.make_node("Relu", ["x"], ["t"])], "then", [], [h.make_tensor_value_info("t", T.FLOAT, [2])])
_ELSE2 = h.make_graph([h.make_node("Neg", ["x"], ["e"]), h.make_node("Neg", ["x"], ["f"])], "else", [],
                      [h.make_tensor_value_info("e", T.FLOAT, [2]), h.make_tensor_value_info("f", T.FLOAT, [2])])

NODE_CASES: dict[str, tuple[onnx.ModelProto, str]] = {
    "INT where INTS": (_node_model(h.make_node("Conv", ["x", "w"], ["y"], strides=2), (_W,)),
                       "attribute 'strides': expected INTS, found INT"),
    "STRING where INT": (_node_model(h.make_node("Conv", ["x", "w"], ["y"], group="a"), (_W,)),
                         "attribute 'group': expected INT, found STRING"),
    "required attribute missing": (_node_model(h.make_node("Concat", ["x", "x"], ["y"])),
                                   "required attribute 'axis' is missing"),
    "too few inputs": (_node_model(h.make_node("Relu", [], ["y"])), "expected at least 1 input(s); found 0"),
    "pads of the wrong length": (_node_model(h.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1])),
                                 "pads [1, 1, 1]: expected 4 values"),
    "strides of the wrong length": (
        _node_model(h.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], auto_pad="SAME_UPPER", strides=[2])),
        "strides [2]: expected 2 values"),
    "kernel_shape of the wrong length": (_node_model(h.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3])),
                                         "kernel_shape [3]: expected 2 values"),
    "Conv pads of the wrong length": (_node_model(h.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1]), (_W,)),
                                      "pads [1, 1, 1]: expected 4 values"),
    "Resize scales of the wrong length": (
        _node_model(h.make_node("Resize", ["x", "", "s"], ["y"]), (_const("s", [2, 2], np.float32),)),
        "scales [2.0, 2.0]: expected 4 values"),
    "Resize NaN scale": (_node_model(h.make_node("Resize", ["x", "", "s"], ["y"]), (_const("s", [1, 1, np.nan, 2], np.float32),)),
                         "expected finite positive values"),
    "Slice starts and ends of different lengths": (
        _node_model(h.make_node("Slice", ["x", "s", "e"], ["y"]), (_const("s", [0, 0]), _const("e", [1]))),
        "expected one value each per sliced axis; found 2, 1"),
    "Expand to a shape the input does not broadcast to": (
        _node_model(h.make_node("Expand", ["x", "s"], ["y"]), (_const("s", [4, 4]),), shape=(2, 3)),
        "shape [4, 4]: expected a shape that input shape [2, 3] broadcasts to"),
    "DepthToSpace blocksize 0": (_node_model(h.make_node("DepthToSpace", ["x"], ["y"], blocksize=0)),
                                 "blocksize: expected a positive integer; found 0"),
    "Clip with a vector bound": (_node_model(h.make_node("Clip", ["x", "lo"], ["y"]), (_const("lo", [5, 1], np.float32),)),
                                 "min: expected a scalar; found shape [2]"),
    "Einsum output index not in the inputs": (
        _node_model(h.make_node("Einsum", ["x", "x"], ["y"], equation="ij,jk->ikz"), shape=(3, 3)),
        "expected output indices that appear once each"),
    "OneHot depth beyond a WebNN dimension": (
        h.make_model(h.make_graph([h.make_node("OneHot", ["i", "d", "v"], ["y"])], "g",
                                  [h.make_tensor_value_info("i", T.INT64, [2])], [h.make_tensor_value_info("y", T.FLOAT, None)],
                                  [_const("d", 2**40), _const("v", [0, 1], np.float32)]),
                     opset_imports=[h.make_opsetid("", 17)]),
        "depth: expected a value in [1, 2^31-1]"),
    "If with a vector condition": (
        _node_model(h.make_node("If", ["c"], ["y"], then_branch=_THEN, else_branch=_THEN), (_const("c", [True, False], bool),), (2,)),
        "condition: expected one boolean; found shape [2]"),
    "If branch with more outputs than the node": (
        _node_model(h.make_node("If", ["c"], ["y"], then_branch=_THEN, else_branch=_ELSE2), (_const("c", False, bool),), (2,)),
        "else_branch: expected 1 output(s), one per If output; found 2"),
    "If branch of the wrong attribute type": (
        _node_model(h.make_node("If", ["c"], ["y"], then_branch=3, else_branch=4), (_const("c", False, bool),), (2,)),
        "attribute 'else_branch': expected GRAPH, found INT"),
}


@pytest.mark.parametrize("name", sorted(NODE_CASES))
def test_malformed_node_is_one_named_problem(name: str) -> None:
    model, match = NODE_CASES[name]
    with pytest.raises(UnsupportedOnnxOperatorsError) as info:
        import_onnx(model)
    node = model.graph.node[0]
    (problem,) = info.value.problems
    assert problem.node == f"{node.op_type}_0" and problem.op_type == node.op_type
    assert match in problem.reason, problem.reason
    assert "importer error" not in problem.reason


def test_opset_beyond_int32_is_imported_with_the_newest_semantics() -> None:
    model = _model([h.make_node("Relu", ["x"], ["y"])])
    model.opset_import[0].version = 2**40
    import_onnx(model)  # no TypeError from onnx's schema lookup


@pytest.mark.parametrize(
    ("model", "kwargs", "match"),
    [
        (None, {}, "expected a file path, serialized bytes or an onnx.ModelProto; found NoneType"),
        (5, {}, "found int"),
        (_model([h.make_node("Relu", ["x"], ["y"])]), {"input_shapes": {"x": None}},
         "input_shapes['x']: expected a sequence of integers; found NoneType"),
        (_model([h.make_node("Relu", ["x"], ["y"])]), {"input_shapes": {"x": ["a"]}},
         "input_shapes['x']: expected a sequence of integers; found ['a']"),
    ],
)
def test_bad_arguments_are_one_clean_error(model: Any, kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(OnnxImportError, match=re.escape(match)):
        import_onnx(model, **kwargs)


@pytest.mark.parametrize("dims", [[1, 2**31], [0, 3], [-1]])
def test_input_shape_dimensions_out_of_range_are_refused(dims: list[int]) -> None:
    from webnnc.compiler.importers.onnx_importer import parse_input_shapes

    text, bad = ",".join(map(str, dims)), [d for d in dims if not 1 <= d < 2**31][0]
    with pytest.raises(OnnxImportError, match=re.escape(
            f"--input-shape 'x={text}': expected NAME=D1,D2,... with dimensions from 1 to 2147483647; found {bad}")):
        parse_input_shapes([f"x={text}"])
    with pytest.raises(OnnxImportError, match=re.escape(
            f"input_shapes['x']: expected dimensions from 1 to 2147483647; found {bad}")):
        import_onnx(_model([h.make_node("Relu", ["x"], ["y"])]), input_shapes={"x": dims})
