"""webnnc.cache: content-addressed artifact store, cache keys and manifests.

``diskcache`` is imported only when a store is opened, so that ``import webnnc.cache``
(and the runtime, which reads manifests) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from webnnc.cache.errors import BypassCache, CacheCorruptionError, CacheError
from webnnc.cache.key import LAYOUT_VERSION, CacheKey, key_digest
from webnnc.cache.manifest import IOSpec, Manifest

if TYPE_CHECKING:
    from webnnc.cache.store import ArtifactStore

__all__ = [
    # keys and manifests
    "CacheKey",
    "LAYOUT_VERSION",
    "key_digest",
    "IOSpec",
    "Manifest",
    # store
    "ArtifactStore",
    "open_store",
    # errors
    "BypassCache",
    "CacheCorruptionError",
    "CacheError",
]


def open_store(directory: Any = None, **kwargs: Any) -> ArtifactStore:
    """Open (creating if needed) the artifact store at ``directory`` (default location)."""
    from webnnc.cache.store import ArtifactStore

    return ArtifactStore(directory, **kwargs)


def __getattr__(name: str) -> Any:
    if name == "ArtifactStore":
        from webnnc.cache.store import ArtifactStore

        return ArtifactStore
    raise AttributeError(name)
