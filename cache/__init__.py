"""webnnc.cache: content-addressed artifact store, cache keys and manifests.

``diskcache`` is imported only when a store is opened, and keys, manifests and the store when
first named, so that ``import webnnc.cache`` (and the runtime, which reads manifests) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from webnnc.cache.errors import BypassCache, CacheCorruptionError, CacheError

if TYPE_CHECKING:
    from webnnc.cache.key import LAYOUT_VERSION, CacheKey, key_digest
    from webnnc.cache.manifest import IOSpec, Manifest
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


# where each lazily loaded name lives: importing a submodule (the runtime's hit path imports a
# handful) runs this file, which then loads nothing else
_LAZY = {
    "ArtifactStore": "store", "CacheKey": "key", "LAYOUT_VERSION": "key", "key_digest": "key",
    "IOSpec": "manifest", "Manifest": "manifest",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"webnnc.cache.{_LAZY[name]}"), name)
    raise AttributeError(name)
