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
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING

from webnnc.cache._files import check_manifest
from webnnc.cache._hash import blake3_hasher
from webnnc.cache._tree import _CLOEXEC, _NOFOLLOW, remove_object
from webnnc.cache.errors import CacheCorruptionError
from webnnc.cache.manifest import Manifest, tree_digest

if TYPE_CHECKING:
    from webnnc.cache.store import ArtifactStore

__all__ = ["put_stream"]

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20  # 1 MiB: large enough that hashing, not the loop, dominates


def _stage(dest: Path, src: IO[bytes], size: int, sha256: str, blake3: str, what: str) -> None:
    """Copy ``src`` to the new private file ``dest`` in chunks, hashing as it goes; fsync.

    Raises:
        CacheCorruptionError: the bytes are longer, shorter or other than ``size`` / the hashes.
    """
    fast = blake3_hasher() if blake3 else None
    sha, got = hashlib.sha256(), 0
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as out:
        while chunk := src.read(_CHUNK):
            got += len(chunk)
            if got > size:
                break
            sha.update(chunk)
            if fast is not None:
                fast.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    if got != size:
        raise CacheCorruptionError(f"{what} is {'longer' if got > size else got} B, the manifest says {size} B")
    if sha.hexdigest() != sha256 or (fast is not None and fast.hexdigest() != blake3):
        raise CacheCorruptionError(f"{what} does not match its manifest's hashes")


def put_stream(
    store: ArtifactStore, manifest: Manifest, src: IO[bytes] | Callable[[str], IO[bytes]]
) -> bool:
    """Publish ``manifest`` with its artifact read from streams; False when nothing can be stored.

    ``src`` is the artifact's one stream, or for a multi-file artifact (``manifest.files``) a
    function that opens the stream of each file by name.

    Raises:
        CacheCorruptionError: the bytes do not match the manifest (nothing is published).
    """
    check_manifest(manifest, manifest.key)
    if store.writable:
        store._auth_key()  # may find the user's key unusable: then nothing is stored
    if not store.writable:
        store._degrade(store.problem or "not writable")
        return False
    layout = store._layout
    staged = layout.tmp / f"{manifest.artifact_sha256}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    t0 = time.perf_counter()
    what = f"the artifact of {manifest.key[:12]}…"

    def move_staged() -> None:
        obj = layout.object_path(manifest.artifact_sha256)
        obj.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not obj.exists():  # content-addressed: an object already there is the same bytes
            os.replace(staged, obj)

    try:
        try:
            layout.tmp.mkdir(mode=0o700, parents=True, exist_ok=True)
            if manifest.files:
                if not callable(src):
                    raise CacheCorruptionError(f"{what} has several files; one stream was given")
                if tree_digest(manifest.files) != manifest.artifact_sha256:
                    raise CacheCorruptionError(f"{what}: the files do not add up to the artifact hash")
                staged.mkdir(mode=0o700)
                for name, facts in sorted(manifest.files.items()):
                    with src(name) as f:
                        _stage(staged / name, f, int(facts["size"]), str(facts["sha256"]),
                               str(facts.get("blake3") or ""), f"{what} ({name})")
            else:
                if callable(src):
                    raise CacheCorruptionError(f"{what} is one file; a function of names was given")
                _stage(staged, src, manifest.artifact_size, manifest.artifact_sha256,
                       manifest.artifact_blake3 or "", what)
        except OSError as e:
            store._degrade(e)
            return False
        # the same publish step as put(): object, then the tagged manifest, name, eviction
        published = store._publish(manifest, move_staged)
    finally:
        remove_object(staged)
    logger.debug("published %s… from streams in %.0f ms", manifest.key[:12], (time.perf_counter() - t0) * 1e3)
    return published
