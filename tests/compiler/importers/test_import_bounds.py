"""Issue 15 item 6: tiny ONNX files that ask the importer's constant folding for gigabytes or
for ever get one clean error (or a bounded run-time form) before allocating or looping."""

from __future__ import annotations

import time
import tracemalloc
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h

from webnnc.compiler.importers import import_onnx
from webnnc.compiler.importers._fold_bounds import fold_limits
from webnnc.compiler.importers._onnx_core import OnnxImportError, UnsupportedOnnxOperatorsError

GIB = 1 << 30


def _model(nodes: list[onnx.NodeProto], inits: list[onnx.TensorProto], out_shape: Any = None) -> onnx.ModelProto:
    g = h.make_graph([*nodes, h.make_node("Add", ["x", "c"], ["y"])], "bomb",
                     [h.make_tensor_value_info("x", T.FLOAT, [1])],
                     [h.make_tensor_value_info("y", T.FLOAT, out_shape)], inits)
    return h.make_model(g, opset_imports=[h.make_opsetid("", 17)])


def _i64(name: str, values: list[int]) -> onnx.TensorProto:
    return h.make_tensor(name, T.INT64, [len(values)], values)


def _loop(trip_count: int, body_nodes: list[onnx.NodeProto], v0: np.ndarray) -> onnx.ModelProto:
    body = h.make_graph(
        [*body_nodes, h.make_node("Identity", ["cond_in"], ["cond_out"])], "body",
        [h.make_tensor_value_info("i", T.INT64, []), h.make_tensor_value_info("cond_in", T.BOOL, []),
         h.make_tensor_value_info("v_in", T.FLOAT, None)],
        [h.make_tensor_value_info("cond_out", T.BOOL, []), h.make_tensor_value_info("v_out", T.FLOAT, None)],
        [h.make_tensor("one", T.FLOAT, [1], [1.0])])
    return _model([h.make_node("Loop", ["M", "cond", "v0"], ["c"], body=body)],
                  [h.make_tensor("M", T.INT64, [], [trip_count]), h.make_tensor("cond", T.BOOL, [], [True]),
                   h.make_tensor("v0", T.FLOAT, list(v0.shape), v0.reshape(-1).tolist())])


def _import_bounded(model: onnx.ModelProto) -> tuple[BaseException | None, float, int]:
    """Import; (error, seconds, peak bytes numpy and Python allocated)."""
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        import_onnx(model.SerializeToString())
        error: BaseException | None = None
    except (OnnxImportError, UnsupportedOnnxOperatorsError) as e:
        error = e
    finally:
        seconds = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return error, seconds, peak


BOMBS = {
    "ConstantOfShape 25000x25000": (
        [h.make_node("ConstantOfShape", ["s"], ["c"])], [_i64("s", [25000, 25000])], "ConstantOfShape"),
    "Expand to 40000x40000": (
        [h.make_node("Expand", ["one", "s"], ["c"])],
        [h.make_tensor("one", T.FLOAT, [1], [1.0]), _i64("s", [40000, 40000])], "Expand"),
    "Tile to 2^16 x 2^16": (
        [h.make_node("Tile", ["one", "r"], ["c"])],
        [h.make_tensor("one", T.FLOAT, [1, 1], [1.0]), _i64("r", [65536, 65536])], "Tile"),
    "Range of 2^40": (
        [h.make_node("Range", ["a", "b", "d"], ["r"]), h.make_node("Cast", ["r"], ["c"], to=T.FLOAT)],
        [h.make_tensor("a", T.INT64, [], [0]), h.make_tensor("b", T.INT64, [], [2**40]),
         h.make_tensor("d", T.INT64, [], [1])], "Range"),
    "Pad by 2^20 x 2^20": (
        [h.make_node("Pad", ["one", "p"], ["c"])],
        [h.make_tensor("one", T.FLOAT, [1, 1], [1.0]), _i64("p", [2**20, 2**20, 0, 0])], "Pad"),
    "Resize x 50000": (
        [h.make_node("Resize", ["one", "", "sc"], ["c"])],
        [h.make_tensor("one", T.FLOAT, [1, 1, 2, 2], [1.0] * 4),
         h.make_tensor("sc", T.FLOAT, [4], [1, 1, 50000, 50000])], "Resize"),
}


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_a_constant_bomb_is_refused_before_it_is_allocated(name: str) -> None:
    nodes, inits, op = BOMBS[name]
    error, seconds, peak = _import_bounded(_model(nodes, inits))
    assert error is not None, f"{name}: imported"
    assert op in str(error)
    assert "limit" in str(error)
    assert peak < GIB // 4, f"{name}: {peak / GIB:.2f} GiB allocated before the error"
    assert seconds < 30


def test_a_loop_of_two_to_the_forty_stops_at_the_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    assert fold_limits()[1] <= 30  # the default keeps `webnnc compile` under the acceptance's 30 s
    monkeypatch.setenv("WEBNNC_IMPORT_FOLD_SECONDS", "0.5")
    model = _loop(2**40, [h.make_node("Add", ["v_in", "one"], ["v_out"])], np.zeros([1], np.float32))
    error, seconds, _ = _import_bounded(model)
    assert isinstance(error, UnsupportedOnnxOperatorsError)
    assert "Loop" in str(error) and "WEBNNC_IMPORT_FOLD_SECONDS" in str(error)
    assert seconds < 10


def test_a_loop_that_doubles_a_tensor_stops_at_the_memory_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBNNC_IMPORT_FOLD_MEMORY", "64M")
    # shape inference cannot see the size (the loop-carried shape changes every iteration)
    model = _loop(40, [h.make_node("Concat", ["v_in", "v_in"], ["v_out"], axis=0)], np.ones([1024], np.float32))
    error, seconds, peak = _import_bounded(model)
    assert isinstance(error, UnsupportedOnnxOperatorsError)
    assert "WEBNNC_IMPORT_FOLD_MEMORY" in str(error) or "WEBNNC_IMPORT_FOLD_ELEMENTS" in str(error)
    assert peak < GIB
    assert seconds < 30


def test_small_loops_and_fills_still_fold() -> None:
    model = _loop(3, [h.make_node("Add", ["v_in", "one"], ["v_out"])], np.zeros([1], np.float32))
    graph = import_onnx(model.SerializeToString())
    assert [n.op_type for n in graph.nodes] == ["add"]
    fill = _model([h.make_node("ConstantOfShape", ["s"], ["c"])], [_i64("s", [2, 3])])
    assert [n.op_type for n in import_onnx(fill.SerializeToString()).nodes] == ["add"]


def test_a_bad_limit_setting_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBNNC_IMPORT_FOLD_SECONDS", "forever")
    with pytest.raises(OnnxImportError, match="WEBNNC_IMPORT_FOLD_SECONDS: expected a positive number"):
        fold_limits()
