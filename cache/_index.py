"""The store's advisory index on diskcache: model names -> keys, and hit counts.

# NOTE: the index is never trusted for correctness. Every entry's truth is its manifest file
# and its content-addressed artifact file, both verified on every read; the index only
# speeds up name lookups and counts hits. So any index failure (locked, damaged, deleted,
# read-only, tampered) degrades to "no index": names are then found by scanning manifests.
# Only a damaged database (SQLite says CORRUPT or NOTADB) is moved aside and a fresh one
# rebuilt from the manifests; a full disk, an I/O error, a read-only file or a lock make the
# index "unavailable" for the process (one warning), and the healthy file is left alone.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import diskcache

from webnnc.cache.errors import CacheCorruptionError, CacheError

__all__ = ["Index", "SafeDisk"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_NAMES_KEPT = 16  # keys remembered per (target, name), newest last
_BUILT = "meta/built"
# Errors that mean "the index is unusable right now", as opposed to programming errors.
_INDEX_ERRORS = (sqlite3.Error, diskcache.Timeout, OSError, CacheError, TypeError, ValueError)
# SQLite's primary result codes that mean the file itself is damaged (sqlite3.h)
_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26


def is_corruption(error: sqlite3.DatabaseError) -> bool:
    """Whether SQLite reports the database file as damaged (not full, busy, read-only or I/O)."""
    code = getattr(error, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    # errors raised without a code (by Python's sqlite3 itself): judge by SQLite's wording
    text = str(error).lower()
    return "malformed" in text or "not a database" in text or "corrupt" in text


class SafeDisk(diskcache.Disk):
    """A diskcache ``Disk`` that stores and returns only str keys and str/bytes/int values.

    diskcache pickles anything else and unpickles on read, so a tampered index row could run
    code. This Disk refuses to write pickles and refuses to read them.
    """

    def put(self, key: Any) -> tuple[Any, bool]:
        if type(key) is not str:
            raise CacheError(f"cache index keys must be str; found {type(key).__name__}")
        return super().put(key)  # type: ignore[no-any-return]

    def get(self, key: Any, raw: bool) -> Any:
        if not raw:
            raise CacheCorruptionError("refusing to unpickle an index key (the row was tampered with)")
        return super().get(key, raw)

    def store(self, value: Any, read: bool, key: Any = diskcache.core.UNKNOWN) -> Any:
        if not (read or type(value) in (str, bytes, int)):
            raise CacheError(f"cache index values must be str, bytes or int; found {type(value).__name__}")
        return super().store(value, read, key=key)

    def fetch(self, mode: int, filename: Any, value: Any, read: bool) -> Any:
        if mode == diskcache.core.MODE_PICKLE:
            raise CacheCorruptionError("refusing to unpickle an index value (the row was tampered with)")
        return super().fetch(mode, filename, value, read)


class Index:
    """Names and hit counts in a diskcache under ``directory``; every method is best-effort.

    Args:
        directory: the index folder (``<cache>/index``).
        writable: False leaves the index unused (a read-only cache folder: SQLite in WAL
            mode cannot even read there); names are then found by scanning manifests.
        rebuild: called with no argument when a fresh index is created; returns
            ``(target, name, key, created)`` rows to register.
    """

    def __init__(
        self,
        directory: Path,
        *,
        writable: bool,
        rebuild: Callable[[], Iterable[tuple[str, str, str, float]]],
    ) -> None:
        self.directory = directory
        self.writable = writable
        self._rebuild = rebuild
        self._cache: diskcache.Cache | None = None
        self._disabled = False
        self._reset_done = False
        self._warned = False

    # ------------------------------------------------------------------ open / reset
    def _open(self) -> diskcache.Cache | None:
        if self._cache is not None or self._disabled:
            return self._cache
        if not self.writable:
            # SQLite in WAL mode must write even to read (the -shm file); on a read-only
            # folder the index is simply not used and names are found by scanning manifests.
            self._disabled = True
            return None
        try:
            self._cache = self._new_cache()
        except sqlite3.DatabaseError as e:
            self._failed(e)
        except _INDEX_ERRORS as e:
            logger.debug("cache index %s unavailable (%s); scanning manifests instead", self.directory, e)
            self._disabled = True
        return self._cache

    def _new_cache(self) -> diskcache.Cache:
        # diskcache's own eviction is off (cull_limit=0, no size limit): the store evicts
        # whole entries itself; diskcache culling rows one by one would drop names at random.
        cache = diskcache.Cache(
            str(self.directory),
            disk=SafeDisk,
            size_limit=2**62,
            cull_limit=0,
            eviction_policy="none",
            timeout=5,
        )
        if self.writable and cache.get(_BUILT) is None:
            # a fresh (or deleted and re-created) index: rebuild names from the manifests
            for target, name, key, _created in sorted(self._rebuild(), key=lambda r: r[3]):
                self._add_name(cache, target, name, key)
            cache.set(_BUILT, str(time.time()))
        return cache

    def _failed(self, error: sqlite3.DatabaseError) -> None:
        """A database error: quarantine a damaged file; anything else disables the index."""
        if is_corruption(error):
            self._quarantine(error)
            return
        cache, self._cache, self._disabled = self._cache, None, True
        if cache is not None:
            with contextlib.suppress(*_INDEX_ERRORS):
                cache.close()
        if not self._warned:
            self._warned = True
            logger.warning("cache index %s unavailable (%s); continuing without it for this process",
                           self.directory / "cache.db", error)

    def _quarantine(self, error: BaseException) -> None:
        """Move a damaged database aside and start a fresh one (once per process)."""
        self._cache = None
        if self._reset_done or not self.writable:
            self._disabled = True
            return
        self._reset_done = True
        logger.warning(
            "cache index %s is damaged (%s); moving it aside and rebuilding it from the manifests",
            self.directory / "cache.db",
            error,
        )
        stamp = time.strftime("%Y%m%dT%H%M%S")
        try:
            for suffix in ("", "-wal", "-shm"):
                p = self.directory / f"cache.db{suffix}"
                if p.exists():
                    p.replace(self.directory / f"cache.db{suffix}.damaged-{stamp}")
            self._cache = self._new_cache()
        except _INDEX_ERRORS as e:
            logger.debug("could not rebuild the cache index (%s); continuing without it", e)
            self._disabled = True

    def _call(self, fn: Callable[[diskcache.Cache], T], default: T) -> T:
        cache = self._open()
        if cache is None:
            return default
        try:
            return fn(cache)
        except sqlite3.DatabaseError as e:
            self._failed(e)
        except _INDEX_ERRORS as e:
            logger.debug("cache index operation failed (%s); ignoring it", e)
        return default

    # ------------------------------------------------------------------ names
    @staticmethod
    def _add_name(cache: diskcache.Cache, target: str, name: str, key: str) -> None:
        row = f"n/{target}/{name}"
        with cache.transact(retry=True):
            keys = _key_list(cache.get(row, retry=True))
            keys = [k for k in keys if k != key] + [key]
            cache.set(row, json.dumps(keys[-_NAMES_KEPT:]), retry=True)

    def add_name(self, target: str, name: str, key: str) -> None:
        if self.writable:
            self._call(lambda c: self._add_name(c, target, name, key), None)

    def keys_for_name(self, target: str, name: str) -> list[str]:
        """Keys registered under ``name`` for ``target``, newest first (maybe stale)."""
        value = self._call(lambda c: c.get(f"n/{target}/{name}", retry=True), None)
        return list(reversed(_key_list(value)))

    def names_by_key(self) -> dict[str, set[str]]:
        """Every key -> the names registered for it (any target; maybe stale)."""

        def scan(cache: diskcache.Cache) -> dict[str, set[str]]:
            out: dict[str, set[str]] = {}
            for row in cache.iterkeys():
                if isinstance(row, str) and row.startswith("n/"):
                    name = row.split("/", 2)[2] if row.count("/") >= 2 else ""
                    for key in _key_list(cache.get(row, retry=True)):
                        out.setdefault(key, set()).add(name)
            return out

        return self._call(scan, {})

    # ------------------------------------------------------------------ hits
    def record_hit(self, key: str) -> None:
        if self.writable:
            self._call(lambda c: c.incr(f"h/{key}", retry=False), None)

    def hits(self, key: str) -> int:
        value = self._call(lambda c: c.get(f"h/{key}", retry=True), None)
        return value if type(value) is int else 0

    def forget(self, key: str) -> None:
        if self.writable:
            self._call(lambda c: c.delete(f"h/{key}", retry=True), None)

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
            self._cache = None

    def clear(self) -> None:
        if self.writable:
            self._call(lambda c: c.clear(retry=True), 0)
            self._call(lambda c: c.set(_BUILT, str(time.time()), retry=True), None)


def _key_list(value: Any) -> list[str]:
    if not isinstance(value, str):
        return []
    try:
        obj = json.loads(value)
    except ValueError:
        return []
    return [k for k in obj if isinstance(k, str)] if isinstance(obj, list) else []
