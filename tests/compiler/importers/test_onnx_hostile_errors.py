"""Issue 15 item 10: malformed ONNX models end in one OnnxImportError naming the model and the
node, input or initializer, never a KeyError / TypeError / protobuf or onnx traceback."""

from __future__ import annotations

import re
from typing import Any

import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h

from webnnc.compiler.importers import import_onnx
from webnnc.compiler.importers._onnx_core import OnnxImportError


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
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_model_is_one_clean_error(name: str) -> None:
    model, match = CASES[name]
    with pytest.raises(OnnxImportError, match=re.escape(match)) as info:
        import_onnx(model)
    assert "\n" not in str(info.value)
