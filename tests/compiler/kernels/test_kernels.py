"""Fused kernels: random regions against numpy (float64), 1 and 2 threads, and the fallbacks.

Tolerances: elementwise chains are computed in float32 with one rounding per op, exactly as
ONNX Runtime runs them one by one, so the fused result must equal ONNX Runtime's unfused one
bit for bit; against the float64 numpy reference, WPT's float32 tolerance for a chain of
k ops (k+1 ULP of the result, with an absolute floor of 1e-6 x the operands' scale). Reductions
sum in double lanes: within 1e-5 relative of the float64 mean (WPT's reduceMean allows
input-size ULPs), and identical on 1 and 2 threads.
"""

from __future__ import annotations

import logging
import shutil
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from webnnc.compiler.kernels import fuse
from webnnc.compiler.kernels.fuse import fuse_model
from webnnc.compiler.kernels.toolchain import find_toolchain

pytestmark = pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None, reason="needs a C compiler")

BINARY = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Max": np.maximum, "Min": np.minimum}
UNARY = ("Relu", "Neg", "Abs", "Clip", "LeakyRelu")


def _session(model: onnx.ModelProto, library: bytes | None, threads: int) -> ort.InferenceSession:
    from webnnc.runtime._kernels import register_kernels

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = threads
    loaded = register_kernels(so, library) if library is not None else None
    try:
        return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    finally:
        if loaded is not None:
            loaded.close()


def _chain_model(
    shape: list[int], side_shapes: list[list[int]], ops: list[tuple[str, int]], reduce_axes: int
) -> tuple[onnx.ModelProto, dict[str, np.ndarray], Any]:
    """x -> ops (binary ones take side input k) [-> ReduceMean over trailing axes]; + a numpy64 reference."""
    rng = np.random.default_rng(len(ops) * 31 + len(shape))
    feeds = {"x": rng.standard_normal(shape).astype(np.float32)}
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)]
    inits = [
        numpy_helper.from_array(np.array(-0.5, np.float32), "lo"),
        numpy_helper.from_array(np.array(0.75, np.float32), "hi"),
        numpy_helper.from_array(np.array(1.5, np.float32), "two"),
    ]
    for k, s in enumerate(side_shapes):
        feeds[f"s{k}"] = rng.standard_normal(s).astype(np.float32)
        inputs.append(helper.make_tensor_value_info(f"s{k}", TensorProto.FLOAT, s))
    nodes = []
    cur = "x"
    ref = feeds["x"].astype(np.float64)
    for i, (op, k) in enumerate(ops):
        out = f"t{i}"
        if op in BINARY:
            other = f"s{k % len(side_shapes)}" if side_shapes and k >= 0 else "two"
            val = feeds[other].astype(np.float64) if other in feeds else np.float64(1.5)
            nodes.append(helper.make_node(op, [cur, other], [out]))
            ref = BINARY[op](ref, val)
        elif op == "Clip":
            nodes.append(helper.make_node("Clip", [cur, "lo", "hi"], [out]))
            ref = np.clip(ref, -0.5, 0.75)
        elif op == "LeakyRelu":
            nodes.append(helper.make_node("LeakyRelu", [cur], [out], alpha=0.2))
            ref = np.where(ref < 0, ref * np.float64(np.float32(0.2)), ref)
        else:
            nodes.append(helper.make_node(op, [cur], [out]))
            ref = {"Relu": lambda r: np.maximum(r, 0), "Neg": np.negative, "Abs": np.abs}[op](ref)
        cur = out
    outputs = [helper.make_tensor_value_info(cur, TensorProto.FLOAT, shape)]
    if reduce_axes:
        axes = list(range(len(shape) - reduce_axes, len(shape)))
        inits.append(numpy_helper.from_array(np.array(axes, np.int64), "axes"))
        nodes.append(helper.make_node("ReduceMean", [cur, "axes"], ["mean"], keepdims=1))
        red_shape = shape[: len(shape) - reduce_axes] + [1] * reduce_axes
        outputs.append(helper.make_tensor_value_info("mean", TensorProto.FLOAT, red_shape))
        ref = (ref, ref.mean(axis=tuple(axes), keepdims=True))
    graph = helper.make_graph(nodes, "chain", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    return model, feeds, ref


def _fused(model: onnx.ModelProto) -> tuple[onnx.ModelProto, bytes]:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    done = fuse_model(m, min_ops=1, min_elements=1)
    assert done is not None, "the chain formed no region"
    m, source, _ = done
    toolchain = find_toolchain()
    assert toolchain is not None
    return m, toolchain.build(source)


@st.composite
def _regions(draw: Any) -> tuple[list[int], list[list[int]], list[tuple[str, int]], int]:
    rank = draw(st.integers(1, 4))
    shape = [draw(st.sampled_from([1, 2, 3, 5, 8, 17, 64, 130])) for _ in range(rank)]
    sides = []
    for _ in range(draw(st.integers(0, 3))):  # broadcast operands: some dims 1, maybe lower rank
        keep = draw(st.integers(0, rank))
        tail = shape[rank - keep :]
        sides.append([d if draw(st.booleans()) else 1 for d in tail] or [1])
    ops = draw(
        st.lists(
            st.tuples(st.sampled_from([*BINARY, *UNARY]), st.integers(-1, 5)), min_size=1, max_size=12
        )
    )
    red = draw(st.integers(0, rank)) if draw(st.booleans()) else 0
    return shape, sides, ops, red


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_regions())
def test_random_regions_match_numpy_and_unfused_ort(case: Any) -> None:
    shape, sides, ops, red = case
    model, feeds, ref = _chain_model(shape, sides, ops, red)
    fused, library = _fused(model)
    assert any(n.domain == "webnnc.fused" for n in fused.graph.node)
    plain = _session(model, None, 1).run(None, feeds)
    results = [_session(fused, library, t).run(None, feeds) for t in (1, 2)]
    for a, b in zip(results[0], results[1], strict=True):  # thread count never changes a bit
        np.testing.assert_array_equal(a, b)
    elem_ref = ref[0] if red else ref
    np.testing.assert_array_equal(results[0][0], plain[0])  # one rounding per op, like ORT
    scale = float(np.max(np.abs(elem_ref))) if elem_ref.size else 1.0
    tol = (len(ops) + 1) * np.finfo(np.float32).eps
    np.testing.assert_allclose(results[0][0], elem_ref, rtol=tol, atol=tol * max(scale, 1.0))
    if red:
        np.testing.assert_allclose(results[0][1], ref[1], rtol=1e-5, atol=1e-6 * max(scale, 1.0))


def test_nan_and_inf_propagate_as_in_onnx_runtime() -> None:
    model, feeds, _ = _chain_model([4, 1024], [[1024]], [("Max", 0), ("Relu", 0), ("Min", 0), ("Clip", 0)], 0)
    feeds["x"][0, :8] = [np.nan, np.inf, -np.inf, -0.0, 0.0, np.nan, 1e38, -1e38]
    feeds["s0"][:4] = [np.nan, 1.0, np.nan, -np.inf]
    fused, library = _fused(model)
    got = _session(fused, library, 2).run(None, feeds)[0]
    want = _session(model, None, 1).run(None, feeds)[0]
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.nan_to_num(got), np.nan_to_num(want))


def test_wrong_input_size_is_an_error_not_a_read_out_of_bounds() -> None:
    model, feeds, _ = _chain_model([8, 64], [[64]], [("Add", 0), ("Relu", 0)], 0)
    fused, library = _fused(model)
    # the same graph with a free batch dim: a caller can now feed another size
    fused.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "n"
    sess = _session(fused, library, 1)
    with pytest.raises(Exception, match="element count"):
        sess.run(None, {"x": np.ones([9, 64], np.float32), "s0": feeds["s0"]})


def test_other_dtypes_and_single_ops_form_no_region() -> None:
    x = helper.make_tensor_value_info("x", TensorProto.INT32, [64, 64])
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "x"], ["a"]), helper.make_node("Relu", ["a"], ["y"])], "g", [x],
        [helper.make_tensor_value_info("y", TensorProto.INT32, [64, 64])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    assert fuse_model(model, min_ops=1, min_elements=1) is None  # int32: left to ORT
    single, _, _ = _chain_model([64, 64], [], [("Relu", 0)], 0)
    assert fuse_model(single) is None  # one op: the cost model keeps no region


def _w1_graph() -> Any:
    from webnnc.compiler.frontend import MLGraphBuilder
    from webnnc.compiler.workloads import w1_simple

    b = MLGraphBuilder()
    return b.build(w1_simple(b))


def test_compile_store_hit_and_load_without_a_compiler(monkeypatch: pytest.MonkeyPatch) -> None:
    from webnnc.cache.store import ArtifactStore
    from webnnc.compiler.driver import compile_graph
    from webnnc.runtime import load

    store = ArtifactStore()
    res = compile_graph(_w1_graph(), store=store, name="w1k")
    assert "kernels.so" in res.manifest.files
    assert res.manifest.key_parts["machine.kernels"] != "none"
    hit = store.get(res.manifest.key)
    assert hit is not None and hit.held["kernels.so"][:4] == b"\x7fELF"
    monkeypatch.setenv("WEBNNC_CC", "none")  # a hit never needs a compiler
    g = load("w1k")
    assert g.build_info["session"]["fused_kernels"] is True
    x = np.random.default_rng(0).standard_normal([1, 3, 224, 224]).astype(np.float32)
    y = x
    for _ in range(10):
        y = np.maximum(y + x, 0)
    np.testing.assert_array_equal(g.run({"input": x})["output"], y)


def test_tampered_library_is_dropped_and_rebuilt(caplog: pytest.LogCaptureFixture) -> None:
    from pathlib import Path

    from webnnc.cache.store import ArtifactStore
    from webnnc.compiler.driver import compile_graph

    store = ArtifactStore()
    res = compile_graph(_w1_graph(), store=store)
    lib = Path(res.path or "") / "kernels.so"
    blob = bytearray(lib.read_bytes())
    blob[-1] ^= 1
    lib.chmod(0o600)
    lib.write_bytes(bytes(blob))
    with caplog.at_level(logging.WARNING):
        assert store.get(res.manifest.key) is None
    assert "kernels.so does not match" in caplog.text
    again = compile_graph(_w1_graph(), store=store)
    assert again.info.source == "compiled" and "kernels.so" in again.manifest.files


@pytest.mark.parametrize("how", ["env", "path"])
def test_no_compiler_falls_back_to_plain_ort_with_one_warning(
    how: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from webnnc.cache.store import ArtifactStore
    from webnnc.compiler.driver import compile_graph
    from webnnc.runtime.loader import open_graph

    if how == "env":
        monkeypatch.setenv("WEBNNC_CC", "none")
    else:
        monkeypatch.delenv("WEBNNC_CC", raising=False)
        monkeypatch.setenv("PATH", str(tmp_path))  # no cc, gcc or clang
    monkeypatch.setattr(fuse, "_warned", set())
    store = ArtifactStore()
    with caplog.at_level(logging.WARNING):
        res = compile_graph(_w1_graph(), store=store)
        compile_graph(_w1_graph(), store=store, force=True)
    assert "kernels.so" not in res.manifest.files
    assert res.manifest.key_parts["machine.kernels"] == "none"
    assert caplog.text.count("no C compiler found") == 1
    g = open_graph(res.manifest, path=res.path, data=res.data, info={}, held=res.held)
    x = np.ones([1, 3, 224, 224], np.float32)
    assert float(g.run({"input": x})["output"].max()) == 11.0  # relu(y + 1), 10 times


def test_failed_build_falls_back(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from webnnc.compiler.driver import compile_graph
    from webnnc.compiler.kernels import toolchain

    def broken(self: Any, source: str) -> bytes:
        raise RuntimeError("cc failed (exit 1): kernels.c:1: error: simulated")

    monkeypatch.setattr(toolchain.Toolchain, "build", broken)
    monkeypatch.setattr(fuse, "_warned", set())
    with caplog.at_level(logging.WARNING):
        res = compile_graph(_w1_graph())
    assert res.files is None or "kernels.so" not in res.files
    assert "building fused kernels failed" in caplog.text


def test_fusion_off_is_in_the_key_and_makes_no_library() -> None:
    from webnnc.compiler.driver import compile_graph
    from webnnc.compiler.options import CompileOptions

    on = compile_graph(_w1_graph())
    off = compile_graph(_w1_graph(), CompileOptions(fusion=False))
    assert on.manifest.key != off.manifest.key
    assert off.manifest.key_parts["option.fusion"] == "False" and "machine.kernels" not in off.manifest.key_parts
    assert not off.files or "kernels.so" not in off.files
