"""The store's removals: size accounting, least-recently-used eviction and garbage collection.

Every function here deletes files, so every one is called with ``locks/store.lock`` held
exclusive (the facade in ``store.py`` takes it; see its NOTE on eviction and entries in use),
except :func:`collect_garbage` with ``dry_run``, which only reads.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from webnnc.cache._files import Layout, check_manifest, read_bounded
from webnnc.cache._tree import remove_object
from webnnc.cache.errors import CacheCorruptionError
from webnnc.cache.locks import BuildLock
from webnnc.cache.manifest import Manifest

if TYPE_CHECKING:
    from webnnc.cache._index import Index
    from webnnc.cache.store import ArtifactStore

__all__ = ["GcReport", "collect_garbage", "evict_locked", "remove_entries", "drop_bad", "total_bytes", "verify_entries"]

logger = logging.getLogger(__name__)

_OLD_S = 24 * 3600  # gc removes idle lock files older than this


@dataclass
class GcReport:
    """What ``gc`` removed (or would remove, with ``dry_run``)."""

    entries: list[tuple[str, str]] = field(default_factory=list)  # (key, reason)
    orphan_objects: int = 0
    tmp_files: int = 0
    lock_files: int = 0
    evicted: list[str] = field(default_factory=list)
    freed_bytes: int = 0


def total_bytes(entries: dict[str, tuple[float, int]], objects: dict[str, int]) -> int:
    """Bytes of manifests and artifacts (what the size limit counts), from :meth:`Layout.sizes`."""
    return sum(s for _, s in entries.values()) + sum(objects.values())


def remove_entries(layout: Layout, index: Index, keys: list[str]) -> int:
    """Remove entries and the objects no remaining entry references."""
    gone = set(keys)
    shas: set[str] = set()
    removed = 0
    for key in gone:
        path = layout.entry_path(key)
        with contextlib.suppress(OSError, CacheCorruptionError):
            shas.add(Manifest.from_json(read_bounded(path)).artifact_sha256)
        if not layout.remove_entry(key):
            continue
        removed += 1
        index.forget(key)
    still: set[str] = set()
    for key in layout.scan_keys():
        with contextlib.suppress(CacheCorruptionError):
            m = layout.read_manifest(key)
            if m is not None:
                still.add(m.artifact_sha256)
    for sha in shas - still:
        with contextlib.suppress(OSError, CacheCorruptionError):
            layout.remove_object(sha)
    return removed


def evict_locked(layout: Layout, index: Index, limit: int, keep: str | None) -> list[str]:
    """Remove least-recently-used entries (oldest manifest mtime first) until under ``limit``."""
    # Under the exclusive store lock no publisher is mid-write: temp files are debris of
    # killed publishers, and can be large (a whole artifact).
    for f in [*layout.tmp.glob("*.tmp"), *layout.tmp.glob("*.d")]:
        remove_object(f)
    entries, objects = layout.sizes()
    total = total_bytes(entries, objects)
    refs: Counter[str] = Counter()
    sha_of: dict[str, str] = {}
    for key in entries:
        try:
            m = layout.read_manifest(key)
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
            if not layout.remove_entry(key):
                continue
        except OSError:
            continue
        index.forget(key)
        evicted.append(key)
        total -= size
        sha = sha_of.get(key)
        if sha is not None:
            refs[sha] -= 1
            if refs[sha] == 0 and sha in objects:
                try:
                    layout.remove_object(sha)
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
            layout.directory,
            total / 2**20,
            limit / 2**20,
        )
    return evicted


def collect_garbage(
    layout: Layout,
    index: Index,
    unusable: Callable[[Manifest], str | None] | None,
    *,
    dry_run: bool,
    size_limit: int,
) -> GcReport:
    """The body of :meth:`ArtifactStore.gc` (store lock held exclusive unless ``dry_run``)."""
    report = GcReport()
    doomed: list[str] = []
    live: set[str] = set()
    for key in list(layout.scan_keys()):
        path = layout.entry_path(key)
        try:
            m = Manifest.from_json(read_bounded(path))
            check_manifest(m, key)
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
    _, objects = layout.sizes()
    orphans = [sha for sha in objects if sha not in live]
    report.orphan_objects = len(orphans)
    report.freed_bytes += sum(objects[s] for s in orphans)
    from webnnc.cache._publish import stale_staging

    # staged files and folders (a compile's staging folder only once stale: it fills it unlocked)
    tmp_files = [f for f in layout.tmp.glob("*") if stale_staging(f)] if layout.tmp.is_dir() else []
    report.tmp_files = len(tmp_files)
    if dry_run:
        return report
    for key in doomed:
        layout.remove_entry(key)
        index.forget(key)
    for sha in orphans:
        layout.remove_object(sha)
    # Under the exclusive store lock no publisher is mid-write: every tmp file is debris.
    for f in tmp_files:
        remove_object(f)
    report.lock_files = _remove_idle_locks(layout)
    report.evicted = evict_locked(layout, index, size_limit, None)
    return report


def _remove_idle_locks(layout: Layout) -> int:
    removed = 0
    now = time.time()
    for f in layout.locks.glob("*.lock"):
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


def verify_entries(store: ArtifactStore) -> list[tuple[str, str]]:
    """The body of :meth:`ArtifactStore.verify`: every entry's fields, tag and bytes.

    Every file is re-hashed (fingerprints ignored and renewed); an entry whose manifest is
    malformed, whose tag does not verify, or whose bytes differ is dropped.
    """
    from webnnc.cache._auth import check_tag
    from webnnc.cache._files import verify_bytes
    from webnnc.cache._tree import verify_tree
    from webnnc.cache.signing import SignatureError

    auth = store._auth_key()
    if auth is None:
        return [("-", f"cannot verify: {store.problem}")]
    bad: list[tuple[str, str]] = []
    for key in list(store.keys()):
        path = store._entry_path(key)
        manifest: Manifest | None = None
        try:
            obj = Manifest.parse(read_bounded(path))
            manifest = Manifest.from_obj(obj)
            check_manifest(manifest, key)
            check_tag(manifest, obj, auth)
            obj_path = store._object_path(manifest.artifact_sha256)
            if not obj_path.exists():
                raise CacheCorruptionError("the artifact file is missing")
            if manifest.files:
                verify_tree(obj_path, manifest, stage_root=store._layout.tmp_dir if store.writable else None, thorough=True)
            else:
                verify_bytes(manifest, obj_path.read_bytes(), thorough=True)
        except FileNotFoundError:
            continue  # removed concurrently
        except SignatureError as e:
            bad.append((key, f"not authenticated: {e}"))
            store._drop_bad(key, manifest)
        except (CacheCorruptionError, OSError) as e:
            bad.append((key, str(e)))
            store._drop_bad(key, manifest)
    return bad


def drop_bad(layout: Layout, key: str, manifest: Manifest | None, text: bytes | None) -> None:
    """The body of :meth:`ArtifactStore._drop_bad` (the caller forgets the key in the index)."""
    from webnnc.cache._files import HEX64, read_or_none, sha256_file
    from webnnc.cache._tree import verify_tree

    try:
        entry = layout.entry_path(key)
        if text is None or read_or_none(entry) == text:
            layout.remove_entry(key)
        if manifest is not None and HEX64.fullmatch(manifest.artifact_sha256):
            obj = layout.object_path(manifest.artifact_sha256)
            if manifest.files:
                try:
                    check_manifest(manifest, manifest.key)
                except CacheCorruptionError:
                    pass  # a malformed file list judges nothing; gc removes the orphan
                else:
                    try:
                        verify_tree(obj, manifest, stage_root=None, thorough=True)
                    except (CacheCorruptionError, FileNotFoundError):
                        layout.remove_object(manifest.artifact_sha256)
            elif obj.exists() and sha256_file(obj) != (manifest.artifact_sha256, manifest.artifact_size):
                obj.unlink(missing_ok=True)
    except OSError as e:
        logger.debug("could not remove the corrupt entry %s…: %s", key[:12], e)
