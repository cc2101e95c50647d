"""ONNX models of real architectures: imported + compiled by webnnc == ONNX Runtime on the original.

Tolerance: float32 on both sides, the same operators but a different graph (webnnc's passes
and ORT's fusions reorder float additions): rtol 1e-4, atol 1e-5. The observed maximum
absolute difference is about 1e-7.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from tests.compiler.importers.onnx_models import (
    ARCHITECTURES,
    bert_encoder_layer,
    resnet,
    squeezenet,
    vgg,
)
from tests.conftest import webnnc_cli
from webnnc.compiler import import_onnx

RTOL, ATOL = 1e-4, 1e-5


def _feeds(model: onnx.ModelProto, rng: np.random.Generator) -> dict[str, np.ndarray]:
    inits = {t.name for t in model.graph.initializer}
    feeds = {}
    for i in model.graph.input:
        if i.name not in inits:
            shape = [d.dim_value for d in i.type.tensor_type.shape.dim]
            if i.type.tensor_type.elem_type == onnx.TensorProto.INT64:  # attention masks
                feeds[i.name] = (rng.random(shape) < 0.75).astype(np.int64)
            else:
                feeds[i.name] = rng.standard_normal(shape).astype(np.float32)
    return feeds


def _ort(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    model.ir_version = min(model.ir_version, 10)  # onnx's default IR is newer than older ORTs read
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return list(sess.run(None, feeds))


def _require_builder_ops(*methods: str) -> None:
    from webnnc.compiler import MLGraphBuilder

    missing = [m for m in methods if not hasattr(MLGraphBuilder, m)]
    if missing:
        pytest.skip(f"the builder has no {missing} yet (issue 4)")


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_architecture_matches_onnxruntime(
    arch: str, nocache_context: Any, rng: np.random.Generator
) -> None:
    if arch == "bert_encoder_layer":
        _require_builder_ops("erf")
    model: onnx.ModelProto = ARCHITECTURES[arch]()
    feeds = _feeds(model, rng)
    builder = nocache_context.create_graph_builder()
    outputs = import_onnx(model, builder=builder)
    graph = builder.build(outputs)
    got = nocache_context.compute(graph, feeds)
    want = _ort(model, feeds)
    for out, ref in zip(model.graph.output, want, strict=True):
        assert got[out.name].dtype == ref.dtype
        np.testing.assert_allclose(got[out.name], ref, rtol=RTOL, atol=ATOL, err_msg=f"{arch}: {out.name}")


@pytest.mark.parametrize(("factory", "opset"), [(resnet, 7), (vgg, 9), (resnet, 21)],
                         ids=["resnet-opset7", "vgg-opset9", "resnet-opset21"])
def test_architecture_at_other_opsets(
    factory: Callable[..., onnx.ModelProto], opset: int, nocache_context: Any, rng: np.random.Generator
) -> None:
    model = factory(opset=opset)
    feeds = _feeds(model, rng)
    builder = nocache_context.create_graph_builder()
    graph = builder.build(import_onnx(model, builder=builder))
    got = nocache_context.compute(graph, feeds)
    (want,) = _ort(model, feeds)
    np.testing.assert_allclose(got[model.graph.output[0].name], want, rtol=RTOL, atol=ATOL)


def test_bert_layer_with_dynamic_dims_needs_input_shapes(
    nocache_context: Any, rng: np.random.Generator
) -> None:
    _require_builder_ops("erf")
    model = bert_encoder_layer(dynamic=True)
    from webnnc.compiler.importers import OnnxImportError

    with pytest.raises(OnnxImportError, match=r"hidden_states \[batch, sequence, 16\].*--input-shape"):
        import_onnx(model)
    shapes = {"hidden_states": [2, 8, 16], "attention_mask": [2, 8]}
    builder = nocache_context.create_graph_builder()
    graph = builder.build(import_onnx(model, input_shapes=shapes, builder=builder))
    feeds = {"hidden_states": rng.standard_normal([2, 8, 16]).astype(np.float32),
             "attention_mask": np.array([[1] * 8, [1] * 5 + [0] * 3], np.int64)}
    got = nocache_context.compute(graph, feeds)
    (want,) = _ort(model, feeds)
    np.testing.assert_allclose(got[model.graph.output[0].name], want, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("factory", [resnet, squeezenet], ids=["resnet", "squeezenet"])
def test_cli_compile_onnx_file(
    factory: Callable[[], onnx.ModelProto], tmp_path: Path, cache_dir: Path, rng: np.random.Generator
) -> None:
    import webnnc.runtime

    model = factory()
    path = tmp_path / f"{model.graph.name}.onnx"
    onnx.save(model, str(path))
    proc = subprocess.run(
        [*webnnc_cli(), "--cache-dir", str(cache_dir), "compile", str(path), "--target", "onnx-cpu"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"{model.graph.name} [onnx-cpu]: compiled" in proc.stdout
    loaded = webnnc.runtime.load(model.graph.name, cache_dir=cache_dir)
    feeds = _feeds(model, rng)
    got = loaded.run(feeds)
    (want,) = _ort(model, feeds)
    np.testing.assert_allclose(got[model.graph.output[0].name], want, rtol=RTOL, atol=ATOL)


def test_cli_reports_dynamic_dims_and_accepts_input_shape(tmp_path: Path, cache_dir: Path) -> None:
    _require_builder_ops("erf")
    path = tmp_path / "bert.onnx"
    onnx.save(bert_encoder_layer(dynamic=True), str(path))
    base = [*webnnc_cli(), "--cache-dir", str(cache_dir), "compile", str(path)]
    proc = subprocess.run(base, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "dynamic dimensions" in proc.stderr and "--input-shape hidden_states=1,1,16" in proc.stderr
    shapes = ["--input-shape", "hidden_states=1,8,16", "--input-shape", "attention_mask=1,8"]
    proc = subprocess.run(base + shapes, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_float16_model_stays_float16(nocache_context: Any, rng: np.random.Generator) -> None:
    """A float16 model imports as float16 and matches ORT within float16 precision
    (rtol 1e-2, atol 1e-3: about 10 ulp at the output's magnitude)."""
    from onnx import TensorProto as T
    from onnx import helper, numpy_helper

    inits = [
        numpy_helper.from_array(rng.standard_normal([4, 3, 3, 3]).astype(np.float16), "w"),
        numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales"),
        numpy_helper.from_array((1 + 0.1 * rng.standard_normal(8)).astype(np.float16), "g"),
        numpy_helper.from_array((0.1 * rng.standard_normal(8)).astype(np.float16), "b"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("LayerNormalization", ["r", "g", "b"], ["ln"], axis=-1),
        helper.make_node("Resize", ["ln", "", "scales"], ["y"], mode="linear"),
    ]
    graph = helper.make_graph(nodes, "fp16", [helper.make_tensor_value_info("x", T.FLOAT16, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", T.FLOAT16, [1, 4, 16, 16])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    builder = nocache_context.create_graph_builder()
    compiled = builder.build(import_onnx(model, builder=builder))
    feeds = {"x": rng.standard_normal([1, 3, 8, 8]).astype(np.float16)}
    got = nocache_context.compute(compiled, feeds)["y"]
    (want,) = _ort(model, feeds)
    assert got.dtype == np.float16
    np.testing.assert_allclose(got.astype(np.float32), want.astype(np.float32), rtol=1e-2, atol=1e-3)
