"""Publishing an artifact that arrives as a stream (the remote tier's pulls).

``ArtifactStore.put`` takes the artifact as bytes; a pulled artifact can be hundreds of MB,
and holding it in memory would make a pull cost its size in RSS. :func:`put_stream` copies
it into the store's staging folder in 1 MiB chunks, hashing as it goes, and publishes it
with the same atomic renames and locks as ``put``: the object first, then the manifest.

# NOTE: the bytes are verified before anything becomes visible: a stream that is longer,
# shorter or different from what the manifest says leaves only a staging file, removed
# here (or by ``gc`` after a crash).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import uuid
from typing import IO, TYPE_CHECKING

from webnnc.cache._files import check_manifest
from webnnc.cache._hash import blake3_hasher
from webnnc.cache.errors import CacheCorruptionError
from webnnc.cache.locks import LockTimeout
from webnnc.cache.manifest import Manifest

if TYPE_CHECKING:
    from webnnc.cache.store import ArtifactStore

__all__ = ["put_stream"]

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20  # 1 MiB: large enough that hashing, not the loop, dominates


def put_stream(store: ArtifactStore, manifest: Manifest, src: IO[bytes]) -> bool:
    """Publish ``manifest`` with its artifact read from ``src``; False when nothing can be stored.

    Raises:
        CacheCorruptionError: the bytes do not match the manifest (nothing is published).
    """
    check_manifest(manifest, manifest.key)
    if not store.writable:
        store._degrade(store.problem or "not writable")
        return False
    layout = store._layout
    fast = blake3_hasher() if manifest.artifact_blake3 else None
    sha, size = hashlib.sha256(), 0
    staged = layout.tmp / f"{manifest.artifact_sha256}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    t0 = time.perf_counter()
    try:
        layout.tmp.mkdir(parents=True, exist_ok=True)
        with open(staged, "wb") as out:
            while chunk := src.read(_CHUNK):
                size += len(chunk)
                if size > manifest.artifact_size:
                    break
                sha.update(chunk)
                if fast is not None:
                    fast.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if size != manifest.artifact_size:
            raise CacheCorruptionError(
                f"the artifact of {manifest.key[:12]}… is {'longer' if size > manifest.artifact_size else size} "
                f"B, the manifest says {manifest.artifact_size} B"
            )
        if sha.hexdigest() != manifest.artifact_sha256 or (
            fast is not None and fast.hexdigest() != manifest.artifact_blake3
        ):
            raise CacheCorruptionError(f"the artifact of {manifest.key[:12]}… does not match its manifest's hashes")
        with store._store_lock(shared=True, timeout=store.lock_timeout):
            obj = layout.object_path(manifest.artifact_sha256)
            obj.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, obj)
            layout.atomic_write(layout.entry_path(manifest.key), manifest.to_json().encode())
    except LockTimeout as e:
        logger.warning("not storing %s… in the cache: %s", manifest.key[:12], e)
        return False
    except OSError as e:
        store._degrade(e)
        return False
    finally:
        staged.unlink(missing_ok=True)
    logger.debug("published %s… from a stream (%d B) in %.0f ms", manifest.key[:12], size, (time.perf_counter() - t0) * 1e3)
    if manifest.name:
        store._index.add_name(manifest.target, manifest.name, manifest.key)
    store.evict(keep=manifest.key, wait=False)
    return True
