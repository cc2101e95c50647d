"""The CUDA side of the runtime: is a GPU usable, and how to configure ONNX Runtime for it.

Imported only when a context asks for a GPU (``device_type="gpu"`` / ``accelerated=True``)
or loads an ``onnx-cuda`` artifact; it imports onnxruntime.

# NOTE: the CUDA execution provider options are chosen for WebNN semantics first, then speed:
# - ``use_tf32 = 0``: TF32 matmul/conv on Ampere+ keeps 10 mantissa bits, which breaks float32
#   results by ~1e-3 relative; WebNN float32 means float32.
# - ``cudnn_conv_algo_search = HEURISTIC``: EXHAUSTIVE (ORT's default) benchmarks every
#   convolution algorithm on the first run, which costs hundreds of ms per conv shape on a cold
#   start; the heuristic pick is within a few percent on the workloads we measure.
# - ``do_copy_in_default_stream = 1``: host<->device copies and kernels share one stream, so a
#   bound output is complete when run_with_iobinding returns.
# - ``enable_cuda_graph``: only for sessions driven through I/O binding with fixed device
#   buffers (see webnnc.runtime.tensor); a plain run() from host arrays cannot use it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from typing import Any

import onnxruntime as ort

from webnnc.cache.machine import cuda_device, gpu_features, nvidia_gpus

__all__ = ["CUDA_PROVIDER", "cuda_provider_options", "cuda_status", "gpu_description"]

logger = logging.getLogger(__name__)

CUDA_PROVIDER = "CUDAExecutionProvider"


@functools.cache
def cuda_status() -> tuple[bool, str]:
    """(usable, reason): whether ONNX Runtime can run on a CUDA device here, and why not."""
    providers = ort.get_available_providers()
    if CUDA_PROVIDER not in providers:
        return False, (
            f"onnxruntime {ort.__version__} has no {CUDA_PROVIDER} (providers: {', '.join(providers)}); "
            "install onnxruntime-gpu for the GPU target"
        )
    if cuda_device() is None:
        return False, "no NVIDIA GPU is visible (the CUDA driver reports none)"
    return True, ""


def gpu_description() -> dict[str, str]:
    """GPU model, compute capability and driver, and the CUDA/cuDNN versions of ONNX Runtime."""
    info: dict[str, str] = {"onnxruntime": ort.__version__, "key": gpu_features()}
    gpus = nvidia_gpus()
    if gpus:
        name, cap, driver = gpus[0]
        info.update(name=name, compute_capability=cap, driver=driver)
    return info


def cuda_provider_options(
    *, cuda_graph: bool = False, device_id: int = 0, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Provider options for the CUDA execution provider (see the module note).

    ``overrides`` (from ``create_context(cuda_provider_options=...)``) win over the defaults,
    e.g. ``{"cudnn_conv_algo_search": "EXHAUSTIVE"}`` for servers that can afford a slow first
    run, or ``{"use_tf32": "1"}`` where float32 results may carry TF32 rounding.
    """
    options: dict[str, Any] = {
        "device_id": str(device_id),
        "use_tf32": "0",
        "cudnn_conv_algo_search": "HEURISTIC",
        "do_copy_in_default_stream": "1",
        "enable_cuda_graph": "1" if cuda_graph else "0",
    }
    options.update({str(k): str(v) for k, v in (overrides or {}).items()})
    return options
