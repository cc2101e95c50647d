"""load(): a compiled graph from the cache by name or key, without the compiler."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from webnnc.runtime.errors import RuntimeLoadError

if TYPE_CHECKING:
    from webnnc.runtime.graph import MLGraph

__all__ = ["load"]


def load(
    name_or_key: str,
    *,
    target: str = "onnx-cpu",
    cache_dir: str | os.PathLike[str] | None = None,
) -> MLGraph:
    """Load a compiled graph registered under a name (or by its key digest).

    Raises:
        RuntimeLoadError: nothing usable is stored under that name/key for ``target``.
    """
    from webnnc.cache.store import ArtifactStore
    from webnnc.runtime.context import _load_graph

    t0 = time.perf_counter()
    store = ArtifactStore(cache_dir)
    key = store.resolve_name(name_or_key, target) or name_or_key
    hit = store.get(key)
    if hit is None:
        raise RuntimeLoadError(
            f"no compiled graph named {name_or_key!r} for target {target!r} in {store.directory}; "
            f"compile it first (webnnc compile MODULE:FUNCTION --name {name_or_key} --target {target})"
        )
    if hit.manifest.target != target:
        raise RuntimeLoadError(
            f"{name_or_key!r} was compiled for {hit.manifest.target}, not {target}"
        )
    lookup_ms = (time.perf_counter() - t0) * 1e3
    return _load_graph(
        hit.manifest,
        path=hit.path,
        data=None,
        info={"source": "loaded", "key": key, "timings_ms": {"lookup": round(lookup_ms, 3)}},
        cuda_graph=target == "onnx-cuda",
        store=store,  # CoreML keeps its compiled .mlmodelc there
    )
