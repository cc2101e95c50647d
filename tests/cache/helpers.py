"""Shared helpers for the cache tests: fake entries (no compiler needed) and tiny graphs."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import numpy as np

from webnnc.cache.compat import installed_library
from webnnc.cache.key import CacheKey
from webnnc.cache.manifest import IOSpec, Manifest
from webnnc.compiler._version import FORMAT_VERSION


def fake_manifest(
    data: bytes,
    *,
    graph: str = "g0",
    name: str | None = "model",
    target: str = "onnx-cpu",
    format_version: int = FORMAT_VERSION,
    layout_version: int | None = None,
    libraries: dict[str, str] | None = None,
) -> Manifest:
    """A self-consistent manifest describing ``data`` (the store does not parse artifacts)."""
    libs = libraries if libraries is not None else {"onnxruntime": installed_library("onnxruntime")}
    kwargs: dict[str, Any] = {}
    if layout_version is not None:
        kwargs["layout_version"] = layout_version
    key = CacheKey(
        graph_digest=graph,
        target=target,
        options=(("target", target),),
        format_version=format_version,
        libraries=tuple(sorted(libs.items())),
        **kwargs,
    )
    return Manifest(
        key=key.digest(),
        target=target,
        format="onnx",
        artifact_sha256=hashlib.sha256(data).hexdigest(),
        artifact_size=len(data),
        inputs=(IOSpec("x", "float32", (2, 3)),),
        outputs=(IOSpec("y", "float32", (2, 3)),),
        name=name,
        created=time.time(),
        key_parts=key.parts(),
        libraries=dict(libs),
    )


def entry_path(cache_dir: Path, key: str) -> Path:
    return cache_dir / "entries" / key[:2] / f"{key}.json"


def object_path(cache_dir: Path, sha: str) -> Path:
    return cache_dir / "objects" / sha[:2] / sha


def build_tiny(context: Any, k: float = 1.0, name: str | None = None) -> Any:
    """y = x * k + 1 on a [2, 3] float32 input (compiles in ~0.1 s)."""
    b = context.create_graph_builder()
    x = b.input("x", [2, 3], "float32")
    y = b.add(b.mul(x, b.constant(np.full([2, 3], k, np.float32))), b.constant(np.ones([2, 3], np.float32)))
    return b.build({"y": y}, name=name)


X = np.array([[-1.5, 0.0, 2.0], [3.0, -4.0, 0.5]], np.float32)


def tiny_expected(k: float) -> np.ndarray:
    return X.astype(np.float64) * k + 1.0
