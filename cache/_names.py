"""Model names -> keys in small files, read by the hit path instead of the SQLite index.

``names/<target>/<sha256(name)[:40]>.json`` holds ``{"name": ..., "keys": [newest, ...]}``.
``runtime.load(name)`` reads this one file, then the manifest of the key it names; opening
the diskcache index instead costs 3-40 ms and imports sqlite3 and diskcache (issue 19).

# NOTE: names files are advisory, like the index: every key read here is then looked up and
# verified as any other. Two processes registering the same name at once each replace the
# file atomically, so one of the two keys may be missing from the list; ``find`` then falls
# back to the index and to scanning manifests, which still see both entries.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

from webnnc.cache._files import HEX64, Layout
from webnnc.cache._log import get_logger
from webnnc.cache.errors import CacheCorruptionError, CacheError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from webnnc.cache.manifest import Manifest
    from webnnc.cache.store import ArtifactStore

__all__ = ["add_name", "find_manifests", "read_names"]

logger = get_logger(__name__)

_KEPT = 16  # keys remembered per (target, name)
_MAX_BYTES = 1 << 16
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def read_names(layout: Layout, target: str, name: str) -> list[str]:
    """Keys stored under ``name`` for ``target``, newest first ([] when none or unreadable)."""
    try:
        fd = os.open(layout.name_file(target, name), os.O_RDONLY | _NOFOLLOW)
        try:
            text = os.read(fd, _MAX_BYTES)
        finally:
            os.close(fd)
        obj = json.loads(text)
    except (OSError, ValueError, CacheError):
        return []
    if not isinstance(obj, dict) or obj.get("name") != name or not isinstance(obj.get("keys"), list):
        return []
    return [k for k in obj["keys"] if isinstance(k, str) and HEX64.fullmatch(k)]


def add_name(layout: Layout, target: str, name: str, key: str) -> None:
    """Put ``key`` first in the list of ``name`` (best effort: a failure only logs)."""
    try:
        path = layout.name_file(target, name)
        keys = [key, *(k for k in read_names(layout, target, name) if k != key)][:_KEPT]
        layout.atomic_write(path, json.dumps({"name": name, "keys": keys}).encode())
    except (OSError, CacheError) as e:
        logger.debug("cannot record the name %r of %s…: %s", name, key[:12], e)


def _add_listed(store: ArtifactStore, keys: Iterable[str], target: str, found: dict[str, Manifest]) -> None:
    """Add to ``found`` the readable manifests of ``keys`` that are for ``target``."""
    for key in keys:
        try:
            m = store.manifest(key)
        except (CacheCorruptionError, CacheError):
            continue
        if m is not None and m.target == target:
            found[key] = m


def find_manifests(store: ArtifactStore, name: str, target: str | None) -> list[Manifest]:
    """The body of :meth:`ArtifactStore.find`: names file first, then the index, then a scan."""
    found: dict[str, Manifest] = {}
    scanned: list[Manifest] | None = None
    if target is not None and store.trusted:
        # the hit path: one small names file, then each listed manifest (no database)
        _add_listed(store, read_names(store._layout, target, name), target, found)
        if found:
            return sorted(found.values(), key=lambda m: m.created, reverse=True)
    if target is None:
        scanned = list(store.manifests())
        targets = sorted({m.target for m in scanned})
    else:
        targets = [target]
    for t in targets:
        _add_listed(store, store._index.keys_for_name(t, name), t, found)
    if not found or scanned is not None:
        for m in scanned if scanned is not None else store.manifests():
            if m.name == name and target in (None, m.target):
                found[m.key] = m
    return sorted(found.values(), key=lambda m: m.created, reverse=True)
