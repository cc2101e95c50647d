"""load(): a compiled graph by name or key, from the cache or a bundle, without the compiler."""

from __future__ import annotations

import os
import re
import time
from typing import TYPE_CHECKING

from webnnc.runtime.errors import RuntimeLoadError

if TYPE_CHECKING:
    from webnnc.cache.manifest import Manifest
    from webnnc.cache.store import ArtifactStore
    from webnnc.runtime.graph import MLGraph

__all__ = ["load"]

_KEY = re.compile(r"[0-9a-f]{64}")


def load(
    name_or_key: str,
    *,
    target: str = "onnx-cpu",
    cache_dir: str | os.PathLike[str] | None = None,
    bundle: str | os.PathLike[str] | None = None,
) -> MLGraph:
    """Load the newest compiled graph this runtime can run, by model name or key digest.

    Candidates are the entries stored under the name for ``target``, newest first; the first
    one this installation can run (same onnxruntime version, same CPU features for
    machine-specific artifacts) and whose bytes verify is loaded.

    Args:
        name_or_key: the model name given at compile time, or a 64-hex cache key.
        target: the compile target.
        cache_dir: the cache folder (default as for the compiler).
        bundle: load from this bundle file (``webnnc cache export``) instead of the cache.

    Raises:
        RuntimeLoadError: nothing usable is stored under that name/key for ``target``.
    """
    from webnnc.cache.compat import runtime_incompatibility
    from webnnc.runtime.context import _load_graph

    t0 = time.perf_counter()
    is_key = bool(_KEY.fullmatch(name_or_key))
    rejected: list[str] = []
    where: str
    found: tuple[Manifest, bytes] | None = None
    store: ArtifactStore | None = None
    if bundle is not None:
        from webnnc.cache.bundle import BundleError, BundleReader

        where = f"bundle {bundle}"
        try:
            with BundleReader(bundle) as reader:
                if is_key and name_or_key in reader.manifests:
                    candidates = [reader.manifests[name_or_key]]
                else:
                    candidates = reader.find(name_or_key, target)
                for m in candidates:
                    problem = runtime_incompatibility(m, target)
                    if problem:
                        rejected.append(f"{m.key[:12]}…: {problem}")
                        continue
                    found = (m, reader.artifact(m.key))
                    break
        except BundleError as e:
            raise RuntimeLoadError(str(e)) from None
    else:
        from webnnc.cache.store import ArtifactStore

        store = ArtifactStore(cache_dir)
        where = str(store.directory)
        keys = [name_or_key] if is_key else [m.key for m in store.find(name_or_key, target)]
        for key in keys:
            hit = store.get(key)
            if hit is None:
                continue
            problem = runtime_incompatibility(hit.manifest, target)
            if problem:
                rejected.append(f"{key[:12]}…: {problem}")
                continue
            found = (hit.manifest, hit.data)
            break
    if found is None:
        detail = f"; found but unusable here: {'; '.join(rejected)}" if rejected else ""
        raise RuntimeLoadError(
            f"no compiled graph named {name_or_key!r} for target {target!r} in {where}{detail}; "
            f"compile it first (webnnc compile MODULE:FUNCTION --name {name_or_key} --target {target})"
        )
    manifest, data = found
    lookup_ms = (time.perf_counter() - t0) * 1e3
    return _load_graph(
        manifest,
        path=None,
        data=data,
        info={"source": "loaded", "key": manifest.key, "timings_ms": {"lookup": round(lookup_ms, 3)}},
        cuda_graph=target == "onnx-cuda",  # replays CUDA graphs like a built graph
        store=store,  # CoreML keeps the .mlmodelc it compiles from a package in the cache
    )
