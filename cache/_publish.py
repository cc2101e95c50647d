"""Publishing an artifact that arrives as a stream (the remote tier's pulls), or that a
producer wrote straight into the store's staging folder (a compile's ONNX Runtime output).

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
import mmap
import os
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from webnnc.cache._derived import CachedArtifact
from webnnc.cache._files import check_manifest
from webnnc.cache._hash import blake3_hasher
from webnnc.cache._tree import _CLOEXEC, _NOFOLLOW, GRAPH, remove_object
from webnnc.cache.errors import CacheCorruptionError
from webnnc.cache.manifest import HELD_FILES, Manifest, tree_digest

if TYPE_CHECKING:
    from webnnc.cache.store import ArtifactStore

__all__ = ["STAGING_STALE_S", "STAGING_SUFFIX", "Staging", "put_stream", "stale_staging"]

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


STAGING_SUFFIX = ".staging"
STAGING_STALE_S = 3600.0  # a staging folder untouched this long belongs to a killed compile

# Below this a file is hashed inline: threads cost more than they save on a small graph.
_PARALLEL_MIN_BYTES = 1 << 20


def _hash_and_sync(path: Path) -> dict[str, Any]:
    """{"sha256", "size", "blake3"} of the staged file ``path``, which is also fsynced.

    # NOTE: one read of the bytes, three jobs side by side. sha256 and BLAKE3 run on a shared
    # read-only map of the file (no copy into the Python heap) in two threads, hashlib and
    # blake3 both release the GIL, and the fsync waits for the disk in a third. On BERT-base's
    # 435 MB of weights (2 shared cores): sha256 0.37 s, BLAKE3 0.14 s, both together 0.42 s,
    # where the copy-based store path read the file back, hashed it with sha256 twice and BLAKE3
    # once, wrote it again and fsynced it (1.1-1.9 s of store + 0.3 s of sha256 in the driver).
    """
    fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _CLOEXEC)
    try:
        os.fchmod(fd, 0o600)  # as put() writes them (the producer's umask may be wider)
        size = os.fstat(fd).st_size
        fast = blake3_hasher()
        if size < _PARALLEL_MIN_BYTES:
            data = os.pread(fd, size, 0) if size else b""
            if fast is not None:
                fast.update(data)
            os.fsync(fd)
            return {"sha256": hashlib.sha256(data).hexdigest(), "size": size,
                    "blake3": fast.hexdigest() if fast is not None else ""}
        with mmap.mmap(fd, size, access=mmap.ACCESS_READ) as mapped, ThreadPoolExecutor(2) as pool:
            view = memoryview(mapped)
            try:
                synced = pool.submit(os.fsync, fd)
                b3 = pool.submit(lambda: fast.update(view).hexdigest() if fast is not None else "")
                sha = hashlib.sha256(view).hexdigest()
                facts = {"sha256": sha, "size": size, "blake3": b3.result()}
                synced.result()
            finally:
                view.release()
        return facts
    finally:
        os.close(fd)


class Staging:
    """A private folder in the store's staging area that a producer writes an artifact's
    files into (ONNX Runtime saves ``model.onnx`` and ``weights`` there), then publishes with
    the same atomic rename and locks as ``put``, without copying or re-reading the bytes.

    Use as a context manager: the folder is removed on exit unless it was published.
    """

    def __init__(self, store: ArtifactStore) -> None:
        self._store = store
        layout = store._layout
        layout.tmp.mkdir(mode=0o700, parents=True, exist_ok=True)
        # not "*.d"/"*.tmp": eviction removes those as debris of killed publishers, while a
        # staging folder is filled outside the store lock (``gc`` removes it once stale)
        self.path = layout.tmp / f"{os.getpid()}.{uuid.uuid4().hex[:12]}{STAGING_SUFFIX}"
        self.path.mkdir(mode=0o700)
        self._facts: dict[str, dict[str, Any]] | None = None

    def __enter__(self) -> Staging:
        return self

    def __exit__(self, *exc: object) -> None:
        remove_object(self.path)

    def file_facts(self) -> dict[str, dict[str, Any]]:
        """{name: {"sha256", "size", "blake3"}} of every staged file (each also fsynced);
        computed once, here, by the store: what :meth:`publish` trusts."""
        if self._facts is None:
            names = sorted(p.name for p in self.path.iterdir())
            self._facts = {name: _hash_and_sync(self.path / name) for name in names}
        return self._facts

    def read(self) -> dict[str, bytes]:
        """The staged files' bytes (for running from memory when publishing fails)."""
        return {name: (self.path / name).read_bytes() for name in self.file_facts()}

    def publish(self, manifest: Manifest) -> CachedArtifact | None:
        """Publish the staged files as ``manifest``'s artifact; None when nothing was stored
        (the store has then warned once and turned read-only).

        Raises:
            CacheCorruptionError: ``manifest`` does not describe the staged files (a bug).
        """
        store = self._store
        check_manifest(manifest, manifest.key)
        facts = self.file_facts()
        if manifest.files != facts or tree_digest(facts) != manifest.artifact_sha256:
            raise CacheCorruptionError(
                f"the manifest of {manifest.key[:12]}… does not describe the staged files {sorted(facts)}"
            )
        if store.writable:
            store._auth_key()  # may find the user's key unusable: then nothing is stored
        if not store.writable:
            store._degrade(store.problem or "not writable")
            return None
        obj = store._layout.object_path(manifest.artifact_sha256)

        def move_staged() -> None:
            obj.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            try:
                os.rename(self.path, obj)
            except OSError:
                if not obj.is_dir():
                    raise
                # content-addressed: a folder already there is the same bytes; ours is removed on exit
                logger.debug("object %s… was published concurrently; keeping that one", obj.name[:12])

        if not store._publish(manifest, move_staged):
            return None
        graph = (obj / GRAPH).read_bytes()
        held = {n: (obj / n).read_bytes() for n in HELD_FILES if n != GRAPH and n in manifest.files}
        return CachedArtifact(manifest, str(obj), graph, held=held)


def stale_staging(path: Path, now: float | None = None) -> bool:
    """Whether ``path`` (in the store's ``tmp/``) is debris ``gc`` may remove: anything but a
    staging folder, or one that nothing has written to for :data:`STAGING_STALE_S`."""
    if not path.name.endswith(STAGING_SUFFIX):
        return True
    try:
        newest = max([path.lstat().st_mtime, *(p.lstat().st_mtime for p in path.iterdir())])
    except OSError:
        return True
    return (now if now is not None else time.time()) - newest > STAGING_STALE_S
