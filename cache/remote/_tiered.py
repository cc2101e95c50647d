"""TieredStore: the local store with a remote tier behind it.

It is an :class:`~webnnc.cache.store.ArtifactStore` (the local folder keeps its own layout
and rules) whose public lookups fall through to the remote on a miss and whose ``put``
pushes what was compiled when the remote is read-write. The compiler, the runtime and the
facade use it exactly like a plain store.

# NOTE: where the remote is asked. ``get(key)`` on a local miss (a build's lookup, before
# and after its build lock); ``find(name, target)`` when no local entry has the name
# (``runtime.load(name)``). A local hit never touches the remote, so a warm fleet machine
# runs exactly as without one. ``build_lock(key)`` adds the remote build lock when it is on:
# the first machine to take it compiles and pushes; the others wait for the entry to appear
# and pull it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from webnnc.cache.locks import BuildLock
from webnnc.cache.manifest import Manifest
from webnnc.cache.remote._tier import RemoteCache
from webnnc.cache.store import ArtifactStore, CachedArtifact

if TYPE_CHECKING:
    from webnnc.cache._publish import Staging

__all__ = ["TieredStore"]

logger = logging.getLogger(__name__)


class _TieredBuildLock(BuildLock):
    """The local build lock of a key, then the remote one (released in reverse order)."""

    def __init__(self, local: BuildLock, remote: RemoteCache, key: str) -> None:
        super().__init__(local.path, timeout=local.timeout, shared=local.shared, purpose=local.purpose)
        self._remote = remote
        self._key = key
        self._token: str | None = None

    def acquire(self) -> None:
        super().acquire()  # one process per machine asks the remote
        try:
            self._token = self._remote.acquire_build_lock(self._key, self.timeout)
        except BaseException:
            super().release()
            raise

    def release(self) -> None:
        token, self._token = self._token, None
        try:
            if token is not None:
                self._remote.release_build_lock(self._key, token)
        finally:
            super().release()


class TieredStore(ArtifactStore):
    """A local :class:`ArtifactStore` backed by a shared :class:`RemoteCache`.

    Args:
        directory: the local cache folder (default as for ArtifactStore).
        remote: the remote tier.
        **kwargs: ArtifactStore's options.
    """

    def __init__(self, directory: str | os.PathLike[str] | None = None, *, remote: RemoteCache, **kwargs: Any) -> None:
        super().__init__(directory, **kwargs)
        self.remote = remote

    def get(self, key: str, *, name: str | None = None, use: bool = True) -> CachedArtifact | None:
        hit = super().get(key, name=name, use=use)
        if hit is None and use and self.remote.fetch(self, key):
            hit = super().get(key, name=name, use=use)
        return hit

    def put(self, manifest: Manifest, data: bytes | Mapping[str, bytes] | Staging) -> CachedArtifact | None:
        stored = super().put(manifest, data)
        # derived entries (e.g. a CoreML model compiled on this machine) stay local
        if stored is not None and self.remote.config.writable and "source_key" not in manifest.extra:
            self.remote.push(self, manifest.key)
        return stored

    def find(self, name: str, target: str | None = None) -> list[Manifest]:
        found = super().find(name, target)
        if not found and target is not None:
            key = self.remote.fetch_name(self, name, target)
            if key is not None:
                super().get(key, name=name)  # registers the name when the entry carries another
                found = super().find(name, target)
        return found

    def build_lock(self, key: str) -> BuildLock:
        local = super().build_lock(key)
        if not self.remote.locking:
            return local
        return _TieredBuildLock(local, self.remote, key)

    def close(self) -> None:
        self.remote.close()
        super().close()
