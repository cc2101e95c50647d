"""Facts about this machine that make an artifact machine-specific (stdlib only).

An ONNX Runtime CPU artifact optimized at the highest level contains layout transforms and
kernels picked for the CPU's instruction set (e.g. NCHWc blocking for AVX2 vs AVX-512), so
its cache key carries the relevant CPU feature flags; another machine misses and compiles.
"""

from __future__ import annotations

import functools
import os
import platform
import re
import sys

__all__ = ["cpu_features", "cuda_device", "cudnn_version", "library_version", "onnxruntime_version"]

# Flags that change which kernels / layouts ONNX Runtime's CPU provider selects.
_RELEVANT = (
    "sse4_1", "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl",
    "avx512_vnni", "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8",
    "asimd", "sve", "i8mm", "bf16",
)


@functools.lru_cache(maxsize=1)
def cpu_features() -> str:
    """``<arch>:<sorted relevant flags>``, e.g. ``x86_64:avx,avx2,fma,...``."""
    flags: set[str] = set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    flags.update(value.split())
                    break
    except OSError:
        pass
    relevant = sorted(f for f in flags if f in _RELEVANT)
    return f"{platform.machine()}:{','.join(relevant)}"


@functools.cache
def library_version(*distributions: str) -> str:
    """Installed version of the first of ``distributions`` that is installed, else ``"none"``.

    >>> library_version("no-such-distribution-xyz")
    'none'
    """
    for dist in distributions:
        found = _dist_info_version(dist)
        if found is not None:
            return found
    from importlib import metadata  # 20-60 ms to import: only where the scan finds nothing

    for dist in distributions:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return "none"


def _dist_info_version(dist: str) -> str | None:
    """The ``Version:`` of ``dist``'s ``*.dist-info/METADATA`` on ``sys.path``, or None.

    What ``importlib.metadata.version`` returns for an installed wheel (the first match on
    ``sys.path`` wins, as there), without importing ``importlib.metadata`` and its email /
    zipfile / csv machinery: the cache key of every ``build()`` asks for library versions,
    and that import was 20-60 ms of a cache hit (issue 19). None (not found, or an egg,
    zip or other layout) lets the caller ask importlib.metadata.
    """
    prefix = re.sub(r"[-_.]+", "_", dist).lower() + "-"
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            low = name.lower()
            if not (low.endswith(".dist-info") and low.startswith(prefix)):
                continue
            if "-" in low[len(prefix) : -len(".dist-info")]:
                continue  # another distribution whose name extends this one's
            try:
                with open(os.path.join(entry, name, "METADATA"), encoding="utf-8", errors="replace") as f:
                    for line in f:
                        if line.startswith("Version:"):
                            return line.partition(":")[2].strip()
                        if not line.strip():
                            break
            except OSError:
                continue
            return None
    return None


@functools.cache
def onnxruntime_version() -> str:
    """The version of the ``onnxruntime`` module this process imports, else ``"none"``.

    # NOTE: not the distribution metadata. onnxruntime and onnxruntime-gpu both install the
    # module ``onnxruntime``; with both present (the README's GPU set-up) one distribution's
    # files overwrite the other's, and their metadata can name two different versions. The
    # module is what optimizes (compiler) and runs (runtime) an artifact, so both sides
    # record and compare its ``__version__``. Only where it cannot be imported does the
    # metadata answer.
    """
    try:
        import onnxruntime
    except ImportError:
        return library_version("onnxruntime", "onnxruntime-gpu")
    return str(onnxruntime.__version__)


def _cudnn_from_int(value: int) -> str:
    """cuDNN's ``cudnnGetVersion()`` as text (8.x: M*1000+m*100+p; 9.x on: M*10000+m*100+p).

    >>> _cudnn_from_int(8907), _cudnn_from_int(90100)
    ('8.9.7', '9.1.0')
    """
    if value >= 90000:
        return f"{value // 10000}.{value // 100 % 100}.{value % 100}"
    return f"{value // 1000}.{value // 100 % 10}.{value % 100}"


def _loaded_libraries() -> list[str]:
    """Paths of the shared libraries mapped into this process (Linux; else empty)."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            return sorted({line.split()[-1] for line in f if ".so" in line and "/" in line})
    except OSError:
        return []


def cudnn_version() -> str:
    """The cuDNN version this process uses, read from the library itself; ``"none"`` if absent.

    For builds of ONNX Runtime that do not report the cuDNN they were built with: a cuDNN
    already loaded (ONNX Runtime's CUDA provider, torch) answers first; else the ``nvidia-
    cudnn`` wheel's library or the system's ``libcudnn.so.9`` / ``.8`` is asked.
    """
    import ctypes
    import glob
    import os
    import re

    candidates = [p for p in _loaded_libraries() if re.search(r"/libcudnn\.so(\.\d+)*$", p)]
    try:
        import nvidia.cudnn  # type: ignore[import-not-found]  # the pip wheel's layout

        for folder in getattr(nvidia.cudnn, "__path__", []):
            candidates += sorted(glob.glob(os.path.join(folder, "lib", "libcudnn.so*")))
    except ImportError:
        pass
    candidates += ["libcudnn.so.9", "libcudnn.so.8", "libcudnn.so"]
    for path in candidates:
        try:
            lib = ctypes.CDLL(path)
            value = int(lib.cudnnGetVersion())
        except (OSError, AttributeError):
            continue
        if value > 0:
            return _cudnn_from_int(value)
    return "none"


@functools.cache
def nvidia_gpus() -> tuple[tuple[str, str, str], ...]:
    """``(name, compute capability, driver version)`` per visible NVIDIA GPU; empty without a driver."""
    import shutil
    import subprocess

    exe = shutil.which("nvidia-smi")
    if exe is None:
        return ()
    try:
        proc = subprocess.run(
            [exe, "--query-gpu=name,compute_cap,driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=20, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ()
    if proc.returncode != 0:
        return ()
    gpus = []
    for line in proc.stdout.splitlines():
        if line.strip():
            name, cap, driver = (part.strip() for part in [*line.split(","), "", ""][:3])
            gpus.append((name, cap, driver))
    return tuple(gpus)


# CUdevice_attribute values of the CUDA driver API (cuda.h)
_CU_COMPUTE_CAPABILITY_MAJOR = 75
_CU_COMPUTE_CAPABILITY_MINOR = 76


@functools.cache
def cuda_device() -> tuple[str, str] | None:
    """``(name, compute capability)`` of CUDA device 0 from the driver API; None without one.

    # NOTE: the GPU part of the key, read from ``libcuda`` in-process instead of running
    # ``nvidia-smi``: the subprocess cost 22-28 ms of every GPU cache hit on an H200 (the hit's
    # whole lookup was 33 ms). ``cuInit`` itself (~180 ms there) is work ONNX Runtime's CUDA
    # provider does anyway when the session is created, once per process. Device 0 under
    # CUDA_VISIBLE_DEVICES is also the device that session runs on (``device_id`` 0), where
    # nvidia-smi lists every GPU. As with any CUDA use, a process that forks after this call
    # cannot use CUDA in the child (spawn instead: ``webnnc warm`` spawns its workers).
    """
    import ctypes

    try:
        lib = ctypes.CDLL("libcuda.so.1" if sys.platform.startswith("linux") else "nvcuda.dll")
    except OSError:
        return None
    device, major, minor = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
    name = ctypes.create_string_buffer(256)
    try:
        failed = (
            lib.cuInit(0)
            or lib.cuDeviceGet(ctypes.byref(device), 0)
            or lib.cuDeviceGetName(name, len(name), device)
            or lib.cuDeviceGetAttribute(ctypes.byref(major), _CU_COMPUTE_CAPABILITY_MAJOR, device)
            or lib.cuDeviceGetAttribute(ctypes.byref(minor), _CU_COMPUTE_CAPABILITY_MINOR, device)
        )
    except AttributeError:  # not the driver library
        return None
    if failed:  # e.g. CUDA_ERROR_NO_DEVICE: a driver without a visible GPU
        return None
    return name.value.decode("utf-8", "replace"), f"{major.value}.{minor.value}"


@functools.cache
def gpu_features() -> str:
    """What makes an onnx-cuda artifact GPU-specific: GPU model and compute capability, and
    the CUDA / cuDNN versions ONNX Runtime was built with (``none`` where absent). Where
    the build info has no cuDNN version (most onnxruntime-gpu wheels), the cuDNN library
    is asked (:func:`cudnn_version`).

    Imports onnxruntime (to read its build info); call it only on the GPU path.
    """
    device = cuda_device()
    gpu = "none"
    if device is not None:
        name, cap = device
        gpu = f"{name} sm_{cap.replace('.', '')}"
    cuda = cudnn = "none"
    try:
        from onnxruntime.capi import build_and_package_info as build

        cuda = str(getattr(build, "cuda_version", None) or "none")
        cudnn = str(getattr(build, "cudnn_version", None) or "none")
    except ImportError:
        pass
    if cudnn == "none" and device is not None:
        cudnn = cudnn_version()
    return f"{gpu};cuda {cuda};cudnn {cudnn}"
