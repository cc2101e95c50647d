"""Multi-file artifacts: a folder per object, written atomically, verified once, then trusted
by a recorded file fingerprint while nothing has changed.

An ONNX artifact is ``objects/<sha[:2]>/<sha>/`` holding ``model.onnx`` (the graph, small)
and ``weights`` (its external initializers, the bulk), where ``<sha>`` is
:func:`webnnc.cache.manifest.tree_digest` of the files' hashes. ONNX Runtime memory-maps
``weights`` instead of copying it through Python and protobuf (see cache/CACHE.md, "Cost of
a hit").

# NOTE: what a hit verifies, and why that is enough. The graph is read into memory with
# O_NOFOLLOW and hashed on every hit (sha256 of ~0.1-1 MB: well under a millisecond), and
# those very bytes go to ONNX Runtime, so the graph that runs is the graph that was hashed.
# The weights are hashed in full on first use (streamed in 1 MiB chunks; never whole in the
# Python heap); afterwards a hit compares the file's (size, mtime_ns, ctime_ns, inode,
# device) with the fingerprint recorded when it last verified, as git and ccache do. Any
# write to the file changes its ctime (the kernel sets it; utime cannot set it back), so an
# edited weights file is caught and hashed again. A fingerprint is recorded only for a file
# whose ctime is at least ``_RACY_S`` old, so an edit within the clock tick of a
# verification cannot share its timestamps (git's "racily clean" rule). What a fingerprint
# does not catch is a change below the file system (bit rot, a raw block-device write); that
# is outside the threat model (CACHE.md) and ``webnnc cache verify`` re-hashes everything.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from webnnc.cache._hash import sha256_hasher, sha256_hex
from webnnc.cache._log import get_logger
from webnnc.cache.errors import CacheCorruptionError
from webnnc.cache.manifest import ENTRY_FILES, HELD_FILES, Manifest

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "FINGERPRINT",
    "GRAPH",
    "file_facts",
    "hash_file",
    "read_private",
    "remove_object",
    "verify_tree",
    "write_tree",
]

logger = get_logger(__name__)

GRAPH = "model.onnx"
FINGERPRINT = ".verified"  # inside the object folder: the fingerprints of its verified files
_CHUNK = 1 << 20
_RACY_S = 2.0  # a file changed less than this long ago is not fingerprinted (coarse clocks)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def file_facts(data: bytes) -> dict[str, Any]:
    """{"sha256", "size", "blake3"} of one file's bytes (blake3 "" when not installed)."""
    from webnnc.cache._hash import blake3_hex

    return {"sha256": sha256_hex(data), "size": len(data), "blake3": blake3_hex(data) or ""}


def read_private(path: str | os.PathLike[str]) -> tuple[bytes, os.stat_result]:
    """A regular file's bytes and stat, opened without following a symlink.

    Raises:
        CacheCorruptionError: the path is a link or not a regular file.
        FileNotFoundError: it does not exist.
    """
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _CLOEXEC)
    except OSError as e:
        if e.errno == 40:  # ELOOP: a symlink where a file belongs
            raise CacheCorruptionError(f"{os.path.basename(path)} is a symbolic link") from None
        raise
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise CacheCorruptionError(f"{os.path.basename(path)} is not a regular file")
        return f.read(), st


def hash_file(path: str | os.PathLike[str], *, sha256: bool, blake3: bool) -> tuple[str, str, int, os.stat_result]:
    """(sha256 hex or "", blake3 hex or "", size, stat) of a file, streamed, never following links."""
    fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _CLOEXEC)
    with os.fdopen(fd, "rb", buffering=0) as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise CacheCorruptionError(f"{os.path.basename(path)} is not a regular file")
        h2 = sha256_hasher() if sha256 else None
        h3 = None
        if blake3:
            from webnnc.cache._hash import content_hasher

            name, h = content_hasher()
            h3 = h if name == "blake3" else None
        buf = bytearray(_CHUNK)
        view = memoryview(buf)
        size = 0
        while n := f.readinto(buf):  # type: ignore[attr-defined]
            chunk = view[:n]
            if h2 is not None:
                h2.update(chunk)
            if h3 is not None:
                h3.update(chunk)
            size += n
    return (h2.hexdigest() if h2 else ""), (h3.hexdigest() if h3 else ""), size, st


def _print(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]


def write_tree(stage_root: Path, dest: Path, files: Mapping[str, bytes]) -> None:
    """Publish ``files`` as the folder ``dest``: staged under ``stage_root``, fsynced, renamed.

    A folder already at ``dest`` (another process published the same content) is kept.
    """
    dest.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    stage_root.mkdir(mode=0o700, parents=True, exist_ok=True)
    stage = stage_root / f"{dest.name}.{os.getpid()}.{os.urandom(4).hex()}.d"
    stage.mkdir(mode=0o700)
    try:
        for name, data in files.items():
            fd = os.open(stage / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        try:
            os.rename(stage, dest)
        except OSError as e:
            if not dest.is_dir():
                raise
            logger.debug("object %s… was published concurrently (%s); keeping that one", dest.name[:12], e)
    finally:
        if stage.exists():
            import shutil

            shutil.rmtree(stage, ignore_errors=True)


def remove_object(path: Path) -> None:
    """Remove an object: a file, or a folder (never following a link out of the cache)."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        import shutil

        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _load_record(folder: str, manifest: Manifest) -> dict[str, Any]:
    try:
        data, _ = read_private(os.path.join(folder, FINGERPRINT))
        obj = json.loads(data)
    except (OSError, ValueError, CacheCorruptionError):
        return {}
    if not isinstance(obj, dict) or obj.get("tree") != manifest.artifact_sha256:
        return {}
    files = obj.get("files")
    return files if isinstance(files, dict) else {}


def _save_record(folder: str, manifest: Manifest, prints: dict[str, list[int]], stage_root: str) -> None:
    text = json.dumps({"tree": manifest.artifact_sha256, "files": prints}, separators=(",", ":")).encode()
    tmp = os.path.join(stage_root, f"{FINGERPRINT[1:]}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(text)
        os.replace(tmp, os.path.join(folder, FINGERPRINT))
    except OSError as e:  # a fingerprint only saves time: the next hit hashes again
        logger.debug("cannot record the fingerprint of %s (%s)", folder, e)
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def verify_tree(
    folder: str | os.PathLike[str],
    manifest: Manifest,
    *,
    stage_root: str | os.PathLike[str] | None,
    thorough: bool = False,
    held: dict[str, bytes] | None = None,
) -> tuple[bytes, bool]:
    """Check the object folder of a multi-file ``manifest``; return (the graph's bytes, hashed).

    The held files (``HELD_FILES``: the graph, a kernel library) are read whole and hashed
    every time; the other files are hashed unless their recorded fingerprint still matches
    (never with ``thorough``, which also checks both hashes). ``hashed`` says whether any
    large file was hashed (for timings). With ``stage_root`` (a writable cache), fresh
    fingerprints are recorded. ``held`` receives the verified bytes of the held files other
    than the graph, for their consumer to use instead of reopening them by path.

    Raises:
        CacheCorruptionError: a file is missing, a link, of the wrong size or content.
        FileNotFoundError: the folder itself is gone (evicted while being read).
    """
    folder = os.fspath(folder)
    st = os.lstat(folder)
    if not stat.S_ISDIR(st.st_mode):
        raise CacheCorruptionError("the artifact folder is not a folder")
    record = {} if thorough else _load_record(folder, manifest)
    prints: dict[str, list[int]] = {}
    graph = b""
    hashed = False
    now = time.time()
    for name in ENTRY_FILES:
        facts = manifest.files.get(name)
        if facts is None:
            continue
        path = os.path.join(folder, name)
        try:
            if name in HELD_FILES:
                blob, fst = read_private(path)
                if len(blob) != facts["size"] or sha256_hex(blob) != facts["sha256"]:
                    raise CacheCorruptionError(f"{name} does not match its hash in the manifest")
                if thorough:
                    fast = file_facts(blob)["blake3"]
                    if fast and facts.get("blake3") and fast != facts["blake3"]:
                        raise CacheCorruptionError(f"{name} does not match its BLAKE3 hash in the manifest")
                if name == GRAPH:
                    graph = blob
                elif held is not None:
                    held[name] = blob
                continue
            lst = os.lstat(path)
            if stat.S_ISLNK(lst.st_mode) or not stat.S_ISREG(lst.st_mode):
                raise CacheCorruptionError(f"{name} is not a regular file")
            if lst.st_size != facts["size"]:
                raise CacheCorruptionError(f"{name} is {lst.st_size} B, the manifest says {facts['size']} B (truncated?)")
            if record.get(name) == _print(lst):
                continue
            use_b3 = bool(facts.get("blake3")) and not thorough
            sha, b3, size, fst = hash_file(path, sha256=thorough or not use_b3, blake3=use_b3 or thorough)
            hashed = True
            if use_b3 and not b3:  # blake3 not installed here: sha256 decides
                sha, _, size, fst = hash_file(path, sha256=True, blake3=False)
            if size != facts["size"] or (sha and sha != facts["sha256"]) or (b3 and facts.get("blake3") and b3 != facts["blake3"]):
                raise CacheCorruptionError(f"{name} does not match its hash in the manifest (edited or corrupt)")
            if now - fst.st_ctime_ns / 1e9 >= _RACY_S:
                prints[name] = _print(fst)
        except FileNotFoundError:
            if not os.path.exists(folder):
                raise
            raise CacheCorruptionError(f"{name} is missing from the artifact folder") from None
    if prints and stage_root is not None:
        _save_record(folder, manifest, {**{k: v for k, v in record.items() if k not in prints}, **prints}, os.fspath(stage_root))
    return graph, hashed
