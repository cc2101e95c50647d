"""What real models need from the CoreML emitter: packages that open (with and without
weights), int64 carried as int32, booleans moved by data-movement ops, rank-6 window
partitions held at rank <= 5, and every refused node reported at once.

Numerics run the saved program through ``tests/mil_reference.py`` and compare with numpy:
these graphs only move, gather and compare values (exact: asserted equal), except the float
products in the language-model head (float32: rtol 1e-6).
"""

from __future__ import annotations

import io
import itertools
import logging
import zipfile
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tests.coreml_package import check_package
from tests.mil_reference import MilProgram
from webnnc.compiler.errors import UnsupportedOperatorError
from webnnc.compiler.frontend import MLGraphBuilder
from webnnc.compiler.ir import Graph, Node, OperandDescriptor

pytest.importorskip("coremltools")

from webnnc.compiler.emitters.coreml._rank import merge_transpose, plan_views
from webnnc.compiler.emitters.coreml_emitter import EMITTER, WEIGHTS_DIR


def _graph(fn: Callable[[MLGraphBuilder], dict[str, Any]]) -> Graph:
    b = MLGraphBuilder()
    graph: Graph = b.build(fn(b))
    return graph


def _run(graph: Graph, feeds: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Emit, then evaluate as the runtime feeds it: uint8 and int64 inputs as int32."""
    art = EMITTER.emit(graph)
    io_names = art.info["coreml_io"]
    narrowed = set(io_names["int32_carriers"]) | set(io_names["int64_carriers"])
    out = MilProgram.from_archive(art.data).run(
        {io_names["inputs"][n]: x.astype(np.int32) if n in narrowed else x for n, x in feeds.items()}
    )
    specs = {n: v.data_type.numpy_dtype for n, v in graph.outputs.items()}
    return {n: out[c].astype(specs[n]) for n, c in io_names["outputs"].items()}, io_names


# ---------------------------------------------------------------- packages open
def test_weight_free_package_opens() -> None:
    g = _graph(lambda b: {"y": b.relu(b.add(b.input("x", [2, 3]), b.input("z", [2, 3])))})
    data = EMITTER.emit(g).data
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert not any(n.startswith(WEIGHTS_DIR) for n in names)
    spec = check_package(data)  # Manifest items exist; MLModel(skip_model_load=True) reads it
    assert [o.name for o in spec.description.output] == ["y"]


def test_package_with_weights_opens_and_lists_them() -> None:
    w = np.arange(64 * 64, dtype=np.float32).reshape(64, 64) / 4096
    g = _graph(lambda b: {"y": b.matmul(b.input("x", [2, 64]), b.constant(w))})
    data = EMITTER.emit(g).data
    assert f"{WEIGHTS_DIR}/weight.bin" in zipfile.ZipFile(io.BytesIO(data)).namelist()
    check_package(data)


# ---------------------------------------------------------------- int64 carried as int32
def test_int64_ids_masks_and_outputs_are_carried_as_int32(rng: np.random.Generator) -> None:
    table = rng.standard_normal([50, 4]).astype(np.float32)
    positions = np.arange(6, dtype=np.int64).reshape(1, 6)

    def fn(b: MLGraphBuilder) -> dict[str, Any]:
        ids, mask = b.input("input_ids", [1, 6], "int64"), b.input("attention_mask", [1, 6], "int64")
        emb = b.gather(b.constant(table), ids, axis=0)  # [1, 6, 4]
        pos = b.gather_elements(b.constant(np.tile(positions, (1, 2))), b.constant(positions), axis=1)
        keep = b.cast(b.not_equal(mask, b.constant(np.zeros([1, 1], np.int64))), "float32")
        y = b.mul(emb, b.reshape(keep, [1, 6, 1]))
        return {"y": y, "next_ids": b.add(ids, b.constant(np.ones([1, 1], np.int64))), "pos": pos,
                "best": b.arg_max(y, 2, output_data_type="int64")}

    ids = rng.integers(0, 50, size=[1, 6]).astype(np.int64)
    mask = np.array([[1, 1, 0, 1, 0, 0]], np.int64)
    out, io_names = _run(_graph(fn), {"input_ids": ids, "attention_mask": mask})
    assert io_names["int64_carriers"] == ["attention_mask", "best", "input_ids", "next_ids", "pos"]
    want = table[ids] * mask[..., None].astype(np.float32)
    np.testing.assert_allclose(out["y"], want, rtol=1e-6)
    np.testing.assert_array_equal(out["next_ids"], ids + 1)
    np.testing.assert_array_equal(out["pos"], positions)
    np.testing.assert_array_equal(out["best"], np.argmax(want, axis=2))


def test_int64_constant_outside_int32_saturates_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    big = np.array([2**40, -(2**40), 7], np.int64)
    g = _graph(lambda b: {"y": b.max(b.input("x", [3], "int64"), b.constant(big))})
    with caplog.at_level(logging.WARNING):
        out, _ = _run(g, {"x": np.array([1, 2, 3], np.int64)})
    assert "outside int32" in caplog.text
    np.testing.assert_array_equal(out["y"], [2**31 - 1, 2, 7])


# ---------------------------------------------------------------- booleans moved
def test_boolean_data_moves_through_reshape_gather_concat(rng: np.random.Generator) -> None:
    def fn(b: MLGraphBuilder) -> dict[str, Any]:
        x, idx = b.input("x", [4, 3]), b.input("idx", [2], "int64")
        cond = b.reshape(b.greater(x, b.constant(np.zeros([1], np.float32))), [3, 4])
        rows = b.gather(cond, idx, axis=0)  # [2, 4] booleans, computed int64 indices
        nd = b.gather_nd(cond, b.constant(np.array([[1, 2], [0, 0]], np.int32)))
        both = b.concat([rows, b.constant(np.array([[1, 0, 1, 0]], np.uint8))], 0)
        again = b.not_equal(both, b.constant(np.zeros([1], np.uint8)))
        return {"rows": rows, "nd": nd, "both": both, "pick": b.where_(again, b.constant(np.ones([3, 4], np.float32)),
                                                                        b.constant(np.zeros([3, 4], np.float32)))}

    x = rng.standard_normal([4, 3]).astype(np.float32)
    idx = np.array([2, -1], np.int64)
    out, _ = _run(_graph(fn), {"x": x, "idx": idx})
    cond = (x > 0).reshape(3, 4).astype(np.uint8)
    np.testing.assert_array_equal(out["rows"], cond[[2, -1]])
    np.testing.assert_array_equal(out["nd"], [cond[1, 2], cond[0, 0]])
    both = np.concatenate([cond[[2, -1]], [[1, 0, 1, 0]]])
    np.testing.assert_array_equal(out["both"], both)
    np.testing.assert_array_equal(out["pick"], both.astype(np.float32))


# ---------------------------------------------------------------- rank 6 held at rank <= 5
def _partition(x: np.ndarray, w: int) -> np.ndarray:
    n, h, wd, c = x.shape
    return x.reshape(n, h // w, w, wd // w, w, c).transpose(0, 1, 3, 2, 4, 5).reshape(-1, w * w, c)


def _reverse(win: np.ndarray, w: int, h: int, wd: int) -> np.ndarray:
    c = win.shape[-1]
    return win.reshape(1, h // w, wd // w, w, w, c).transpose(0, 1, 3, 2, 4, 5).reshape(1, h, wd, c)


def test_window_partition_and_reverse_through_rank6(rng: np.random.Generator) -> None:
    scale = rng.standard_normal([1, 16, 6]).astype(np.float32)

    def fn(b: MLGraphBuilder) -> dict[str, Any]:
        x = b.input("x", [1, 8, 8, 6])
        win = b.reshape(b.transpose(b.reshape(x, [1, 2, 4, 2, 4, 6]), [0, 1, 3, 2, 4, 5]), [4, 16, 6])
        win = b.mul(win, b.constant(scale))
        back = b.transpose(b.reshape(win, [1, 2, 2, 4, 4, 6]), [0, 1, 3, 2, 4, 5])
        return {"y": b.reshape(back, [1, 8, 8, 6])}

    g = _graph(fn)
    views = plan_views(g)  # the two rank-6 reshape results and the two transposes'
    assert len(views) == 4 and all(len(v) == 4 and np.prod(v) == 384 for v in views.values())
    x = rng.standard_normal([1, 8, 8, 6]).astype(np.float32)
    art = EMITTER.emit(g)
    prog = MilProgram.from_archive(art.data)
    ranks = [len(o.type.tensorType.dimensions) for op in prog.block.operations for o in op.outputs]
    assert max(ranks) <= 5
    y = prog.run({"x": x})["y"]
    np.testing.assert_allclose(y, _reverse(_partition(x, 4) * scale, 4, 8, 8), rtol=1e-6)


@pytest.mark.parametrize("rank", [6, 7])
def test_merge_transpose_agrees_with_numpy(rng: np.random.Generator, rank: int) -> None:
    for _ in range(40):
        shape = tuple(int(d) for d in rng.choice([1, 2, 3], size=rank))
        perm = tuple(int(p) for p in rng.permutation(rank))
        x = rng.standard_normal(shape)
        in_shape, group_perm, out_shape = merge_transpose(shape, perm)
        got = x.reshape(in_shape).transpose(group_perm).reshape(-1)
        np.testing.assert_array_equal(got, x.transpose(perm).reshape(-1))
        assert np.prod(out_shape) == x.size


def test_rank6_that_no_merge_brings_to_rank5_is_refused() -> None:
    def fn(b: MLGraphBuilder) -> dict[str, Any]:
        x = b.reshape(b.input("x", [2, 3, 2, 3, 2, 3]), [2, 3, 2, 3, 2, 3])
        return {"y": b.reshape(b.transpose(x, [5, 4, 3, 2, 1, 0]), [36, 6])}

    # the full reversal keeps 6 groups: no reshape or transpose of the chain can be lowered
    with pytest.raises(UnsupportedOperatorError, match=r"reshape \(2 nodes: #0, #2\): CoreML tensors have rank <= 5; found rank 6") as e:
        EMITTER.emit(_graph(fn))
    assert "transpose (1 node: #1)" in str(e.value)


def test_rank6_value_read_by_another_op_is_refused() -> None:
    def fn(b: MLGraphBuilder) -> dict[str, Any]:
        x = b.reshape(b.input("x", [4, 9]), [1, 2, 2, 3, 3, 1])
        return {"y": b.reshape(b.relu(x), [36])}

    with pytest.raises(UnsupportedOperatorError, match=r"relu \(1 node: #1\): CoreML tensors have rank <= 5; found rank 6"):
        EMITTER.emit(_graph(fn))


# ---------------------------------------------------------------- errors: all at once
def test_every_refused_node_is_reported_at_once_grouped_by_op() -> None:
    g = Graph("g")
    x = g.add_input("x", OperandDescriptor("int32", (2,)))
    u = g.add_input("u", OperandDescriptor("uint32", (2,)))
    a = g.append(Node("pow", [x, x], [OperandDescriptor("int32", (2,))])).outputs[0]
    b = g.append(Node("pow", [a, x], [OperandDescriptor("int32", (2,))])).outputs[0]
    c = g.append(Node("fancyOp", [b], [OperandDescriptor("int32", (2,))], name="f1")).outputs[0]
    g.outputs["y"] = c
    g.outputs["u"] = u
    with pytest.raises(UnsupportedOperatorError) as e:
        EMITTER.emit(g)
    msg = str(e.value)
    assert msg.startswith("the graph cannot be lowered to coreml: 3 node(s) of 2 op type(s) refused, and the model boundary")
    assert "pow (2 nodes: #0, #1): MIL computes pow on float16, float32 only; found int32" in msg
    assert "fancyOp (1 node: f1): no CoreML lowering" in msg
    assert "graph input 'u'" in msg and "uint32" in msg


def test_many_refused_nodes_are_counted_not_listed() -> None:
    def fn(b: MLGraphBuilder) -> dict[str, Any]:
        x = b.input("x", [2], "int32")
        for _ in range(8):
            x = b.pow(x, x)
        return {"y": x}

    with pytest.raises(UnsupportedOperatorError, match=r"^pow \(8 nodes: #0, #1, #2, #3, #4 and 3 more\): cannot be lowered to coreml: MIL computes"):
        EMITTER.emit(_graph(fn))


def test_window_like_chains_in_every_layout_keep_their_values(rng: np.random.Generator) -> None:
    # every permutation of a rank-6 tensor whose groups fit: held at rank <= 5, exact
    shape = (1, 2, 3, 2, 3, 4)
    x = rng.standard_normal(shape).astype(np.float32)
    tried = 0
    for perm in itertools.permutations(range(6)):
        if len(merge_transpose(shape, perm)[0]) > 5 or tried >= 12:
            continue
        tried += 1

        def fn(b: MLGraphBuilder, perm: tuple[int, ...] = perm) -> dict[str, Any]:
            return {"y": b.reshape(b.transpose(b.reshape(b.input("x", [12, 12]), list(shape)), list(perm)), [144])}

        out, _ = _run(_graph(fn), {"x": x.reshape(12, 12)})
        np.testing.assert_array_equal(out["y"], x.transpose(perm).reshape(-1))
    assert tried == 12
