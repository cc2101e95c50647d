"""ONNX Runtime sessions for stored artifacts (imports onnxruntime on first use)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import onnxruntime as ort

from webnnc.cache._log import get_logger

__all__ = ["PROVIDERS", "create_session", "ort_version"]

logger = get_logger(__name__)

PROVIDERS: dict[str, list[str]] = {
    "onnx-cpu": ["CPUExecutionProvider"],
    "onnx-cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
}


def ort_version() -> str:
    return str(ort.__version__)


def create_session(
    *,
    target: str,
    fmt: str,
    path: str | None = None,
    data: bytes | None = None,
    intra_op_threads: int | None = None,
    cuda_graph: bool = False,
    cuda_options: Mapping[str, Any] | None = None,
    folder: str | None = None,
    settings: Mapping[str, Any] | None = None,
    kernels: bytes | None = None,
) -> tuple[ort.InferenceSession, dict[str, Any]]:
    """Create the one session a compiled graph uses for its whole life.

    The artifact is already optimized (webnnc passes + ONNX Runtime's optimizer at compile
    time), so graph optimizations are switched off here: creation only deserializes.

    Args:
        folder: where the graph's external weights are (a multi-file artifact): ONNX Runtime
            resolves the graph's ``weights`` location inside it, and memory-maps the file.
        settings: the manifest's ``session`` record (``prepacking``: bool, chosen at compile
            time).
        kernels: the verified bytes of the artifact's fused-kernel library (``kernels.so``),
            registered as the custom ops its graph names (``runtime/_kernels.py``).
    """
    settings = settings or {}
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    if fmt == "ort":
        so.add_session_config_entry("session.load_model_format", "ORT")
    prepack = bool(settings.get("prepacking", False))
    if target == "onnx-cpu" and not prepack:
        # Prepacking re-lays weights for MLAS at creation. On MobileNetV2 (W3, ORT 1.32, 2-core
        # x86) it costs 1-4 ms of a 5-9 ms creation and saves ~2% of a 3.6 ms run: the NCHWc
        # convolutions the offline optimizer chose carry their own reordered weights, only the
        # classifier's gemm still benefits. On BERT-base with mapped weights it is 2.0 s of
        # creation against 0.09-0.15 s without, and every prepacked weight is a private copy
        # (peak RSS). Loading fast is what the cache is for; a manifest may turn it on.
        so.add_session_config_entry("session.disable_prepacking", "1")
    if folder is not None:
        so.add_session_config_entry("session.model_external_initializers_file_folder_path", folder)
    if intra_op_threads:
        so.intra_op_num_threads = intra_op_threads
    providers: list[Any] = list(PROVIDERS.get(target, ["CPUExecutionProvider"]))
    if target == "onnx-cuda":
        from webnnc.runtime._cuda import CUDA_PROVIDER, cuda_provider_options

        options = cuda_provider_options(cuda_graph=cuda_graph, overrides=cuda_options)
        providers = [(CUDA_PROVIDER, options), "CPUExecutionProvider"]
    source: Any = path if path is not None else data
    if source is None:
        raise ValueError("create_session needs a path or bytes")
    loaded = None
    if kernels is not None:
        from webnnc.runtime._kernels import register_kernels

        loaded = register_kernels(so, kernels)
    try:
        session = ort.InferenceSession(source, so, providers=providers)
    finally:
        if loaded is not None:  # ONNX Runtime holds the library now
            loaded.close()
    info = {
        "providers": session.get_providers(),
        "format": fmt,
        "optimization_at_load": "disabled",
        "prepacking": "disabled" if target == "onnx-cpu" and not prepack else "default",
        "external_weights": folder is not None,
        "cuda_graph": cuda_graph,
        "onnxruntime": ort.__version__,
        "fused_kernels": kernels is not None,
    }
    return session, info
