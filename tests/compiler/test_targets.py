"""Targets as objects: lookup, key parts, backend stage settings, support limits."""

from __future__ import annotations

import pytest

from webnnc.cache.targets import TARGETS as TARGET_INFO
from webnnc.compiler.errors import CompilerError
from webnnc.compiler.options import TARGETS as TARGET_NAMES
from webnnc.compiler.options import CompileOptions
from webnnc.compiler.targets import TARGETS, get_target


def test_every_target_has_a_descriptor_and_an_option_name() -> None:
    assert set(TARGETS) == set(TARGET_INFO) == set(TARGET_NAMES)


def test_unknown_target_lists_the_known_ones() -> None:
    with pytest.raises(CompilerError, match="onnx-cpu") as e:
        get_target("tpu")
    assert "coreml" in str(e.value) and "onnx-cuda" in str(e.value)


def test_key_libraries_and_machine_parts() -> None:
    assert set(get_target("onnx-cpu").library_versions()) == {"onnxruntime"}
    assert set(get_target("coreml").library_versions()) == {"coremltools"}
    cpu = get_target("onnx-cpu")
    assert cpu.machine_specific(CompileOptions(optimization_level="all"))
    assert not cpu.machine_specific(CompileOptions(optimization_level="basic", fusion=False))
    assert cpu.machine_parts(CompileOptions(optimization_level="basic", fusion=False)) == ()
    # fused kernels are built for this CPU's instruction sets with this machine's compiler
    fused = dict(cpu.machine_parts(CompileOptions(optimization_level="basic")))
    assert cpu.machine_specific(CompileOptions(optimization_level="basic"))
    assert set(fused) == {"cpu", "kernels"}
    assert not cpu.machine_specific(CompileOptions(optimization_level="none"))  # no backend stage, no kernels
    assert get_target("coreml").machine_parts(CompileOptions(target="coreml")) == ()


def test_backend_stage() -> None:
    cpu, coreml = get_target("onnx-cpu"), get_target("coreml")
    assert cpu.has_backend_stage(CompileOptions())
    assert not cpu.has_backend_stage(CompileOptions(optimization_level="none"))
    assert not coreml.has_backend_stage(CompileOptions(target="coreml"))
    assert cpu.optimizer_settings("all") == (None, "all")  # type: ignore[attr-defined]


def test_cuda_without_a_cuda_provider_optimizes_portably(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("onnxruntime")
    from webnnc.compiler.emitters import ort_optimizer

    cuda = get_target("onnx-cuda")
    monkeypatch.setattr(ort_optimizer, "available_providers", lambda: ["CPUExecutionProvider"])
    assert cuda.optimizer_settings("all") == (None, "basic")  # type: ignore[attr-defined]
    assert cuda.optimizer_settings("none") == (None, "none")  # type: ignore[attr-defined]
    monkeypatch.setattr(ort_optimizer, "available_providers", lambda: ["CUDAExecutionProvider"])
    assert cuda.optimizer_settings("all") == (  # type: ignore[attr-defined]
        ["CUDAExecutionProvider", "CPUExecutionProvider"], "all"
    )


def test_onnx_support_limits_are_the_support_table() -> None:
    from webnnc.compiler.ops import op_support_limits

    assert get_target("onnx-cpu").support_limits() == op_support_limits()


def test_coreml_support_limits_follow_its_lowerings() -> None:
    pytest.importorskip("coremltools")
    from webnnc.compiler.emitters.coreml import LOWERINGS

    limits = get_target("coreml").support_limits()
    assert limits["input"]["rankRange"]["max"] == 5
    # int64 is carried as int32 (issue 21)
    assert set(limits["input"]["dataTypes"]) == {"float32", "float16", "int32", "int64"}
    assert "int64" in limits["gather"]["indices"]["dataTypes"] and "uint8" in limits["reshape"]["input"]["dataTypes"]
    ops = {k for k, v in limits.items() if isinstance(v, dict) and k not in ("input", "constant", "output")}
    assert ops <= set(LOWERINGS)
    assert limits["conv2d"]["input"]["dataTypes"] == ["float32", "float16"]
    assert limits["equal"]["output"]["dataTypes"] == ["uint8"]
    assert all(
        lim["rankRange"]["max"] <= 5 for op in ops for lim in limits[op].values()
    )


def test_availability() -> None:
    assert get_target("onnx-cpu").can_compile()
    reason = get_target("coreml").run_unavailable_reason()
    assert reason is None or "macOS" in reason or "coremltools" in reason


def test_cuda_provider_listed_but_not_created_optimizes_portably(monkeypatch: pytest.MonkeyPatch) -> None:
    """onnxruntime-gpu lists CUDAExecutionProvider on a machine where it cannot be created (no
    GPU, or no CUDA 13 libraries: seen with onnxruntime-gpu 1.31.1 on a CPU-only machine). ORT
    then optimizes on the CPU provider, and "all" wrote CPU-only NCHWc kernels into the GPU
    artifact. The CPU-only onnxruntime here stands in for it: it also falls back to CPU."""
    pytest.importorskip("onnxruntime")
    from webnnc.runtime._cuda import cuda_status

    if cuda_status()[0]:  # seen on the GPU machine: ORT creates CUDA there, so nothing falls back
        pytest.skip("ONNX Runtime creates the CUDA provider here; this checks the fallback to CPU")
    import onnx

    from tests.compiler.passes._helpers import build
    from webnnc.compiler.driver import compile_graph
    from webnnc.compiler.emitters import ort_optimizer
    from webnnc.compiler.workloads import w3_mobilenet_v2

    monkeypatch.setattr(ort_optimizer, "available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    result = compile_graph(build(w3_mobilenet_v2), CompileOptions(target="onnx-cuda"))
    assert result.data is not None
    model = onnx.load_model_from_string(result.data)
    domains = {n.domain for n in model.graph.node}
    assert "com.microsoft.nchwc" not in domains, domains
    assert result.manifest.extra.get("optimization_level") == "basic", result.manifest.extra
