"""The webnnc archive format: a folder packed into deterministic bytes, and unpacked safely.

Some artifacts are folders (CoreML's ``.mlpackage`` and compiled ``.mlmodelc``), but the
cache stores bytes named by their sha256. This module is the one definition of how a folder
becomes those bytes and back; the CoreML emitter packs with it and the runtime unpacks with
it (through :meth:`webnnc.cache.store.ArtifactStore.unpacked_dir` where a cache is open).

# NOTE: determinism. The archive is a zip with the files in sorted order, no compression,
# a fixed timestamp and fixed unix permissions, so the same folder always packs to the same
# bytes, and hence to the same sha256: that is what lets the cache content-address it, and
# lets :func:`folder_matches` re-derive the bytes of an unpacked folder to check it.
# NOTE: safety. An archive comes from a cache folder or a bundle, which another user may
# have written; :func:`unpack` refuses absolute names, ``..`` components, drive letters and
# symbolic links, so nothing is written outside the destination folder.

Stdlib only: the runtime imports it without the compiler or any converter.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from webnnc.cache.errors import CacheError

__all__ = ["UnsafeArchiveError", "folder_matches", "materialize", "pack_directory", "unpack"]

logger = logging.getLogger(__name__)

_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


class UnsafeArchiveError(CacheError):
    """An archive entry would be written outside its folder, or is not a plain file."""


def pack_directory(root: Path) -> bytes:
    """Zip every file under ``root`` with sorted names, fixed times and no compression.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = (Path(d) / "a.txt").write_text("hi")
    ...     pack_directory(Path(d)) == pack_directory(Path(d))
    True
    """
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(root).as_posix(), date_time=_FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.create_system = 3  # unix: the attributes above mean what they say everywhere
            zf.writestr(info, path.read_bytes())
    return buf.getvalue()


def _safe_name(info: zipfile.ZipInfo) -> PurePosixPath:
    """The entry's relative path, or UnsafeArchiveError for one that could escape."""
    name = info.filename
    path = PurePosixPath(name)
    if (
        not name
        or name.startswith(("/", "\\"))
        or "\\" in name
        or ":" in path.parts[0]
        or any(part in ("", ".", "..") for part in name.rstrip("/").split("/"))
    ):
        raise UnsafeArchiveError(f"archive entry {name!r} points outside its folder")
    # A unix entry's file type is in the top bits of its mode; our own entries carry none
    # (plain permissions), so only a type other than regular file or folder is refused.
    kind = stat.S_IFMT(info.external_attr >> 16)
    if info.create_system == 3 and kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise UnsafeArchiveError(f"archive entry {name!r} is not a plain file (a link?)")
    return path


def unpack(data: bytes, dest: Path) -> None:
    """Unpack an archive made by :func:`pack_directory` into ``dest``.

    Raises:
        UnsafeArchiveError: an entry has an absolute name, a ``..`` component, or is a link.
    """
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = zf.infolist()
        for info in infos:  # check every name before writing anything
            _safe_name(info)
        for info in infos:
            target = root.joinpath(*_safe_name(info).parts)
            if not target.resolve().is_relative_to(root):  # belt and braces: a link in dest
                raise UnsafeArchiveError(f"archive entry {info.filename!r} points outside its folder")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(zf.read(info))


def folder_matches(folder: Path, sha256: str) -> bool:
    """Whether ``folder`` still packs to the archive with this sha256.

    Edited, truncated or half-deleted folders do not. Packing is deterministic, so this
    re-derives the bytes (a few ms for a compiled model).
    """
    try:
        return hashlib.sha256(pack_directory(folder)).hexdigest() == sha256
    except OSError:
        return False


def materialize(data: bytes, sha256: str, root: Path | None, *, suffix: str = "") -> Path:
    """``root/<sha256><suffix>``, unpacked from ``data`` unless an intact copy is there.

    ``root=None`` unpacks into a new private temporary folder (no cache to share it with).

    # NOTE: unpacking goes to a private temporary folder that is renamed into place, so a
    # process never sees a half-written folder; when two processes race, the loser's rename
    # onto the existing folder fails and its copy is discarded. A folder that no longer packs
    # to ``sha256`` is moved aside (renamed, so a reader holding it open is not disturbed)
    # and unpacked again.
    """
    if root is None:
        root = Path(tempfile.mkdtemp(prefix="webnnc-unpacked-"))
    final = root / f"{sha256}{suffix}"
    if final.is_dir():
        if folder_matches(final, sha256):
            return final
        logger.warning("unpacked folder %s does not match its archive; unpacking it again", final)
        stale = final.with_name(f".stale-{os.getpid()}-{final.name}")
        with contextlib.suppress(OSError):
            os.rename(final, stale)
            shutil.rmtree(stale, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".unpack-", dir=root))
    try:
        unpack(data, tmp)
        try:
            os.rename(tmp, final)
        except OSError:
            if not final.is_dir():  # not a lost race: a real failure
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final
