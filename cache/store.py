"""ArtifactStore: a content-addressed artifact store that verifies every read.

Layout of a cache folder (``cache/CACHE.md`` has the full story)::

    CACHEDIR.TAG                      marks the folder as a cache for backup tools
    objects/<sha[:2]>/<sha256>        artifact bytes, named by their own sha256
    entries/<key[:2]>/<key>.json      one manifest per cache key: the entry itself
    index/                            diskcache (SQLite): model names -> keys, hit counts
    locks/<key>.lock, locks/store.lock  flock files (see webnnc.cache.locks)
    tmp/                              staging for atomic renames

# NOTE: publication and reading, and why no reader ever sees a partial entry.
# An entry exists exactly when its manifest file exists. ``put`` writes the artifact to
# ``tmp/``, fsyncs it and renames it to ``objects/<sha>``, then does the same for the
# manifest; ``rename`` is atomic, so a process killed at any point leaves either nothing
# visible or a complete entry (plus, at worst, an unreferenced object or a tmp file, which
# ``gc`` removes). Every ``get`` re-derives the key from the manifest's key parts, reads the
# artifact into memory, checks its size and sha256, and returns those verified bytes, so the
# bytes that run are the bytes that were hashed (no check-then-open race on the path).
#
# NOTE: eviction and entries in use. Because a hit hands the runtime the verified bytes in
# memory, a running process never needs the cache files again after loading, and eviction
# can delete any entry at any time without pulling anything from under a running process.
# The one window, an entry evicted between reading its manifest and reading its artifact,
# is seen by the reader as "the entry vanished" (a quiet miss and a rebuild, no warning).
# Publishing holds ``locks/store.lock`` shared and eviction / gc / clear hold it exclusive,
# so an object is never deleted as unreferenced while a publisher is about to reference it.
#
# NOTE: the diskcache index is advisory (see _index.py): names and hit counts only. The
# least-recently-used clock is the manifest file's mtime, touched on every hit, so LRU
# survives the index being deleted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import hashlib
import logging
import os
import re
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from webnnc.cache._hash import blake3_hex
from webnnc.cache._index import Index, SafeDisk
from webnnc.cache.errors import CacheCorruptionError, CacheError
from webnnc.cache.key import key_digest
from webnnc.cache.locks import BuildLock, LockTimeout
from webnnc.cache.manifest import Manifest

__all__ = [
    "DEFAULT_LOCK_TIMEOUT",
    "DEFAULT_SIZE_LIMIT",
    "ArtifactStore",
    "CachedArtifact",
    "EntryInfo",
    "GcReport",
    "SafeDisk",
    "default_cache_dir",
    "parse_size",
    "sha256_file",
]

logger = logging.getLogger(__name__)

DEFAULT_SIZE_LIMIT = 8 * 2**30  # 8 GiB; diskcache's own 1 GiB default evicts too eagerly
DEFAULT_LOCK_TIMEOUT = 600.0  # seconds a process waits for another to finish the same build
_CHUNK = 1 << 20
_HEX64 = re.compile(r"[0-9a-f]{64}")
_OLD_S = 24 * 3600  # gc removes idle lock files older than this
_CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file marks the folder as a cache (webnnc compiled artifacts).\n"
    "# See https://bford.info/cachedir/\n"
)

# Directories for which this process has already warned that the cache is unusable.
_WARNED: set[str] = set()


def default_cache_dir() -> Path:
    """``$WEBNNC_CACHE_DIR``, else ``$XDG_CACHE_HOME/webnnc``, else ``~/.cache/webnnc``."""
    env = os.environ.get("WEBNNC_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "webnnc"


def parse_size(text: str | int) -> int:
    """Bytes from ``"8G"``, ``"512MiB"``, ``"1.5GB"`` or ``"1000000"`` (powers of 1024).

    >>> parse_size("512M"), parse_size("2GiB"), parse_size(1000)
    (536870912, 2147483648, 1000)
    """
    if isinstance(text, int):
        return text
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kmgt]?)(i?b)?\s*", text.lower())
    if not m:
        raise ValueError(f"cannot read a size from {text!r}; expected e.g. 8G, 512M or 1000000")
    scale = 1024 ** " kmgt".index(m.group(2) or " ")
    return int(float(m.group(1)) * scale)


def sha256_file(path: str | os.PathLike[str]) -> tuple[str, int]:
    """(hex sha256, size) of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


@dataclass(frozen=True)
class CachedArtifact:
    """A verified artifact: its manifest, the verified bytes, and where they are stored."""

    manifest: Manifest
    path: str
    data: bytes = field(repr=False)

    def read_bytes(self) -> bytes:
        return self.data


@dataclass(frozen=True)
class EntryInfo:
    """One entry as listed by ``webnnc cache ls`` (not verified)."""

    manifest: Manifest
    size: int  # artifact + manifest bytes
    last_used: float
    hits: int


@dataclass
class GcReport:
    """What ``gc`` removed (or would remove, with ``dry_run``)."""

    entries: list[tuple[str, str]] = field(default_factory=list)  # (key, reason)
    orphan_objects: int = 0
    tmp_files: int = 0
    lock_files: int = 0
    evicted: list[str] = field(default_factory=list)
    freed_bytes: int = 0


def _check_manifest(manifest: Manifest, key: str) -> None:
    """Raise CacheCorruptionError unless ``manifest`` really is the entry of ``key``."""
    if manifest.key != key:
        raise CacheCorruptionError(f"the manifest belongs to key {manifest.key[:12]}…")
    if key_digest(manifest.key_parts) != key:
        raise CacheCorruptionError("the manifest's key parts do not hash to its key (foreign or edited)")
    if manifest.key_parts.get("target") != manifest.target:
        raise CacheCorruptionError(
            f"manifest target {manifest.target!r} differs from its key's {manifest.key_parts.get('target')!r}"
        )
    if not _HEX64.fullmatch(manifest.artifact_sha256) or manifest.artifact_size < 0:
        raise CacheCorruptionError("the manifest's artifact hash or size is malformed")
    if manifest.artifact_blake3 and not _HEX64.fullmatch(manifest.artifact_blake3):
        raise CacheCorruptionError("the manifest's artifact BLAKE3 hash is malformed")


def _verify_bytes(manifest: Manifest, data: bytes, *, thorough: bool = True) -> None:
    """Check ``data`` against the manifest's size and hashes.

    ``thorough=False`` (the hit path) checks one cryptographic hash: BLAKE3 when both the
    manifest and this installation have it, else sha256. ``thorough=True`` checks sha256
    and, when present and computable, BLAKE3 too.
    """
    if len(data) != manifest.artifact_size:
        raise CacheCorruptionError(
            f"artifact is {len(data)} B, the manifest says {manifest.artifact_size} B (truncated?)"
        )
    fast = blake3_hex(data) if manifest.artifact_blake3 else None
    if fast is not None and fast != manifest.artifact_blake3:
        raise CacheCorruptionError(
            f"artifact BLAKE3 {fast[:12]}… differs from the manifest's {manifest.artifact_blake3[:12]}…"
        )
    if fast is None or thorough:
        digest = hashlib.sha256(data).hexdigest()
        if digest != manifest.artifact_sha256:
            raise CacheCorruptionError(
                f"artifact sha256 {digest[:12]}… differs from the manifest's {manifest.artifact_sha256[:12]}…"
            )


def _read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


class ArtifactStore:
    """Content-addressed store of compiled artifacts and their manifests.

    Safe for many processes at once; a folder that cannot be written (read-only, full,
    missing permissions) turns the store read-only with one warning, and builds run from
    memory.

    Args:
        directory: cache folder (default :func:`default_cache_dir`).
        size_limit: bytes before least-recently-used eviction (default
            ``$WEBNNC_CACHE_SIZE_LIMIT``, else 8 GiB).
        lock_timeout: seconds to wait for another process's build of the same key (default
            ``$WEBNNC_CACHE_LOCK_TIMEOUT``, else 600).
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        *,
        size_limit: int | str | None = None,
        lock_timeout: float | None = None,
    ) -> None:
        self.directory = Path(directory).expanduser() if directory is not None else default_cache_dir()
        env_limit = os.environ.get("WEBNNC_CACHE_SIZE_LIMIT")
        self.size_limit = parse_size(size_limit if size_limit is not None else env_limit or DEFAULT_SIZE_LIMIT)
        env_timeout = os.environ.get("WEBNNC_CACHE_LOCK_TIMEOUT")
        self.lock_timeout = float(lock_timeout if lock_timeout is not None else env_timeout or DEFAULT_LOCK_TIMEOUT)
        self._objects = self.directory / "objects"
        self._entries = self.directory / "entries"
        self._tmp = self.directory / "tmp"
        self._locks = self.directory / "locks"
        self.writable = True
        self.problem = ""
        try:
            for d in (self._objects, self._entries, self._tmp, self._locks):
                d.mkdir(parents=True, exist_ok=True)
            if not os.access(self.directory, os.W_OK):
                raise OSError(errno.EROFS, "the folder is read-only")
            tag = self.directory / "CACHEDIR.TAG"
            if not tag.exists():
                self._atomic_write(tag, _CACHEDIR_TAG.encode())
        except OSError as e:
            # No warning yet: a process that only reads (runtime.load from a read-only
            # deployment image) has nothing to be warned about. ``put`` warns, once.
            self.writable, self.problem = False, str(e)
        self._index = Index(self.directory / "index", writable=self.writable, rebuild=self._name_rows)

    # ------------------------------------------------------------------ paths
    def _entry_path(self, key: str) -> Path:
        if not _HEX64.fullmatch(key):
            raise CacheError(f"not a cache key: {key!r} (expected 64 lowercase hex digits)")
        return self._entries / key[:2] / f"{key}.json"

    def _object_path(self, sha: str) -> Path:
        if not _HEX64.fullmatch(sha):
            raise CacheCorruptionError(f"not an artifact sha256: {sha!r}")
        return self._objects / sha[:2] / sha

    def _degrade(self, error: BaseException | str) -> None:
        """Turn the store read-only, warning once per folder per process."""
        self.writable = False
        self.problem = f"{error}"
        if str(self.directory) not in _WARNED:
            _WARNED.add(str(self.directory))
            logger.warning(
                "artifact cache %s cannot be written (%s); graphs compile and run in memory "
                "and nothing new is stored",
                self.directory,
                error,
            )

    # ------------------------------------------------------------------ read
    def get(self, key: str, *, name: str | None = None, use: bool = True) -> CachedArtifact | None:
        """The verified artifact stored under ``key``, or None.

        A corrupt, truncated, missing or foreign entry is logged (one warning), dropped and
        reported as a miss; it is never returned. ``name`` registers the key under that model
        name (so ``runtime.load(name)`` finds an artifact that was a hit under a new name).
        ``use=False`` (admin reads: export, import) counts no hit and leaves the LRU order.
        """
        return self._get(key, name=name, use=use, retry=True)

    def _get(self, key: str, *, name: str | None, use: bool, retry: bool) -> CachedArtifact | None:
        entry = self._entry_path(key)
        try:
            text = entry.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as e:
            logger.debug("cannot read cache entry %s (%s); treating it as a miss", entry, e)
            return None
        manifest: Manifest | None = None
        try:
            manifest = Manifest.from_json(text)
            _check_manifest(manifest, key)
            obj = self._object_path(manifest.artifact_sha256)
            try:
                with open(obj, "rb") as f:
                    data = f.read()
            except FileNotFoundError:
                # Evicted by another process while we read it (a quiet miss), or evicted and
                # published again (read the new entry), or really missing (corrupt).
                now = _read_or_none(entry)
                if now is None:
                    logger.debug("cache entry %s… vanished while being read; a miss", key[:12])
                    return None
                if now != text and retry:
                    return self._get(key, name=name, use=use, retry=False)
                raise CacheCorruptionError("the artifact file is missing") from None
            _verify_bytes(manifest, data, thorough=False)
        except CacheCorruptionError as e:
            logger.warning("cache entry %s… is corrupt (%s); dropping it and rebuilding", key[:12], e)
            self._drop_bad(key, manifest, text)
            return None
        except OSError as e:
            logger.debug("cannot read the artifact of %s… (%s); treating it as a miss", key[:12], e)
            return None
        if self.writable and use:
            self._touch(entry)
            self._index.record_hit(key)
            if name and key not in self._index.keys_for_name(manifest.target, name):
                self._index.add_name(manifest.target, name, key)
        return CachedArtifact(manifest, str(obj), data)

    @staticmethod
    def _touch(path: Path) -> None:
        try:
            os.utime(path)
        except OSError as e:  # LRU order is advisory
            logger.debug("cannot update the last-used time of %s: %s", path, e)

    def manifest(self, key: str) -> Manifest | None:
        """The manifest under ``key`` without verifying the artifact (for listings)."""
        try:
            text = self._entry_path(key).read_bytes()
        except OSError:
            return None
        return Manifest.from_json(text)

    def keys(self) -> Iterator[str]:
        """Every key with an entry file (unverified)."""
        try:
            shards = sorted(os.scandir(self._entries), key=lambda d: d.name)
        except OSError:
            return
        for shard in shards:
            if not shard.is_dir():
                continue
            for f in sorted(os.listdir(shard.path)):
                key = f.removesuffix(".json")
                if f.endswith(".json") and _HEX64.fullmatch(key):
                    yield key

    def __iter__(self) -> Iterator[str]:
        """Iterating a store yields its keys, as iterating a mapping does."""
        return self.keys()

    def manifests(self) -> Iterator[Manifest]:
        """Every readable manifest (unverified; unreadable ones are skipped)."""
        for key in self.keys():
            try:
                m = self.manifest(key)
            except CacheCorruptionError:
                continue
            if m is not None:
                yield m

    def entries(self) -> list[EntryInfo]:
        """Every readable entry with its size, last use and hit count (unverified)."""
        out = []
        for key in self.keys():
            path = self._entry_path(key)
            try:
                st = path.stat()
                m = Manifest.from_json(path.read_bytes())
            except (OSError, CacheCorruptionError):
                continue
            out.append(EntryInfo(m, m.artifact_size + st.st_size, st.st_mtime, self._index.hits(key)))
        return out

    def hits(self, key: str) -> int:
        return self._index.hits(key)

    def find(self, name: str, target: str | None = None) -> list[Manifest]:
        """Manifests stored under model ``name`` (for ``target``, or any), newest first.

        A name is the one a manifest was built with, or one registered in the index when a
        hit came under a new name. With a target and an index that knows the name, no scan
        is needed; otherwise every manifest is read (the index may have been deleted).
        Entries are not verified here.
        """
        found: dict[str, Manifest] = {}
        scanned: list[Manifest] | None = None
        if target is None:
            scanned = list(self.manifests())
            targets = sorted({m.target for m in scanned})
        else:
            targets = [target]
        for t in targets:
            for key in self._index.keys_for_name(t, name):
                try:
                    m = self.manifest(key)
                except (CacheCorruptionError, CacheError):
                    continue
                if m is not None and m.target == t:
                    found[key] = m
        if not found or scanned is not None:
            for m in scanned if scanned is not None else self.manifests():
                if m.name == name and target in (None, m.target):
                    found[m.key] = m
        return sorted(found.values(), key=lambda m: m.created, reverse=True)

    def resolve_name(self, name: str, target: str) -> str | None:
        """The key most recently stored under ``name`` for ``target`` (unverified)."""
        found = self.find(name, target)
        return found[0].key if found else None

    def _name_rows(self) -> Iterator[tuple[str, str, str, float]]:
        for m in self.manifests():
            if m.name:
                yield m.target, m.name, m.key, m.created

    # ------------------------------------------------------------------ write
    def build_lock(self, key: str) -> BuildLock:
        """The cross-process lock that serializes building ``key`` (not yet acquired).

        On an unwritable folder nothing built can be shared, so serializing builds would
        only make processes wait for each other: the lock is then a no-op.
        """
        self._entry_path(key)  # validates the key
        return BuildLock(
            self._locks / f"{key}.lock" if self.writable else None,
            timeout=self.lock_timeout,
            purpose=f"the build lock of cache key {key[:12]}…",
        )

    def _store_lock(self, *, shared: bool, timeout: float | None) -> BuildLock:
        return BuildLock(
            self._locks / "store.lock", timeout=timeout, shared=shared, purpose="the cache's store lock"
        )

    def _atomic_write(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp.mkdir(parents=True, exist_ok=True)  # the folder may have been deleted under us
        tmp = self._tmp / f"{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise

    def put(self, manifest: Manifest, data: bytes) -> CachedArtifact | None:
        """Publish ``data`` under ``manifest.key`` atomically.

        Returns:
            The stored artifact, or None when the folder cannot be written (the store has then
            warned once and turned read-only; the caller runs from memory).

        Raises:
            CacheError: the manifest does not describe ``data`` or its own key (a bug).
        """
        _check_manifest(manifest, manifest.key)
        try:
            _verify_bytes(manifest, data)
        except CacheCorruptionError as e:
            raise CacheError(f"the manifest does not describe the artifact being stored: {e}") from None
        if not manifest.artifact_blake3:
            fast = blake3_hex(data)
            if fast is not None:  # lets every later hit verify with the faster hash
                manifest = dataclasses.replace(manifest, artifact_blake3=fast)
        if not self.writable:
            self._degrade(self.problem or "not writable")
            return None
        obj = self._object_path(manifest.artifact_sha256)
        try:
            with self._store_lock(shared=True, timeout=self.lock_timeout):
                try:
                    present = obj.stat().st_size == len(data)
                except FileNotFoundError:
                    present = False
                if not present:
                    self._atomic_write(obj, data)
                self._atomic_write(self._entry_path(manifest.key), manifest.to_json().encode())
        except LockTimeout as e:  # a stuck gc/evict elsewhere: skip storing, keep the store usable
            logger.warning("not storing %s… in the cache: %s", manifest.key[:12], e)
            return None
        except OSError as e:
            self._degrade(e)
            return None
        if manifest.name:
            self._index.add_name(manifest.target, manifest.name, manifest.key)
        self.evict(keep=manifest.key, wait=False)
        return CachedArtifact(manifest, str(obj), data)

    # ------------------------------------------------------------------ removal
    def _drop_bad(self, key: str, manifest: Manifest | None, text: bytes | None = None) -> None:
        """Remove a corrupt entry; remove its object too if the object itself is bad.

        With ``text`` (the manifest bytes judged corrupt), an entry that has meanwhile been
        published again with other bytes is left alone.
        """
        if not self.writable:
            return
        try:
            entry = self._entry_path(key)
            if text is None or _read_or_none(entry) == text:
                entry.unlink(missing_ok=True)
            if manifest is not None and _HEX64.fullmatch(manifest.artifact_sha256):
                obj = self._object_path(manifest.artifact_sha256)
                if obj.exists() and sha256_file(obj) != (manifest.artifact_sha256, manifest.artifact_size):
                    obj.unlink(missing_ok=True)
        except OSError as e:
            logger.debug("could not remove the corrupt entry %s…: %s", key[:12], e)
        self._index.forget(key)

    def drop(self, key: str) -> bool:
        """Remove one entry (its artifact goes too unless another entry shares it)."""
        if not self.writable:
            raise CacheError(f"cannot remove entries: {self.directory} is not writable ({self.problem})")
        with self._store_lock(shared=False, timeout=self.lock_timeout):
            return self._remove_entries([key]) > 0

    def _remove_entries(self, keys: list[str]) -> int:
        """Remove entries and objects no remaining entry references (store lock held)."""
        gone = set(keys)
        shas: set[str] = set()
        removed = 0
        for key in gone:
            path = self._entry_path(key)
            with contextlib.suppress(OSError, CacheCorruptionError):
                shas.add(Manifest.from_json(path.read_bytes()).artifact_sha256)
            try:
                path.unlink()
                removed += 1
            except FileNotFoundError:
                continue
            self._index.forget(key)
        still = {m.artifact_sha256 for m in self.manifests()}
        for sha in shas - still:
            with contextlib.suppress(OSError, CacheCorruptionError):
                self._object_path(sha).unlink(missing_ok=True)
        return removed

    def _sizes(self) -> tuple[dict[str, tuple[float, int]], dict[str, int]]:
        """({key: (mtime, manifest bytes)}, {sha: object bytes}) from a directory scan."""
        entries: dict[str, tuple[float, int]] = {}
        for key in self.keys():
            try:
                st = self._entry_path(key).stat()
            except OSError:
                continue
            entries[key] = (st.st_mtime, st.st_size)
        objects: dict[str, int] = {}
        try:
            shards = list(os.scandir(self._objects))
        except OSError:
            shards = []
        for shard in shards:
            if shard.is_dir():
                for f in os.scandir(shard.path):
                    if _HEX64.fullmatch(f.name):
                        try:
                            objects[f.name] = f.stat().st_size
                        except OSError:
                            continue
        return entries, objects

    def volume(self) -> int:
        """Bytes of artifacts and manifests (what the size limit counts)."""
        entries, objects = self._sizes()
        return sum(s for _, s in entries.values()) + sum(objects.values())

    def evict(self, *, limit: int | None = None, keep: str | None = None, wait: bool = True) -> list[str]:
        """Remove least-recently-used entries until the store fits ``limit`` (default the limit).

        Args:
            keep: never evict this key (the entry just stored).
            wait: wait for the store lock; False skips eviction when another process holds
                it (the next ``put`` evicts instead).
        """
        limit = self.size_limit if limit is None else limit
        if not self.writable:
            return []
        entries, objects = self._sizes()
        total = sum(s for _, s in entries.values()) + sum(objects.values())
        if total <= limit:
            return []
        lock = self._store_lock(shared=False, timeout=self.lock_timeout)
        if wait:
            lock.acquire()
        elif not lock.try_acquire():
            return []
        try:
            return self._evict_locked(limit, keep)
        finally:
            lock.release()

    def _evict_locked(self, limit: int, keep: str | None) -> list[str]:
        # Under the exclusive store lock no publisher is mid-write: temp files are debris of
        # killed publishers, and can be large (a whole artifact).
        for f in self._tmp.glob("*.tmp"):
            f.unlink(missing_ok=True)
        entries, objects = self._sizes()
        total = sum(s for _, s in entries.values()) + sum(objects.values())
        refs: Counter[str] = Counter()
        sha_of: dict[str, str] = {}
        for key in entries:
            try:
                m = self.manifest(key)
            except CacheCorruptionError:
                m = None
            if m is not None:
                sha_of[key] = m.artifact_sha256
                refs[m.artifact_sha256] += 1
        evicted: list[str] = []
        for key, (_, size) in sorted(entries.items(), key=lambda kv: kv[1][0]):
            if total <= limit:
                break
            if key == keep:
                continue
            try:
                self._entry_path(key).unlink()
            except OSError:
                continue
            self._index.forget(key)
            evicted.append(key)
            total -= size
            sha = sha_of.get(key)
            if sha is not None:
                refs[sha] -= 1
                if refs[sha] == 0 and sha in objects:
                    try:
                        self._object_path(sha).unlink()
                        total -= objects[sha]
                    except OSError:
                        pass
        if evicted:
            logger.info(
                "evicted %d least-recently-used cache entries to fit the %.1f MiB limit",
                len(evicted),
                limit / 2**20,
            )
        if total > limit:
            logger.warning(
                "the artifact cache %s holds %.1f MiB, over its %.1f MiB limit, after evicting all "
                "it could (the newest entry alone is larger?); raise WEBNNC_CACHE_SIZE_LIMIT",
                self.directory,
                total / 2**20,
                limit / 2**20,
            )
        return evicted

    # ------------------------------------------------------------------ maintenance
    def verify(self) -> list[tuple[str, str]]:
        """Re-hash every entry; drop the bad ones. Returns ``[(key, problem)]`` for those."""
        bad: list[tuple[str, str]] = []
        for key in list(self.keys()):
            path = self._entry_path(key)
            manifest: Manifest | None = None
            try:
                manifest = Manifest.from_json(path.read_bytes())
                _check_manifest(manifest, key)
                obj = self._object_path(manifest.artifact_sha256)
                if not obj.exists():
                    raise CacheCorruptionError("the artifact file is missing")
                _verify_bytes(manifest, obj.read_bytes(), thorough=True)
            except FileNotFoundError:
                continue  # removed concurrently
            except (CacheCorruptionError, OSError) as e:
                bad.append((key, str(e)))
                self._drop_bad(key, manifest)
        return bad

    def gc(
        self,
        unusable: Callable[[Manifest], str | None] | None = None,
        *,
        dry_run: bool = False,
    ) -> GcReport:
        """Remove entries ``unusable`` gives a reason for, unreadable entries, unreferenced
        objects, leftover temp files and idle old lock files; then evict down to the limit.
        """
        report = GcReport()
        if not self.writable and not dry_run:
            raise CacheError(f"cannot collect garbage: {self.directory} is not writable ({self.problem})")
        lock = self._store_lock(shared=False, timeout=self.lock_timeout)
        if not dry_run:
            lock.acquire()
        try:
            doomed: list[str] = []
            live: set[str] = set()
            for key in list(self.keys()):
                path = self._entry_path(key)
                try:
                    m = Manifest.from_json(path.read_bytes())
                    _check_manifest(m, key)
                except OSError:
                    continue
                except CacheCorruptionError as e:
                    report.entries.append((key, f"unreadable: {e}"))
                    doomed.append(key)
                    continue
                reason = unusable(m) if unusable is not None else None
                if reason:
                    report.entries.append((key, reason))
                    doomed.append(key)
                    report.freed_bytes += m.artifact_size
                else:
                    live.add(m.artifact_sha256)
            _, objects = self._sizes()
            orphans = [sha for sha in objects if sha not in live]
            report.orphan_objects = len(orphans)
            report.freed_bytes += sum(objects[s] for s in orphans)
            tmp_files = list(self._tmp.glob("*")) if self._tmp.is_dir() else []
            report.tmp_files = len(tmp_files)
            if dry_run:
                return report
            for key in doomed:
                self._entry_path(key).unlink(missing_ok=True)
                self._index.forget(key)
            for sha in orphans:
                self._object_path(sha).unlink(missing_ok=True)
            # Under the exclusive store lock no publisher is mid-write: every tmp file is debris.
            for f in tmp_files:
                f.unlink(missing_ok=True)
            report.lock_files = self._remove_idle_locks()
            report.evicted = self._evict_locked(self.size_limit, None)
        finally:
            lock.release()
        return report

    def _remove_idle_locks(self) -> int:
        removed = 0
        now = time.time()
        for f in self._locks.glob("*.lock"):
            if f.name == "store.lock":
                continue
            try:
                if now - f.stat().st_mtime < _OLD_S:
                    continue
            except OSError:
                continue
            lock = BuildLock(f, timeout=0)
            if lock.try_acquire():
                try:
                    f.unlink(missing_ok=True)
                    removed += 1
                finally:
                    lock.release()
        return removed

    def clear(self) -> int:
        """Remove every entry and artifact; returns how many entries there were."""
        if not self.writable:
            raise CacheError(f"cannot clear: {self.directory} is not writable ({self.problem})")
        with self._store_lock(shared=False, timeout=self.lock_timeout):
            count = sum(1 for _ in self.keys())
            for d in (self._entries, self._objects, self._tmp):
                shutil.rmtree(d, ignore_errors=True)
                d.mkdir(parents=True, exist_ok=True)
            self._index.clear()
        return count

    def stats(self) -> dict[str, object]:
        entries, objects = self._sizes()
        return {
            "directory": str(self.directory),
            "entries": len(entries),
            "artifacts": len(objects),
            "bytes": sum(s for _, s in entries.values()) + sum(objects.values()),
            "size_limit": self.size_limit,
            "writable": self.writable,
            "problem": self.problem,
        }

    def close(self) -> None:
        self._index.close()

    def __enter__(self) -> ArtifactStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
