"""ONNX Runtime's offline optimizer as a compile stage: ONNX bytes -> optimized ORT format.

The stored artifact is what ONNX Runtime produced after its own graph optimizations, saved
in ORT format, so loading it needs no re-optimization (the runtime disables optimizations
at load time).
"""

from __future__ import annotations

import logging
import os
import tempfile
from typing import Any

import onnxruntime as ort

from webnnc.compiler.emitters import Artifact

__all__ = ["LEVELS", "available_providers", "optimize"]

logger = logging.getLogger(__name__)

LEVELS: dict[str, Any] = {
    "none": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}


def available_providers() -> list[str]:
    """The execution providers this ONNX Runtime build offers here."""
    return list(ort.get_available_providers())


def optimize(
    model: bytes, *, level: str = "all", providers: list[str] | None = None, save_format: str = "ORT"
) -> Artifact:
    """Run ONNX Runtime's optimizer on ``model`` and return the optimized model.

    Args:
        model: serialized ONNX model.
        level: "none", "basic", "extended" or "all" ("all" adds machine-specific layouts).
        providers: execution providers to optimize for (default CPU).
        save_format: "ORT" (flatbuffer, fast to load) or "ONNX".
    """
    so = ort.SessionOptions()
    so.graph_optimization_level = LEVELS[level]
    so.log_severity_level = 3
    suffix = ".ort" if save_format == "ORT" else ".onnx"
    with tempfile.TemporaryDirectory(prefix="webnnc-ort-") as tmp:
        out_path = os.path.join(tmp, "optimized" + suffix)
        so.optimized_model_filepath = out_path
        so.add_session_config_entry("session.save_model_format", save_format)
        ort.InferenceSession(model, so, providers=providers or ["CPUExecutionProvider"])
        with open(out_path, "rb") as f:
            data = f.read()
    logger.debug("ORT optimizer (%s, %s): %d -> %d bytes", level, save_format, len(model), len(data))
    return Artifact(
        data=data,
        format="ort" if save_format == "ORT" else "onnx",
        info={"optimization_level": level, "onnxruntime": ort.__version__},
    )
