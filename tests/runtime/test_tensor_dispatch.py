"""MLTensor, write/read_tensor and dispatch(); the GPU target when a CUDA device is present.

The CPU tests run everywhere. The GPU tests need onnxruntime-gpu and an NVIDIA GPU and are
skipped without them (CI has none); they run on the GPU machine (README, "GPU").

Tolerances against the CPU path: W1 is exact up to float32 rounding (rtol 1e-6); W3's
convolutions accumulate in a different order in cuDNN (TF32 is off), rtol 1e-4, atol 1e-7.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import webnnc
from webnnc.compiler.workloads import w1_simple, w2_complex, w3_mobilenet_v2
from webnnc.runtime.errors import InputMismatchError, WebNNRuntimeError


def _cuda_usable() -> tuple[bool, str]:
    from webnnc.runtime._cuda import cuda_status

    return cuda_status()


_CUDA, _WHY = _cuda_usable()
gpu = pytest.mark.skipif(not _CUDA, reason=f"needs a CUDA device and onnxruntime-gpu: {_WHY}")


def _affine(context: Any) -> Any:
    b = context.create_graph_builder()
    x = b.input("x", [2, 3], "float32")
    y = b.relu(b.add(b.mul(x, b.constant(np.float32(2.0), [2, 3])), b.constant(np.float32(-1.0), [2, 3])))
    return b.build({"y": y, "z": b.neg(x)})


def test_dispatch_on_cpu_tensors(context: Any) -> None:
    graph = _affine(context)
    x = context.create_tensor({"dataType": "float32", "shape": [2, 3]})
    y = context.create_tensor([2, 3], "float32")
    z = context.create_tensor([2, 3], "float32")
    for data in (np.arange(6, dtype=np.float32).reshape(2, 3), np.full([2, 3], -0.25, np.float32)):
        context.write_tensor(x, data)
        context.dispatch(graph, {"x": x}, {"y": y, "z": z})
        np.testing.assert_array_equal(context.read_tensor(y), np.maximum(2 * data - 1, 0))
        np.testing.assert_array_equal(context.read_tensor(z), -data)
    # a read is a snapshot: the next dispatch does not change it
    before = context.read_tensor(z)
    context.write_tensor(x, np.ones([2, 3], np.float32))
    context.dispatch(graph, {"x": x}, {"y": y, "z": z})
    assert before.tolist() == [[0.25] * 3] * 2


def test_dispatch_rebinds_when_tensors_change(context: Any) -> None:
    graph = _affine(context)
    outs = [{n: context.create_tensor([2, 3], "float32") for n in ("y", "z")} for _ in range(2)]
    x = context.create_tensor([2, 3], "float32")
    for i, out in enumerate(outs):
        context.write_tensor(x, np.full([2, 3], float(i + 1), np.float32))
        context.dispatch(graph, {"x": x}, out)
    assert context.read_tensor(outs[0]["z"]).tolist() == [[-1.0] * 3] * 2
    assert context.read_tensor(outs[1]["z"]).tolist() == [[-2.0] * 3] * 2


def test_dispatch_errors_name_the_tensor(context: Any) -> None:
    graph = _affine(context)
    x = context.create_tensor([2, 3], "float32")
    y = context.create_tensor([2, 3], "float32")
    with pytest.raises(InputMismatchError, match=r"outputs must be exactly \['y', 'z'\]; found \['y'\]"):
        context.dispatch(graph, {"x": x}, {"y": y})
    wrong = context.create_tensor([3, 2], "float32")
    with pytest.raises(InputMismatchError, match=r"input 'x' must be float32\[2, 3\]; found float32\[3, 2\]"):
        context.dispatch(graph, {"x": wrong}, {"y": y, "z": y})
    with pytest.raises(InputMismatchError, match=r"expected shape \[2, 3\] \(float32\[2, 3\]\); found \[7\]"):
        context.write_tensor(x, np.zeros([7], np.float32))
    with pytest.raises(InputMismatchError, match=r"expected shape \[2, 3\] \(float32\[2, 3\]\); found \[3, 2\]"):
        context.write_tensor(x, np.zeros([3, 2], np.float32))  # same size, other shape: refused
    ro = context.create_tensor({"dataType": "float32", "shape": [2], "writable": False})
    with pytest.raises(WebNNRuntimeError, match="writable=False"):
        context.write_tensor(ro, [1.0, 2.0])


@pytest.mark.skipif(_CUDA, reason="this machine has a GPU: the fallback is not taken")
def test_gpu_request_falls_back_to_cpu_with_a_reason(cache_dir: Path) -> None:
    context = webnnc.ML().create_context(device_type="gpu", cache_dir=cache_dir)
    info = context.backend_info()
    assert info["target"] == "onnx-cpu"
    assert "running on onnx-cpu" in info["fallback_reason"]
    graph = _affine(context)  # still builds and runs
    assert context.compute(graph, {"x": np.ones([2, 3], np.float32)})["y"].tolist() == [[1.0] * 3] * 2


# ----------------------------------------------------------------------------- GPU
def _gpu_context(cache_dir: Path, **kw: Any) -> Any:
    return webnnc.ML().create_context(device_type="gpu", cache_dir=cache_dir, **kw)


@gpu
def test_gpu_context_targets_cuda_and_keys_on_the_gpu(cache_dir: Path) -> None:
    context = _gpu_context(cache_dir)
    info = context.backend_info()
    assert info["target"] == "onnx-cuda" and "fallback_reason" not in info
    graph = _affine(context)
    assert graph.manifest.key_parts["machine.gpu"].startswith(info["gpu"]["name"])
    assert "CUDAExecutionProvider" in graph.build_info["session"]["providers"]


@gpu
@pytest.mark.parametrize("cuda_graph", [True, False], ids=["cuda-graph", "no-graph"])
def test_gpu_matches_cpu_on_workloads(cache_dir: Path, rng: np.random.Generator, cuda_graph: bool) -> None:
    cpu = webnnc.ML().create_context(device_type="cpu", cache_dir=cache_dir)
    gpu_ctx = _gpu_context(cache_dir, cuda_graph=cuda_graph)
    x = rng.standard_normal([1, 3, 224, 224]).astype(np.float32)
    results = {}
    for fn in (w1_simple, w2_complex, w3_mobilenet_v2):
        outs = []
        for ctx in (cpu, gpu_ctx):
            b = ctx.create_graph_builder()
            g = b.build(fn(b))
            outs.append([ctx.compute(g, {"input": x})["output"] for _ in range(3)][-1])
        results[fn.__name__] = outs
    c, g = results["w1_simple"]
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, c, rtol=1e-6, atol=1e-6)
    c, g = results["w2_complex"]
    assert np.array_equal(np.isposinf(g), np.isposinf(c))
    c, g = results["w3_mobilenet_v2"]
    np.testing.assert_allclose(g, c, rtol=1e-4, atol=1e-7)


@gpu
def test_gpu_dispatch_with_cuda_graph_sees_new_data(cache_dir: Path) -> None:
    context = _gpu_context(cache_dir, cuda_graph=True)
    graph = _affine(context)
    assert graph.build_info["session"]["cuda_graph"] is True
    x = context.create_tensor([2, 3], "float32")
    y, z = context.create_tensor([2, 3], "float32"), context.create_tensor([2, 3], "float32")
    assert x.device == "gpu"
    for k in range(5):  # the first runs capture the graph, the rest replay it
        data = np.full([2, 3], float(k), np.float32)
        context.write_tensor(x, data)
        context.dispatch(graph, {"x": x}, {"y": y, "z": z})
        np.testing.assert_array_equal(context.read_tensor(y), np.maximum(2 * data - 1, 0))
    # a second tensor set gets its own captured graph and does not disturb the first
    x2, y2, z2 = (context.create_tensor([2, 3], "float32") for _ in range(3))
    for k in range(3):
        context.write_tensor(x2, np.full([2, 3], 10.0 + k, np.float32))
        context.dispatch(graph, {"x": x2}, {"y": y2, "z": z2})
        context.dispatch(graph, {"x": x}, {"y": y, "z": z})
        assert context.read_tensor(z2).tolist() == [[-(10.0 + k)] * 3] * 2
        assert context.read_tensor(z).tolist() == [[-4.0] * 3] * 2
