"""Loading an onnx-cuda artifact where ONNX Runtime cannot create the CUDA provider: one clear
error, not ORT's "CUDA Provider not available" from deep inside a device buffer. Runs without a
GPU: the CPU-only onnxruntime here drops the CUDA provider as onnxruntime-gpu does on a machine
without a GPU or CUDA libraries (seen with onnxruntime-gpu 1.31.1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.compiler.passes._helpers import build
from webnnc.cache.store import ArtifactStore
from webnnc.compiler.driver import compile_graph
from webnnc.compiler.options import CompileOptions
from webnnc.compiler.workloads import w1_simple
from webnnc.runtime import load
from webnnc.runtime.errors import RuntimeLoadError


def test_cuda_artifact_without_a_cuda_provider_is_one_clear_error(tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("a CUDA provider is installed here; this checks its absence")
    compile_graph(build(w1_simple), CompileOptions(target="onnx-cuda"), store=ArtifactStore(tmp_path), name="w1")
    with pytest.raises(RuntimeLoadError, match=r"is for onnx-cuda, but onnxruntime .* could not create the CUDA provider"):
        load("w1", target="onnx-cuda", cache_dir=tmp_path)
