"""ArtifactStore: a content-addressed artifact store that verifies what it returns.

The folder's layout is drawn in ``cache/CACHE.md``; :class:`~webnnc.cache._files.Layout`
names its paths.

# NOTE: publication and reading, and why no reader ever sees a partial entry. An entry
# exists exactly when its manifest file exists. ``put`` writes the object (a file, or a
# folder of files for a multi-file artifact) under ``tmp/``, fsyncs it and renames it into
# ``objects/``, then does the same for the manifest; ``rename`` is atomic, so a process
# killed at any point leaves nothing visible or a complete entry (plus debris ``gc``
# removes). Every ``get`` re-derives the key from the manifest's key parts and returns bytes
# it hashed itself: a single-file artifact whole, a multi-file one's graph (its weights are
# hashed on first use and then trusted by fingerprint: ``_tree.py``).
#
# NOTE: eviction and entries in use. A running process holds a single-file artifact in
# memory and a multi-file one's weights mapped, and an unlinked file stays readable through
# an existing mapping (POSIX), so eviction can delete any entry at any time without pulling
# anything from under a running process. An entry evicted between reading its manifest and
# its object is seen as "the entry vanished" (a quiet miss, no warning). Publishing holds
# ``locks/store.lock`` shared and eviction / gc / clear hold it exclusive, so an object is
# never deleted as unreferenced while a publisher is about to reference it.
#
# NOTE: no database on a hit. Names resolve through small files (``_names.py``), the LRU
# clock is the manifest's mtime and the hit count an append-only file; the diskcache index
# (``_index.py``) is opened by listings, eviction and the miss path only.
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Callable, Iterator, Mapping
from typing import IO, TYPE_CHECKING, Any

from webnnc.cache._auth import KeyUnavailableError, local_key, sealed_json
from webnnc.cache._auth import check_tag as check_entry_tag
from webnnc.cache._derived import CachedArtifact, DerivedEntries, EntryInfo
from webnnc.cache._files import (
    CACHEDIR_TAG,
    HEX64,
    Layout,
    check_manifest,
    default_cache_dir,
    default_cache_root,
    folder_trust_problem,
    parse_seconds,
    parse_size,
    read_bounded,
    read_or_none,
    sha256_file,
    verify_bytes,
)
from webnnc.cache._hash import blake3_hex
from webnnc.cache._log import get_logger
from webnnc.cache._names import add_name, find_manifests, read_names
from webnnc.cache._tree import GRAPH, file_facts, verify_tree, write_tree
from webnnc.cache.errors import CacheCorruptionError, CacheError
from webnnc.cache.manifest import HELD_FILES, Manifest, tree_digest
from webnnc.cache.signing import SignatureError

if TYPE_CHECKING:
    from pathlib import Path

    from webnnc.cache._auth import LocalKey
    from webnnc.cache._index import Index
    from webnnc.cache._maintenance import GcReport
    from webnnc.cache._publish import Staging
    from webnnc.cache.locks import BuildLock

__all__ = [
    "DEFAULT_LOCK_TIMEOUT",
    "DEFAULT_SIZE_LIMIT",
    "ArtifactStore",
    "CachedArtifact",
    "EntryInfo",
    "GcReport",
    "default_cache_dir",
    "parse_size",
    "sha256_file",
]

logger = get_logger(__name__)

DEFAULT_SIZE_LIMIT = 8 * 2**30  # 8 GiB; diskcache's own 1 GiB default evicts too eagerly
DEFAULT_LOCK_TIMEOUT = 600.0  # seconds a process waits for another to finish the same build
# Directories for which this process has already warned that the cache is unusable.
_WARNED: set[str] = set()
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _maintenance() -> Any:
    """Eviction, gc and removal: loaded by the first write or maintenance, never by a hit."""
    from webnnc.cache import _maintenance as module

    return module


def __getattr__(name: str) -> Any:
    # the index (diskcache + sqlite3) loads only when a store operation needs it: a hit does not
    if name == "SafeDisk":
        from webnnc.cache._index import SafeDisk

        return SafeDisk
    if name == "GcReport":  # maintenance and locks load with the first write, gc or eviction
        return _maintenance().GcReport
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class ArtifactStore(DerivedEntries):
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
        # a str path: what a hit touches stays pathlib-free (``_files.py``'s note); ``directory``
        # is the Path of it for everyone else
        try:
            root = os.path.expanduser(os.fspath(directory)) if directory is not None else default_cache_root()
        except TypeError:
            raise CacheError(f"cache folder: expected a path; found {type(directory).__name__}") from None
        if "\0" in root:
            raise CacheError(f"cache folder {root!r}: expected a path; found a NUL byte in it")
        env_limit = os.environ.get("WEBNNC_CACHE_SIZE_LIMIT")
        try:
            self.size_limit = parse_size(size_limit if size_limit is not None else env_limit or DEFAULT_SIZE_LIMIT)
        except ValueError as e:
            where = "size_limit" if size_limit is not None else "WEBNNC_CACHE_SIZE_LIMIT"
            raise CacheError(f"{where}: {e}") from None
        env_timeout = os.environ.get("WEBNNC_CACHE_LOCK_TIMEOUT")
        self.lock_timeout = parse_seconds(
            lock_timeout if lock_timeout is not None else env_timeout or DEFAULT_LOCK_TIMEOUT,
            "lock_timeout" if lock_timeout is not None else "WEBNNC_CACHE_LOCK_TIMEOUT", error=CacheError,
        )
        self._layout = layout = Layout(root)
        self.writable = True
        self.problem = ""
        self.trusted = True
        self._index_: Index | None = None
        self._key_: LocalKey | None = None
        self._hits_written = 0
        try:
            for d in (layout.objects_dir, layout.entries_dir, layout.tmp_dir, layout.locks_dir):
                os.makedirs(d, mode=0o700, exist_ok=True)
            if not os.access(root, os.W_OK):
                raise OSError(errno.EROFS, "the folder is read-only")
            tag = os.path.join(root, "CACHEDIR.TAG")
            if not os.path.exists(tag):
                self._atomic_write(tag, CACHEDIR_TAG.encode())
        except OSError as e:
            # No warning yet: a process that only reads (runtime.load from a read-only
            # deployment image) has nothing to be warned about. ``put`` warns, once.
            self.writable, self.problem = False, str(e)
        distrust = folder_trust_problem(root, (layout.objects_dir, layout.entries_dir, layout.names_dir))
        if distrust is not None:
            # Whoever can write the folder decides what every cached graph computes: run
            # uncached, as pip does with a cache folder it does not own (CACHE.md, "Threat model").
            self.trusted, self.writable, self.problem = False, False, distrust
            if root not in _WARNED:
                _WARNED.add(root)
                logger.warning("not using the artifact cache: %s; graphs compile and run in memory", distrust)

    @property
    def root(self) -> str:
        """The cache folder as a str (no pathlib import)."""
        return self._layout.root

    @property
    def _index(self) -> Index:
        # Created on first use: diskcache and sqlite3 are imported by listings, eviction and
        # the miss path, never by a hit (tests/runtime/test_import_clean.py).
        if self._index_ is None:
            from webnnc.cache._index import Index

            self._index_ = Index(self.directory / "index", writable=self.writable, rebuild=self._name_rows)
        return self._index_

    def _auth_key(self) -> LocalKey | None:
        """The user's key that tags every entry (``_auth.py``); None leaves the store untrusted."""
        if self._key_ is None and self.trusted:
            try:
                self._key_ = local_key()
            except KeyUnavailableError as e:  # no entry can be authenticated: run uncached, as for a shared folder
                self.trusted, self.writable, self.problem = False, False, str(e)
                if self.root not in _WARNED:
                    _WARNED.add(self.root)
                    logger.warning("not using the artifact cache: %s; graphs compile and run in memory", e)
        return self._key_

    def _sealed(self, manifest: Manifest) -> bytes:
        """The manifest file's bytes, with this user's authentication tag."""
        key = self._auth_key()
        if key is None:
            raise OSError(errno.EACCES, self.problem)
        return sealed_json(manifest, key)

    # ------------------------------------------------------------------ paths
    def _entry_path(self, key: str) -> Path:
        return self._layout.entry_path(key)

    def _object_path(self, sha: str) -> Path:
        return self._layout.object_path(sha)

    def _atomic_write(self, path: str | os.PathLike[str], data: bytes) -> None:
        # Every byte the store publishes goes through here (tests fill the disk at this seam).
        self._layout.atomic_write(path, data)

    def _degrade(self, error: BaseException | str) -> None:
        """Turn the store read-only, warning once per folder per process."""
        self.writable = False
        self.problem = f"{error}"
        if self.root not in _WARNED:
            _WARNED.add(self.root)
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
        entry = self._layout.entry_file(key)
        auth = self._auth_key() if self.trusted else None
        if auth is None:
            return None
        manifest: Manifest | None = None
        text = b""
        try:
            text = read_bounded(entry)
        except FileNotFoundError:
            return None
        except OSError as e:
            logger.debug("cannot read cache entry %s (%s); treating it as a miss", entry, e)
            return None
        except CacheCorruptionError as e:
            logger.warning("cache entry %s… is corrupt (%s); dropping it and rebuilding", key[:12], e)
            self._drop_bad(key, None)
            return None
        try:
            obj = Manifest.parse(text)
            manifest = Manifest.from_obj(obj)
            check_manifest(manifest, key)
            check_entry_tag(manifest, obj, auth)
            obj = self._layout.object_file(manifest.artifact_sha256)
            timings: dict[str, float] = {}
            held: dict[str, bytes] = {}
            try:
                if manifest.files:
                    t0 = time.perf_counter()
                    data, hashed = verify_tree(
                        obj, manifest, stage_root=self._layout.tmp_dir if self.writable else None, held=held
                    )
                    timings["hash_weights" if hashed else "fingerprint"] = round((time.perf_counter() - t0) * 1e3, 3)
                else:
                    with open(obj, "rb") as f:
                        data = f.read()
            except FileNotFoundError:
                # Evicted by another process while we read it (a quiet miss), or evicted and
                # published again (read the new entry), or really missing (corrupt).
                now = read_or_none(entry)
                if now is None:
                    logger.debug("cache entry %s… vanished while being read; a miss", key[:12])
                    return None
                if now != text and retry:
                    return self._get(key, name=name, use=use, retry=False)
                raise CacheCorruptionError("the artifact file is missing") from None
            if not manifest.files:
                verify_bytes(manifest, data, thorough=False)
        except CacheCorruptionError as e:
            logger.warning("cache entry %s… is corrupt (%s); dropping it and rebuilding", key[:12], e)
            self._drop_bad(key, manifest, text)
            return None
        except SignatureError as e:  # planted, edited, or from another account: never used
            logger.warning("cache entry %s… is not authenticated: %s; dropping it and rebuilding", key[:12], e)
            self._drop_bad(key, manifest, text)
            return None
        except OSError as e:
            logger.debug("cannot read the artifact of %s… (%s); treating it as a miss", key[:12], e)
            return None
        if self.writable and use:
            # LRU clock and hit count: two syscalls, no database (CACHE.md, "The hit path")
            self._layout.record_hit(key)
            if name and key not in read_names(self._layout, manifest.target, name):
                self._register_name(manifest.target, name, key)
        return CachedArtifact(manifest, obj, data, timings, held)

    def _register_name(self, target: str, name: str, key: str) -> None:
        add_name(self._layout, target, name, key)
        self._index.add_name(target, name, key)

    def manifest(self, key: str) -> Manifest | None:
        """The manifest under ``key`` without verifying the artifact (for listings)."""
        return self._layout.read_manifest(key)

    def keys(self) -> Iterator[str]:
        """Every key with an entry file (unverified)."""
        return self._layout.scan_keys()

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
                m = Manifest.from_json(read_bounded(path))
            except (OSError, CacheCorruptionError):
                continue
            out.append(EntryInfo(m, m.artifact_size + st.st_size, st.st_mtime, self.hits(key)))
        return out

    def hits(self, key: str) -> int:
        """How many hits ``key`` has served (the size of its append-only counter file)."""
        try:
            return self._layout.hits_path(key).stat().st_size
        except OSError:
            return 0

    def find(self, name: str, target: str | None = None) -> list[Manifest]:
        """Manifests stored under model ``name`` (for ``target``, or any), newest first.

        A name is the one a manifest was built with, or one registered in the index when a
        hit came under a new name. With a target and an index that knows the name, no scan
        is needed; otherwise every manifest is read (the index may have been deleted).
        Entries are not verified here.
        """
        return find_manifests(self, name, target)

    def names(
        self, key: str, manifest: Manifest | None = None, *, aliases: dict[str, set[str]] | None = None
    ) -> list[str]:
        """Every model name ``key`` is known by: its manifest's, then the ones a later build
        or ``webnnc compile --name`` registered for it (sorted). Bundles carry all of them.

        ``aliases`` is :meth:`aliases`' result, when the caller asks for many keys."""
        m = manifest if manifest is not None else self.manifest(key)
        first = [m.name] if m is not None and m.name else []
        registered = (aliases if aliases is not None else self.aliases()).get(key, set())
        return first + sorted(registered - set(first))

    def add_name(self, manifest: Manifest, name: str) -> None:
        """Register ``name`` for ``manifest``'s entry (``find(name)`` then returns it)."""
        if self.writable and name and HEX64.fullmatch(manifest.key):
            self._index.add_name(manifest.target, name, manifest.key)

    def aliases(self) -> dict[str, set[str]]:
        """Key -> the names registered for it in the index (advisory; maybe stale)."""
        return self._index.names_by_key()

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
        from webnnc.cache.locks import BuildLock

        return BuildLock(
            self._layout.locks / f"{key}.lock" if self.writable else None,
            timeout=self.lock_timeout,
            purpose=f"the build lock of cache key {key[:12]}…",
        )

    def _store_lock(self, *, shared: bool, timeout: float | None) -> BuildLock:
        from webnnc.cache.locks import BuildLock

        return BuildLock(
            self._layout.locks / "store.lock", timeout=timeout, shared=shared, purpose="the cache's store lock"
        )

    def put(self, manifest: Manifest, data: bytes | Mapping[str, bytes] | Staging) -> CachedArtifact | None:
        """Publish ``data`` under ``manifest.key`` atomically.

        ``data`` is the artifact's bytes, or for a multi-file artifact (``manifest.files``)
        its files by name (``model.onnx``, ``weights``) or a :meth:`staging` folder holding them.

        Returns:
            The stored artifact, or None when the folder cannot be written (the store warned).

        Raises:
            CacheError: the manifest does not describe ``data`` or its own key (a bug).
        """
        if not isinstance(data, bytes):  # files by name, or a staging() folder (published in place)
            return self._put_files(manifest, dict(data)) if isinstance(data, Mapping) else data.publish(manifest)
        if manifest.files:
            raise CacheError("a multi-file manifest needs its files by name, not one blob")
        check_manifest(manifest, manifest.key)
        try:
            verify_bytes(manifest, data)
        except CacheCorruptionError as e:
            raise CacheError(f"the manifest does not describe the artifact being stored: {e}") from None
        if not manifest.artifact_blake3:
            fast = blake3_hex(data)
            if fast is not None:  # lets every later hit verify with the faster hash
                manifest = manifest.replace(artifact_blake3=fast)
        if not self.writable:
            self._degrade(self.problem or "not writable")
            return None
        obj = self._object_path(manifest.artifact_sha256)

        def write() -> None:
            try:
                present = obj.stat().st_size == len(data)
            except FileNotFoundError:
                present = False
            if not present:
                self._atomic_write(obj, data)

        if not self._publish(manifest, write):
            return None
        return CachedArtifact(manifest, str(obj), data)

    def _put_files(self, manifest: Manifest, files: dict[str, bytes]) -> CachedArtifact | None:
        check_manifest(manifest, manifest.key)
        if not manifest.files or set(files) != set(manifest.files):
            raise CacheError(f"the files given {sorted(files)} are not the manifest's {sorted(manifest.files)}")
        facts = {name: file_facts(blob) for name, blob in files.items()}
        for name, f in facts.items():
            want = manifest.files[name]
            if (f["sha256"], f["size"]) != (want["sha256"], want["size"]):
                raise CacheError(f"the manifest does not describe the artifact being stored: {name} differs")
        # record BLAKE3 per file (lets the first use of a large file verify 4-5x faster)
        manifest = manifest.replace(files=facts)
        if tree_digest(facts) != manifest.artifact_sha256:
            raise CacheError("the files do not add up to the manifest's artifact hash")
        if not self.writable:
            self._degrade(self.problem or "not writable")
            return None
        obj = self._object_path(manifest.artifact_sha256)
        if not self._publish(manifest, lambda: write_tree(self._layout.tmp, obj, files)):
            return None
        held = {n: files[n] for n in HELD_FILES if n != GRAPH and n in files}
        return CachedArtifact(manifest, str(obj), files[GRAPH], held=held)

    def _publish(self, manifest: Manifest, write_object: Callable[[], None]) -> bool:
        """Write the object (if absent), then the manifest (the publish point); register the name."""
        from webnnc.cache.locks import LockTimeout

        try:
            with self._store_lock(shared=True, timeout=self.lock_timeout):
                write_object()
                self._atomic_write(self._entry_path(manifest.key), self._sealed(manifest))
        except LockTimeout as e:  # a stuck gc/evict elsewhere: skip storing, keep the store usable
            logger.warning("not storing %s… in the cache: %s", manifest.key[:12], e)
            return False
        except OSError as e:
            self._degrade(e)
            return False
        if manifest.name:
            self._register_name(manifest.target, manifest.name, manifest.key)
        self.evict(keep=manifest.key, wait=False)
        return True

    def put_stream(self, manifest: Manifest, src: IO[bytes] | Callable[[str], IO[bytes]]) -> bool:
        """Publish an entry read from one stream, or per file from ``src(name)`` (``_publish.py``)."""
        from webnnc.cache._publish import put_stream

        return put_stream(self, manifest, src)

    def staging(self) -> Staging:
        """A folder to write a multi-file artifact into and publish from (``_publish.py``)."""
        from webnnc.cache._publish import Staging

        return Staging(self)

    # ------------------------------------------------------------------ removal
    def _drop_bad(self, key: str, manifest: Manifest | None, text: bytes | None = None) -> None:
        """Remove a corrupt entry; remove its object too if the object itself is bad.

        With ``text`` (the manifest bytes judged corrupt), an entry that has meanwhile been
        published again with other bytes is left alone.
        """
        if self.writable:
            _maintenance().drop_bad(self._layout, key, manifest, text)
            self._index.forget(key)

    def drop(self, key: str) -> bool:
        """Remove one entry (its artifact goes too unless another entry shares it)."""
        if not self.writable:
            raise CacheError(f"cannot remove entries: {self.directory} is not writable ({self.problem})")
        with self._store_lock(shared=False, timeout=self.lock_timeout):
            return _maintenance().remove_entries(self._layout, self._index, [key]) > 0

    def volume(self) -> int:
        """Bytes of artifacts and manifests (what the size limit counts)."""
        return _maintenance().total_bytes(*self._layout.sizes())

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
        if _maintenance().total_bytes(*self._layout.sizes()) <= limit:
            return []
        lock = self._store_lock(shared=False, timeout=self.lock_timeout)
        if wait:
            lock.acquire()
        elif not lock.try_acquire():
            return []
        try:
            return _maintenance().evict_locked(self._layout, self._index, limit, keep)
        finally:
            lock.release()

    # ------------------------------------------------------------------ maintenance
    def verify(self) -> list[tuple[str, str]]:
        """Re-hash every entry and check its tag and fields; drop the bad ones.

        Returns ``[(key, problem)]`` for those."""
        return _maintenance().verify_entries(self)

    def gc(
        self,
        unusable: Callable[[Manifest], str | None] | None = None,
        *,
        dry_run: bool = False,
    ) -> GcReport:
        """Remove entries ``unusable`` gives a reason for, unreadable entries, unreferenced
        objects, leftover temp files and idle old lock files; then evict down to the limit.
        """
        if not self.writable and not dry_run:
            raise CacheError(f"cannot collect garbage: {self.directory} is not writable ({self.problem})")
        lock = self._store_lock(shared=False, timeout=self.lock_timeout)
        if not dry_run:
            lock.acquire()
        try:
            return _maintenance().collect_garbage(
                self._layout, self._index, unusable, dry_run=dry_run, size_limit=self.size_limit
            )
        finally:
            lock.release()

    def clear(self) -> int:
        """Remove every entry and artifact; returns how many entries there were."""
        if not self.writable:
            raise CacheError(f"cannot clear: {self.directory} is not writable ({self.problem})")
        with self._store_lock(shared=False, timeout=self.lock_timeout):
            count = sum(1 for _ in self.keys())
            import shutil

            layout = self._layout
            for d in (layout.entries_dir, layout.objects_dir, layout.tmp_dir, layout.names_dir):
                shutil.rmtree(d, ignore_errors=True)
                os.makedirs(d, exist_ok=True)
            self._index.clear()
        return count

    def stats(self) -> dict[str, object]:
        entries, objects = self._layout.sizes()
        return {
            "directory": str(self.directory),
            "entries": len(entries),
            "artifacts": len(objects),
            "bytes": _maintenance().total_bytes(entries, objects),
            "size_limit": self.size_limit,
            "writable": self.writable,
            "problem": self.problem,
        }

    def close(self) -> None:
        if self._index_ is not None:
            self._index_.close()

    def __enter__(self) -> ArtifactStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
