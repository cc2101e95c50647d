"""Large raw weights are read straight from the file, outside protobuf's parse
(``compiler/importers/_onnx_weights.py``); any layout it does not expect falls back to the
whole parse. The reference is the same model parsed whole by onnx (exact equality)."""

from __future__ import annotations

import mmap
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper

from webnnc.compiler.importers import import_onnx
from webnnc.compiler.importers._onnx_core import OnnxImportError
from webnnc.compiler.importers._onnx_weights import MIN_SPLIT_BYTES, split_weights
from webnnc.compiler.importers.onnx_importer import _read_model

RNG = np.random.default_rng(0)
BIG = 128 * 128  # float32: 64 KiB, the split threshold


def _model(inits: list[onnx.TensorProto], opset: int = 17) -> onnx.ModelProto:
    """y = x + w0 (+ every initializer cast to float and summed to a scalar, so all are used)."""
    nodes, acc = [], "x"
    for k, t in enumerate(inits):
        nodes.append(h.make_node("Cast", [t.name], [f"c{k}"], to=T.FLOAT))
        nodes.append(h.make_node("ReduceSum", [f"c{k}"], [f"s{k}"], keepdims=0))
        nodes.append(h.make_node("Add", [acc, f"s{k}"], [f"a{k}"]))
        acc = f"a{k}"
    nodes.append(h.make_node("Constant", [], ["k"], value=numpy_helper.from_array(np.full([3], 2, np.float32), "k")))
    nodes.append(h.make_node("Mul", [acc, "k"], ["y"]))
    g = h.make_graph(nodes, "weights", [h.make_tensor_value_info("x", T.FLOAT, [3])],
                     [h.make_tensor_value_info("y", T.FLOAT, [3])], inits)
    return h.make_model(g, opset_imports=[h.make_opsetid("", opset)])


def _inits() -> list[onnx.TensorProto]:
    return [
        numpy_helper.from_array(RNG.standard_normal([128, 128]).astype(np.float32), "w_f32"),
        numpy_helper.from_array(RNG.integers(-9, 9, [BIG]).astype(np.int64), "w_i64"),
        numpy_helper.from_array(RNG.standard_normal([BIG * 2]).astype(np.float16), "w_f16"),
        numpy_helper.from_array(RNG.integers(0, 2, [BIG * 4]).astype(bool), "w_bool"),
        numpy_helper.from_array(RNG.standard_normal([BIG]).astype(np.float64), "w_f64"),
        numpy_helper.from_array(np.arange(6, dtype=np.float32), "small"),  # stays in the message
    ]


def _consts(graph: object) -> list[bytes]:
    return sorted(np.ascontiguousarray(v.const).tobytes() + str(v.const.dtype).encode() for v in graph.constants)  # type: ignore[attr-defined]


def test_split_read_equals_the_whole_parse(tmp_path: Path) -> None:
    model = _model(_inits())
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    loaded, arrays = _read_model(path)
    assert sorted(arrays) == ["w_bool", "w_f16", "w_f32", "w_f64", "w_i64"]
    whole = onnx.load(path)
    for t in whole.graph.initializer:
        if t.name in arrays:
            ref = numpy_helper.to_array(t)
            assert arrays[t.name].dtype == ref.dtype and np.array_equal(arrays[t.name], ref), t.name
            assert not arrays[t.name].flags.writeable  # shared by the IR, never copied again
    # the split file is the whole file minus exactly those raw_data fields
    for t in whole.graph.initializer:
        if t.name in arrays:
            t.ClearField("raw_data")
    assert loaded == whole
    # and the import is the same as from bytes (which never splits)
    assert _consts(import_onnx(str(path))) == _consts(import_onnx(model.SerializeToString()))


def _split(data: bytes) -> tuple[bytes, dict[str, tuple[int, int]]] | None:
    return split_weights(memoryview(data))


def test_layouts_it_does_not_expect_parse_whole(tmp_path: Path) -> None:
    data = _model(_inits()).SerializeToString()
    assert _split(data) is not None
    assert _split(_model([_inits()[-1]]).SerializeToString()) is None  # nothing large to split
    assert _split(data[:-7]) is None  # truncated
    assert _split(data + b"\x0b") is None  # a group (wire type 3) at the top level
    second_graph = bytes([7 << 3 | 2, 0])  # a second (empty) graph field: protobuf would merge them
    assert _split(data + second_graph) is None
    # a tensor with two raw_data fields (protobuf keeps the last): not split
    t = numpy_helper.from_array(np.ones(BIG, np.float32), "dup")
    extra = bytes([9 << 3 | 2]) + _varint(4 * BIG) + np.zeros(BIG, np.float32).tobytes()
    g = h.make_graph([h.make_node("Identity", ["dup"], ["y"])], "g", [], [h.make_tensor_value_info("y", T.FLOAT, [BIG])])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 17)])
    graph_bytes = g.SerializeToString() + bytes([5 << 3 | 2]) + _varint(len(t.SerializeToString() + extra)) + t.SerializeToString() + extra
    m.ClearField("graph")
    raw = m.SerializeToString() + bytes([7 << 3 | 2]) + _varint(len(graph_bytes)) + graph_bytes
    assert onnx.ModelProto.FromString(raw).graph.initializer[0].raw_data == np.zeros(BIG, np.float32).tobytes()
    assert _split(raw) is None
    path = tmp_path / "dup.onnx"
    path.write_bytes(raw)
    _, arrays = _read_model(path)
    assert arrays == {}  # parsed whole: protobuf's meaning (the last raw_data) holds


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def test_a_weight_shorter_than_its_dims_is_the_same_error_as_before(tmp_path: Path) -> None:
    t = numpy_helper.from_array(np.ones(BIG, np.float32), "w")
    t.dims[0] = BIG + 1  # one element short
    path = tmp_path / "short.onnx"
    onnx.save(_model([t]), path)
    with pytest.raises(OnnxImportError, match=r"initializer 'w' \(ONNX data type 1, dims \[16385\]\) cannot be read"):
        import_onnx(str(path))


def test_types_without_plain_elements_and_old_opsets_parse_whole(tmp_path: Path) -> None:
    bf16 = h.make_tensor("w_bf16", T.BFLOAT16, [BIG * 2], np.ones(BIG * 2, np.uint16) * 0x3F80, raw=False)
    bf16 = numpy_helper.from_array(numpy_helper.to_array(bf16), "w_bf16")
    path = tmp_path / "bf16.onnx"
    onnx.save(_model([bf16, *_inits()[:1]]), path)
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m, memoryview(m) as v:
        assert _split(bytes(v)) is not None  # the walk finds it; reading it does not accept it
    _, arrays = _read_model(path)
    assert arrays == {}
    # opset 12 (< the importer's minimum): the version converter gets the whole model
    old = _model(_inits()[:2], opset=12)
    old_path = tmp_path / "old.onnx"
    onnx.save(old, old_path)
    assert _consts(import_onnx(str(old_path))) == _consts(import_onnx(old.SerializeToString()))


def test_external_data_is_left_to_onnx(tmp_path: Path) -> None:
    model = _model(_inits()[:2])
    whole = model.SerializeToString()  # onnx.save below moves the model's weights out
    path = tmp_path / "ext.onnx"
    onnx.save(model, path, save_as_external_data=True, all_tensors_to_one_file=True, location="w.bin",
              size_threshold=MIN_SPLIT_BYTES // 2)
    _, arrays = _read_model(path)
    assert arrays == {} and (tmp_path / "w.bin").stat().st_size > MIN_SPLIT_BYTES
    assert _consts(import_onnx(str(path))) == _consts(import_onnx(whole))
