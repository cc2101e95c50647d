"""What a store read returns (:class:`CachedArtifact`, :class:`EntryInfo`), and derived entries.

A derived entry is an artifact made from another entry's artifact on the machine that runs
it (the compiled ``.mlmodelc`` of a stored ``.mlpackage``). :class:`DerivedEntries` is the
part of :class:`webnnc.cache.store.ArtifactStore` that stores and reads them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from webnnc.cache._hash import sha256_hex
from webnnc.cache._log import get_logger
from webnnc.cache.manifest import FrozenRecord, Manifest, key_digest

if TYPE_CHECKING:
    from pathlib import Path

    from webnnc.cache._files import Layout

__all__ = ["CachedArtifact", "DerivedEntries", "EntryInfo"]

logger = get_logger(__name__)


class CachedArtifact(FrozenRecord):
    """A verified artifact: its manifest, the verified bytes, and where they are stored.

    For a multi-file artifact (``manifest.files``), ``path`` is its folder and ``data`` the
    verified graph (``model.onnx``); its other files stay on disk, for ONNX Runtime to map.
    ``held``: verified bytes of the held files other than the graph (``HELD_FILES``: a kernel
    library), by name: what the runtime loads, never the file in the folder. Equality
    compares the manifest, path and bytes (not the timings or held files).
    """

    __slots__ = ("manifest", "path", "data", "timings_ms", "held")  # noqa: RUF023 - declaration order
    manifest: Manifest
    path: str
    data: bytes
    timings_ms: dict[str, float]
    held: dict[str, bytes]

    def __init__(
        self,
        manifest: Manifest,
        path: str,
        data: bytes,
        timings_ms: dict[str, float] | None = None,
        held: dict[str, bytes] | None = None,
    ) -> None:
        self._fill(manifest, path, data, {} if timings_ms is None else timings_ms, {} if held is None else held)

    def _values(self) -> tuple[Any, ...]:
        return (self.manifest, self.path, self.data)

    def __repr__(self) -> str:  # not the bytes
        return f"CachedArtifact(manifest={self.manifest!r}, path={self.path!r}, timings_ms={self.timings_ms!r})"

    def read_bytes(self) -> bytes:
        return self.data

    @property
    def folder(self) -> str | None:
        """The folder holding a multi-file artifact's files, or None for a single blob."""
        return self.path if self.manifest.files else None


class EntryInfo(FrozenRecord):
    """One entry as listed by ``webnnc cache ls`` (not verified): ``size`` is its artifact and
    manifest bytes."""

    __slots__ = ("manifest", "size", "last_used", "hits")  # noqa: RUF023 - declaration order
    manifest: Manifest
    size: int
    last_used: float
    hits: int

    def __init__(self, manifest: Manifest, size: int, last_used: float, hits: int) -> None:
        self._fill(manifest, size, last_used, hits)


class DerivedEntries:
    """Derived entries and unpacked archives, on top of the store's ``get`` and ``put``."""

    _layout: Layout
    writable: bool

    @property
    def directory(self) -> Path:  # the store's folder (``ArtifactStore.directory``)
        return self._layout.directory

    def get(self, key: str, *, name: str | None = None, use: bool = True) -> CachedArtifact | None:
        raise NotImplementedError

    def put(self, manifest: Manifest, data: bytes) -> CachedArtifact | None:  # type: ignore[override]
        raise NotImplementedError

    # NOTE: a derived entry is an artifact made from another entry's artifact on the machine
    # that runs it (the compiled .mlmodelc of a stored .mlpackage). It is an entry like any
    # other (a manifest whose key parts hash to its key, a verified object, evicted by LRU),
    # keyed by :func:`webnnc.cache.key.derived_parts`. Folders the runtime needs on disk are
    # unpacked from verified archives by :meth:`unpacked_dir`, so the store is the only code
    # that writes into the cache folder.
    def get_derived(self, parts: Mapping[str, str]) -> CachedArtifact | None:
        """The verified derived entry with these key parts, or None."""
        return self.get(key_digest(dict(parts)))

    def put_derived(
        self,
        parts: Mapping[str, str],
        data: bytes,
        *,
        source: Manifest,
        format: str,
        libraries: Mapping[str, str] | None = None,
        timings_ms: Mapping[str, float] | None = None,
    ) -> CachedArtifact | None:
        """Store ``data``, derived from ``source``'s artifact, under the key of ``parts``.

        The entry inherits ``source``'s inputs and outputs and records its key in
        ``extra["source_key"]``. Deriving is an optimization, so a failure to store is logged
        and returns None; it never stops the caller.
        """
        key_parts = dict(sorted(parts.items()))
        manifest = Manifest(
            key=key_digest(key_parts),
            target=key_parts.get("target", source.target),
            format=format,
            artifact_sha256=sha256_hex(data),
            artifact_size=len(data),
            inputs=source.inputs,
            outputs=source.outputs,
            created=time.time(),
            key_parts=key_parts,
            libraries=dict(libraries or {}),
            timings_ms=dict(timings_ms or {}),
            extra={"source_key": source.key},
        )
        try:
            return self.put(manifest, data)
        except Exception as e:  # a full, read-only or locked cache must not stop the run
            logger.warning("could not cache the %s derived from %s… (%s)", format, source.key[:12], e)
            return None

    def unpacked_dir(self, data: bytes, sha256: str, *, folder: str, suffix: str = "") -> Path:
        """A folder holding the archive ``data`` (sha256 ``sha256``) unpacked; see :mod:`archive`.

        The folder is ``<cache>/<folder>/<sha256><suffix>`` (``folder`` names the family, e.g.
        ``coreml``), reused while it still packs to ``sha256`` and unpacked again when it does
        not. When the cache cannot be written (and holds no intact copy), the folder is a
        private temporary one for this process.

        Raises:
            UnsafeArchiveError: an archive entry would land outside the folder.
            CacheError: ``folder`` is not a plain name or is one of the store's own folders.
        """
        from webnnc.cache.archive import materialize

        root = self._layout.unpacked_root(folder)
        try:
            return materialize(data, sha256, root, suffix=suffix)
        except OSError as e:
            if self.writable:
                logger.warning("cannot unpack into the cache %s (%s); using a private folder", self.directory, e)
            return materialize(data, sha256, None, suffix=suffix)
