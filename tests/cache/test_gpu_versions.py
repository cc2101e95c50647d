"""GPU deployment: the version of ONNX Runtime recorded at compile time and compared at load
time come from the same place (the imported module), and cuDNN's version comes from the
library when ONNX Runtime's build info lacks it. Tested without a GPU by monkeypatching."""

from __future__ import annotations

import ctypes
import sys
import types
from collections.abc import Iterator
from typing import Any

import pytest

from webnnc.cache import compat, machine
from webnnc.cache.manifest import Manifest

_CACHED = (
    machine.onnxruntime_version, machine.library_version, machine.gpu_features, machine.nvidia_gpus, machine.cuda_device,
)


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    # the functools caches of the real functions (the tests replace some module attributes)
    for fn in _CACHED:
        fn.cache_clear()
    yield
    for fn in _CACHED:
        fn.cache_clear()


def _gpu_and_cpu_wheels(monkeypatch: pytest.MonkeyPatch) -> None:
    # onnxruntime 1.30.0 and onnxruntime-gpu 1.31.1 both installed: the metadata of the
    # first says 1.30.0, the module (the gpu wheel's files, installed last) says 1.31.1
    monkeypatch.setitem(sys.modules, "onnxruntime", types.SimpleNamespace(__version__="1.31.1"))
    real = machine.library_version.__wrapped__

    def metadata(*dists: str) -> str:
        return "1.30.0" if dists[:1] == ("onnxruntime",) else real(*dists)

    monkeypatch.setattr(machine, "library_version", metadata)
    monkeypatch.setattr(compat, "library_version", metadata)


def test_compiler_and_runtime_compare_the_module_version(monkeypatch: pytest.MonkeyPatch) -> None:
    _gpu_and_cpu_wheels(monkeypatch)
    recorded = compat.installed_library("onnxruntime")  # what the compiler writes into the key
    assert recorded == "1.31.1"
    manifest = Manifest(
        key="0" * 64, target="onnx-cuda", format="onnx", artifact_sha256="0" * 64, artifact_size=0,
        inputs=(), outputs=(), key_parts={"library.onnxruntime": recorded, "layout_version": str(compat.LAYOUT_VERSION)},
    )
    assert compat.runtime_incompatibility(manifest, "onnx-cuda") is None
    older = manifest.replace(key_parts={**manifest.key_parts, "library.onnxruntime": "1.30.0"})
    assert compat.runtime_incompatibility(older, "onnx-cuda") == "compiled with onnxruntime 1.30.0; 1.31.1 is installed"


def test_compiler_target_records_the_module_version(monkeypatch: pytest.MonkeyPatch) -> None:
    from webnnc.compiler.targets import get_target

    _gpu_and_cpu_wheels(monkeypatch)
    assert get_target("onnx-cuda").library_versions() == {"onnxruntime": "1.31.1"}


def test_metadata_answers_when_the_module_is_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails
    monkeypatch.setattr(machine, "library_version", lambda *d: "1.29.0")
    assert machine.onnxruntime_version() == "1.29.0"


class _FakeCudnn:
    def __init__(self, version: int) -> None:
        self.version = version

    def cudnnGetVersion(self) -> int:
        return self.version


def test_cudnn_version_from_the_loaded_library(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = "/opt/site-packages/nvidia/cudnn/lib/libcudnn.so.9"
    monkeypatch.setattr(machine, "_loaded_libraries", lambda: ["/usr/lib/libc.so.6", loaded])
    opened: list[str] = []

    def cdll(path: str) -> _FakeCudnn:
        opened.append(path)
        if path != loaded:
            raise OSError(path)
        return _FakeCudnn(90100)

    monkeypatch.setattr(ctypes, "CDLL", cdll)
    assert machine.cudnn_version() == "9.1.0"
    assert opened[0] == loaded  # the library this process already uses answers first


def test_cudnn_version_none_without_the_library(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(machine, "_loaded_libraries", list)

    def cdll(path: str) -> object:
        raise OSError(path)

    monkeypatch.setattr(ctypes, "CDLL", cdll)
    assert machine.cudnn_version() == "none"


def test_gpu_key_reads_cudnn_when_the_build_info_lacks_it(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("onnxruntime")
    from onnxruntime.capi import build_and_package_info as build

    monkeypatch.setattr(machine, "cuda_device", lambda: ("NVIDIA H200", "9.0"))
    monkeypatch.setattr(build, "cuda_version", "12.8", raising=False)
    monkeypatch.setattr(build, "cudnn_version", None, raising=False)
    monkeypatch.setattr(machine, "cudnn_version", lambda: "9.8.0")
    assert machine.gpu_features.__wrapped__() == "NVIDIA H200 sm_90;cuda 12.8;cudnn 9.8.0"


class _FakeDriver:
    """libcuda's five calls, answering like the driver on one H200 (or failing cuInit)."""

    def __init__(self, init_status: int = 0) -> None:
        self.init_status = init_status

    def cuInit(self, flags: int) -> int:  # the driver API's names
        return self.init_status

    def cuDeviceGet(self, device: Any, ordinal: int) -> int:
        device._obj.value = ordinal
        return 0

    def cuDeviceGetName(self, buf: Any, size: int, device: Any) -> int:
        buf.value = b"NVIDIA H200"
        return 0

    def cuDeviceGetAttribute(self, value: Any, attribute: int, device: Any) -> int:
        value._obj.value = {75: 9, 76: 0}[attribute]
        return 0


def test_cuda_device_reads_the_driver_api(monkeypatch: pytest.MonkeyPatch) -> None:
    """The key's GPU part comes from libcuda in-process (no nvidia-smi subprocess on a hit)."""
    monkeypatch.setattr(ctypes, "CDLL", lambda path: _FakeDriver())
    monkeypatch.setattr(machine, "nvidia_gpus", lambda: pytest.fail("nvidia-smi was run"))
    assert machine.cuda_device.__wrapped__() == ("NVIDIA H200", "9.0")


@pytest.mark.parametrize("why", ["no library", "no device"])
def test_cuda_device_none_without_a_driver_or_a_device(monkeypatch: pytest.MonkeyPatch, why: str) -> None:
    def cdll(path: str) -> object:
        if why == "no library":
            raise OSError(path)
        return _FakeDriver(init_status=100)  # CUDA_ERROR_NO_DEVICE

    monkeypatch.setattr(ctypes, "CDLL", cdll)
    assert machine.cuda_device.__wrapped__() is None
    monkeypatch.setattr(machine, "cuda_device", lambda: None)
    assert machine.gpu_features.__wrapped__().startswith("none;")
