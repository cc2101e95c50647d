"""The ONNX model zoo architectures that ship inside the onnx package ("light" models).

``onnx/backend/test/data/light`` holds full-size opset-9 graphs of AlexNet, DenseNet-121,
Inception v1/v2, ResNet-50, ShuffleNet, SqueezeNet, VGG-19 and ZFNet-512 whose weights are
``ConstantOfShape`` fills (so they are small on disk). Every one must import; the smaller ones
are also compiled and compared with ONNX Runtime on the original file (rtol 1e-4, atol 1e-6;
float32 both sides). With constant weights most outputs are nearly uniform, so DenseNet-121,
whose output is not, carries the numerical weight of this file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from webnnc.compiler import import_onnx

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
MODELS = {
    "bvlc_alexnet": {"conv2d", "gemm", "maxPool2d", "expand", "pow"},  # LRN composition, big fc fill
    "densenet121": {"conv2d", "batchNormalization", "concat", "averagePool2d"},
    "inception_v1": {"conv2d", "concat", "maxPool2d", "averagePool2d", "gemm"},
    "inception_v2": {"conv2d", "batchNormalization", "concat", "averagePool2d"},
    "resnet50": {"conv2d", "batchNormalization", "add", "gemm"},
    "shufflenet": {"conv2d", "transpose", "reshape", "concat", "add"},
    "squeezenet": {"conv2d", "concat", "maxPool2d", "softmax"},
    "vgg19": {"conv2d", "maxPool2d", "gemm", "expand"},
    "zfnet512": {"conv2d", "gemm", "pow"},
}
NUMERICS = ("densenet121", "inception_v1", "shufflenet", "squeezenet")


def _load(name: str) -> onnx.ModelProto:
    path = LIGHT / f"light_{name}.onnx"
    if not path.is_file():
        pytest.skip(f"this onnx installation ships no backend test model {path.name}")
    return onnx.load(str(path))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_zoo_model_imports(name: str) -> None:
    model = _load(name)
    graph = import_onnx(model)
    ops = set(graph.op_counts())
    assert MODELS[name] <= ops, f"{name}: expected {MODELS[name] - ops} among {sorted(ops)}"
    (out,) = graph.outputs.values()
    declared = [d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim]
    assert list(out.shape) == declared and 1000 in declared


@pytest.mark.parametrize("name", NUMERICS)
def test_zoo_model_matches_onnxruntime(name: str, nocache_context: Any, rng: np.random.Generator) -> None:
    model = _load(name)
    inits = {t.name for t in model.graph.initializer}
    (inp,) = [i for i in model.graph.input if i.name not in inits]
    shape = [d.dim_value for d in inp.type.tensor_type.shape.dim]
    feeds = {inp.name: rng.standard_normal(shape).astype(np.float32)}
    builder = nocache_context.create_graph_builder()
    graph = builder.build(import_onnx(model, builder=builder))
    out_name = model.graph.output[0].name
    got = nocache_context.compute(graph, feeds)[out_name]
    (want,) = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        [out_name], feeds)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
