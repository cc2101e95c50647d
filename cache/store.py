"""ArtifactStore: a content-addressed artifact store on diskcache that never unpickles.

Layout inside one diskcache directory (all keys are strings):

- ``m/<key digest>``: the entry's manifest (JSON text).
- ``a/<artifact sha256>``: the artifact bytes, always stored as a file so that ONNX
  Runtime can open (and memory-map) it by path; shared by every key with equal bytes.
- ``n/<target>/<name>``: the key digest most recently stored under a model name.

# NOTE: publishing writes the artifact before the manifest; a reader starts from the
# manifest, so a process killed between the two leaves an unreferenced artifact (reclaimed
# by eviction), never a manifest that points at missing bytes. Each diskcache ``set`` is
# atomic: the file is written first and the index row committed after it.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import diskcache

from webnnc.cache.errors import CacheCorruptionError, CacheError
from webnnc.cache.manifest import Manifest

__all__ = ["DEFAULT_SIZE_LIMIT", "ArtifactStore", "CachedArtifact", "SafeDisk", "default_cache_dir", "sha256_file"]

logger = logging.getLogger(__name__)

DEFAULT_SIZE_LIMIT = 8 * 2**30  # 8 GiB; diskcache's own 1 GiB default evicts too eagerly
_CHUNK = 1 << 20


def default_cache_dir() -> Path:
    """``$WEBNNC_CACHE_DIR``, else ``$XDG_CACHE_HOME/webnnc``, else ``~/.cache/webnnc``."""
    env = os.environ.get("WEBNNC_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "webnnc"


def sha256_file(path: str | os.PathLike[str]) -> tuple[str, int]:
    """(hex sha256, size) of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


class SafeDisk(diskcache.Disk):
    """A diskcache ``Disk`` that stores and returns only str keys and str/bytes/file values.

    diskcache pickles anything else and unpickles on read; a tampered index row could then
    run code. This Disk refuses to write pickles and refuses to read them.
    """

    def put(self, key: Any) -> tuple[Any, bool]:
        if type(key) is not str:
            raise CacheError(f"cache keys must be str; found {type(key).__name__}")
        return super().put(key)

    def get(self, key: Any, raw: bool) -> Any:
        if not raw:
            raise CacheCorruptionError("refusing to unpickle a cache key (index row was tampered with)")
        return super().get(key, raw)

    def store(self, value: Any, read: bool, key: Any = diskcache.core.UNKNOWN) -> Any:
        if not (read or type(value) in (str, bytes)):
            raise CacheError(f"cache values must be str, bytes or a file; found {type(value).__name__}")
        return super().store(value, read, key=key)

    def fetch(self, mode: int, filename: Any, value: Any, read: bool) -> Any:
        if mode == diskcache.core.MODE_PICKLE:
            raise CacheCorruptionError("refusing to unpickle a cache value (index row was tampered with)")
        return super().fetch(mode, filename, value, read)


@dataclass(frozen=True)
class CachedArtifact:
    """A verified artifact: its manifest and the path of its bytes inside the cache."""

    manifest: Manifest
    path: str

    def read_bytes(self) -> bytes:
        return Path(self.path).read_bytes()


class ArtifactStore:
    """Content-addressed store of compiled artifacts and their manifests.

    Args:
        directory: cache folder (default :func:`default_cache_dir`).
        size_limit: bytes before least-recently-used eviction (default 8 GiB).
    """

    def __init__(self, directory: str | os.PathLike[str] | None = None, *, size_limit: int | None = None) -> None:
        self.directory = Path(directory).expanduser() if directory is not None else default_cache_dir()
        if size_limit is None:
            size_limit = int(os.environ.get("WEBNNC_CACHE_SIZE_LIMIT", DEFAULT_SIZE_LIMIT))
        self.size_limit = size_limit
        self._cache = diskcache.Cache(
            str(self.directory),
            size_limit=size_limit,
            eviction_policy="least-recently-used",
            disk=SafeDisk,
            cull_limit=10,
        )

    # -------------------------------------------------------------- read
    def get(self, key: str) -> CachedArtifact | None:
        """The verified artifact stored under ``key``, or None (a bad entry is dropped)."""
        text = self._cache.get(f"m/{key}", retry=True)
        if text is None:
            return None
        try:
            manifest = Manifest.from_json(text)
            if manifest.key != key:
                raise CacheCorruptionError(f"manifest belongs to key {manifest.key[:12]}…")
            return self._verified(manifest)
        except CacheCorruptionError as e:
            logger.warning("cache entry %s… is corrupt (%s); dropping it and rebuilding", key[:12], e)
            self.drop(key)
            return None

    def _verified(self, manifest: Manifest) -> CachedArtifact:
        handle = self._cache.get(f"a/{manifest.artifact_sha256}", read=True, retry=True)
        if handle is None:
            raise CacheCorruptionError("artifact bytes are missing")
        with handle:
            path = getattr(handle, "name", None)
            if not isinstance(path, str):
                raise CacheCorruptionError("artifact is not stored as a file")
            digest, size = sha256_file(path)
        if size != manifest.artifact_size or digest != manifest.artifact_sha256:
            raise CacheCorruptionError(
                f"artifact hash/size mismatch: expected {manifest.artifact_sha256[:12]}…/"
                f"{manifest.artifact_size} B, found {digest[:12]}…/{size} B"
            )
        return CachedArtifact(manifest, path)

    def manifest(self, key: str) -> Manifest | None:
        """The manifest under ``key`` without verifying the artifact (for listings)."""
        text = self._cache.get(f"m/{key}", retry=True)
        return None if text is None else Manifest.from_json(text)

    def resolve_name(self, name: str, target: str) -> str | None:
        """The key most recently stored under ``name`` for ``target``."""
        value = self._cache.get(f"n/{target}/{name}", retry=True)
        return value if isinstance(value, str) else None

    def keys(self) -> Iterator[str]:
        for k in self._cache.iterkeys():
            if isinstance(k, str) and k.startswith("m/"):
                yield k[2:]

    def manifests(self) -> Iterator[Manifest]:
        for key in list(self.keys()):
            try:
                m = self.manifest(key)
            except CacheCorruptionError:
                continue
            if m is not None:
                yield m

    # -------------------------------------------------------------- write
    def put(self, manifest: Manifest, data: bytes) -> CachedArtifact:
        """Store ``data`` under ``manifest.key`` (the manifest's sha256/size must describe it)."""
        digest = hashlib.sha256(data).hexdigest()
        if digest != manifest.artifact_sha256 or len(data) != manifest.artifact_size:
            raise CacheError("manifest does not describe the artifact bytes being stored")
        akey = f"a/{digest}"
        tag = manifest.key
        if akey not in self._cache:
            self._cache.set(akey, io.BytesIO(data), read=True, tag=tag, retry=True)
        self._cache.set(f"m/{manifest.key}", manifest.to_json(), tag=tag, retry=True)
        if manifest.name:
            self._cache.set(f"n/{manifest.target}/{manifest.name}", manifest.key, retry=True)
        stored = self.get(manifest.key)
        if stored is None:
            raise CacheError(f"the entry for {manifest.key[:12]}… could not be read back after writing")
        return stored

    def drop(self, key: str) -> None:
        """Remove one entry's manifest (its artifact goes too unless another key shares it)."""
        text = self._cache.pop(f"m/{key}", retry=True)
        if text is None:
            return
        try:
            sha = Manifest.from_json(text).artifact_sha256
        except CacheCorruptionError:
            return
        if not any(m.artifact_sha256 == sha for m in self.manifests()):
            self._cache.pop(f"a/{sha}", retry=True)

    def clear(self) -> int:
        return int(self._cache.clear(retry=True))

    def volume(self) -> int:
        """Bytes on disk (index and files)."""
        return int(self._cache.volume())

    def close(self) -> None:
        self._cache.close()

    def __enter__(self) -> ArtifactStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

