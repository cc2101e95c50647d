"""The store's files: where entries and objects live, how they are written, how they verify.

Where the folder is (:func:`default_cache_dir`), how big it may be (:func:`parse_size`).
:class:`Layout` names every path of a cache folder (``CACHE.md`` draws it) and owns the two
primitives everything else is built from: the atomic write and the directory scan.
:func:`check_manifest` and :func:`verify_bytes` are the checks every read passes through.
The store facade (``store.py``) and its maintenance (``_maintenance.py``) use these; nothing
here takes a lock (the callers say which one they hold).

# NOTE: str paths on the hit path. `pathlib` costs 4.3 ms of a cold hit (it imports
# urllib.parse and ipaddress), so what a hit touches takes and makes plain str paths
# (``Layout.root``, ``entry_file``, ``object_file``, ...); the ``Path``-valued names
# (``Layout.tmp``, ``entry_path``, ``ArtifactStore.directory``) stay for everything else
# and import pathlib on their first use (:func:`as_path`).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import stat
from collections.abc import Iterator
from typing import TYPE_CHECKING

from webnnc.cache._hash import blake3_hex, sha256_hasher, sha256_hex
from webnnc.cache._log import get_logger
from webnnc.cache.errors import CacheCorruptionError, CacheError
from webnnc.cache.manifest import ENTRY_FILES, MAX_JSON_BYTES, Manifest, key_digest, tree_digest

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "CACHEDIR_TAG",
    "HEX64",
    "Layout",
    "as_path",
    "check_manifest",
    "default_cache_dir",
    "default_cache_root",
    "folder_trust_problem",
    "parse_seconds",
    "parse_size",
    "read_bounded",
    "read_or_none",
    "sha256_file",
    "user_path",
    "verify_bytes",
]

logger = get_logger(__name__)

_CHUNK = 1 << 20
HEX64 = re.compile(r"[0-9a-f]{64}")
_NAME = re.compile(r"[a-z][a-z0-9_-]*")
_RESERVED = frozenset({"objects", "entries", "index", "locks", "tmp", "names"})  # the store's own folders
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file marks the folder as a cache (webnnc compiled artifacts).\n"
    "# See https://bford.info/cachedir/\n"
)


def as_path(path: str | os.PathLike[str]) -> Path:
    """``pathlib.Path(path)``, importing pathlib on first use (module note)."""
    from pathlib import Path

    return Path(path)


def user_path(override_env: str, xdg_env: str, home_default: str, *parts: str) -> str:
    """``$override_env`` if set, else ``$xdg_env/<parts>``, else ``~/<home_default>/<parts>``
    (the XDG base-directory rule, with webnnc's own variable first)."""
    env = os.environ.get(override_env)
    if env:
        return os.path.expanduser(env)
    xdg = os.environ.get(xdg_env)
    base = os.path.expanduser(xdg) if xdg else os.path.join(os.path.expanduser("~"), home_default)
    return os.path.join(base, *parts)


def default_cache_root() -> str:
    """:func:`default_cache_dir` as a str (the hit path's form)."""
    return user_path("WEBNNC_CACHE_DIR", "XDG_CACHE_HOME", ".cache", "webnnc")


def default_cache_dir() -> Path:
    """``$WEBNNC_CACHE_DIR``, else ``$XDG_CACHE_HOME/webnnc``, else ``~/.cache/webnnc``."""
    return as_path(default_cache_root())


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


def parse_seconds(value: object, where: str, *, positive: bool = False, error: type[Exception] = ValueError) -> float:
    """A finite number of seconds from ``value`` (text or number), >= 0 or, with ``positive``,
    > 0; else ``error`` naming ``where`` (the setting the value came from).

    >>> parse_seconds("2.5", "X"), parse_seconds(0, "X")
    (2.5, 0.0)
    >>> parse_seconds("inf", "WEBNNC_X", positive=True)
    Traceback (most recent call last):
    ...
    ValueError: WEBNNC_X: expected a positive number of seconds; found 'inf'
    """
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        seconds = math.nan
    if not (math.isfinite(seconds) and (seconds > 0 if positive else seconds >= 0)):
        wanted = "a positive number of seconds" if positive else "a number of seconds >= 0"
        raise error(f"{where}: expected {wanted}; found {value!r}")
    return seconds


def folder_trust_problem(
    directory: str | os.PathLike[str], subfolders: tuple[str | os.PathLike[str], ...] = ()
) -> str | None:
    """Why the cache folder cannot be trusted, or None (see cache/CACHE.md, "Threat model").

    The folder (a symlink to it is followed: ``~/.cache`` is often one) and each of
    ``subfolders`` (not followed) must be owned by this user or by root (a read-only image
    prepared by the system) and writable by nobody else. ``WEBNNC_CACHE_SHARED=group``
    accepts group-writable folders: everyone in the group is then trusted like the owner.
    """
    if not hasattr(os, "geteuid"):  # pragma: no cover - Windows: ACLs, not modes
        return None
    allowed = 0o022 if os.environ.get("WEBNNC_CACHE_SHARED", "").lower() != "group" else 0o002
    me = os.geteuid()
    for i, path in enumerate((directory, *subfolders)):
        try:
            st = os.stat(path) if i == 0 else os.lstat(path)
        except FileNotFoundError:
            continue
        except OSError as e:
            return f"cannot inspect {path} ({e})"
        if i and stat.S_ISLNK(st.st_mode):
            return f"{path} is a symbolic link"
        if st.st_uid not in (me, 0):
            return f"{path} is owned by uid {st.st_uid}, not by this user (uid {me})"
        if st.st_mode & allowed:
            who = "others" if st.st_mode & 0o002 else "its group"
            return (
                f"{path} is writable by {who} (mode {stat.S_IMODE(st.st_mode):o}); make it private "
                "(chmod 700) or, for a folder shared by a trusted group, set WEBNNC_CACHE_SHARED=group"
            )
    return None


def sha256_file(path: str | os.PathLike[str]) -> tuple[str, int]:
    """(hex sha256, size) of a file, read in 1 MiB chunks."""
    h = sha256_hasher()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def read_bounded(path: str | os.PathLike[str], limit: int = MAX_JSON_BYTES) -> bytes:
    """A small file's bytes (a manifest), never following a link, refused above ``limit``.

    Raises:
        CacheCorruptionError: the file is over ``limit`` bytes or not a regular file.
        OSError: it cannot be opened (FileNotFoundError when it does not exist).
    """
    fd = os.open(path, os.O_RDONLY | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        name = os.path.basename(path)
        if not stat.S_ISREG(st.st_mode):
            raise CacheCorruptionError(f"{name} is not a regular file")
        if st.st_size > limit:  # a planted multi-GB "manifest" is refused unread
            raise CacheCorruptionError(f"{name} is {st.st_size} B, over the {limit} B limit for a manifest")
        chunks = []
        while chunk := os.read(fd, limit + 1):
            chunks.append(chunk)
            if sum(map(len, chunks)) > limit:  # grew since fstat
                raise CacheCorruptionError(f"{name} is over the {limit} B limit for a manifest")
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_or_none(path: str | os.PathLike[str]) -> bytes | None:
    try:
        return read_bounded(path)
    except (OSError, CacheCorruptionError):
        return None


def check_manifest(manifest: Manifest, key: str) -> None:
    """Raise CacheCorruptionError unless ``manifest`` really is the entry of ``key``."""
    if manifest.key != key:
        raise CacheCorruptionError(f"the manifest belongs to key {manifest.key[:12]}…")
    if key_digest(manifest.key_parts) != key:
        raise CacheCorruptionError("the manifest's key parts do not hash to its key (foreign or edited)")
    if manifest.key_parts.get("target") != manifest.target:
        raise CacheCorruptionError(
            f"manifest target {manifest.target!r} differs from its key's {manifest.key_parts.get('target')!r}"
        )
    if not HEX64.fullmatch(manifest.artifact_sha256) or manifest.artifact_size < 0:
        raise CacheCorruptionError("the manifest's artifact hash or size is malformed")
    if manifest.artifact_blake3 and not HEX64.fullmatch(manifest.artifact_blake3):
        raise CacheCorruptionError("the manifest's artifact BLAKE3 hash is malformed")
    if manifest.files:
        _check_files(manifest)


def _check_files(manifest: Manifest) -> None:
    files = manifest.files
    if set(files) - set(ENTRY_FILES) or "model.onnx" not in files:
        raise CacheCorruptionError(f"the manifest's files {sorted(files)} are not a subset of {list(ENTRY_FILES)} with model.onnx")
    try:
        for f in files.values():
            if not HEX64.fullmatch(f["sha256"]) or type(f["size"]) is not int or f["size"] < 0:
                raise ValueError("bad hash or size")
            if f.get("blake3") and not HEX64.fullmatch(f["blake3"]):
                raise ValueError("bad BLAKE3 hash")
        digest = tree_digest(files)
    except (KeyError, TypeError, ValueError) as e:
        raise CacheCorruptionError(f"the manifest's file list is malformed ({e})") from None
    if digest != manifest.artifact_sha256 or sum(f["size"] for f in files.values()) != manifest.artifact_size:
        raise CacheCorruptionError("the manifest's file list does not add up to its artifact hash and size")


def verify_bytes(manifest: Manifest, data: bytes, *, thorough: bool = True) -> None:
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
        digest = sha256_hex(data)
        if digest != manifest.artifact_sha256:
            raise CacheCorruptionError(
                f"artifact sha256 {digest[:12]}… differs from the manifest's {manifest.artifact_sha256[:12]}…"
            )


class Layout:
    """The paths of one cache folder, and the file operations on them.

    ``root`` and the ``*_file`` / ``*_dir`` names are str paths (the hit path's); the
    ``Path``-valued ones (``directory``, ``tmp``, ``locks``, ``*_path``) import pathlib when
    first used (module note).
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.root = os.fspath(directory)
        self.objects_dir = os.path.join(self.root, "objects")
        self.entries_dir = os.path.join(self.root, "entries")
        self.tmp_dir = os.path.join(self.root, "tmp")
        self.locks_dir = os.path.join(self.root, "locks")
        self.names_dir = os.path.join(self.root, "names")

    @property
    def directory(self) -> Path:
        return as_path(self.root)

    @property
    def tmp(self) -> Path:
        return as_path(self.tmp_dir)

    @property
    def locks(self) -> Path:
        return as_path(self.locks_dir)

    def hits_file(self, key: str) -> str:
        """One byte is appended per hit: the count is the size (an O_APPEND write is atomic)."""
        return self.entry_file(key)[: -len(".json")] + ".hits"

    def hits_path(self, key: str) -> Path:
        return as_path(self.hits_file(key))

    def record_hit(self, key: str) -> None:
        """Move ``key`` to the front of the LRU order (manifest mtime) and count the hit.

        Two syscalls and no database: both are advisory, so failures only log.
        """
        try:
            os.utime(self.entry_file(key))
            fd = os.open(self.hits_file(key), os.O_WRONLY | os.O_APPEND | os.O_CREAT | _NOFOLLOW, 0o600)
            try:
                os.write(fd, b".")
            finally:
                os.close(fd)
        except OSError as e:
            logger.debug("cannot record a hit of %s…: %s", key[:12], e)

    def name_file(self, target: str, name: str) -> str:
        """The small file listing the keys stored under (target, model name), newest first."""
        if not _NAME.fullmatch(target):
            raise CacheError(f"not a target name: {target!r}")
        return os.path.join(self.names_dir, target, f"{sha256_hex(name.encode())[:40]}.json")

    def name_path(self, target: str, name: str) -> Path:
        return as_path(self.name_file(target, name))

    def remove_entry(self, key: str) -> bool:
        """Unlink an entry's manifest (the publish point) and its hit counter."""
        self.hits_path(key).unlink(missing_ok=True)
        path = self.entry_path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        except OSError:
            if not path.is_dir() or path.is_symlink():
                raise
            import shutil

            shutil.rmtree(path)  # a folder planted where a manifest belongs: no entry, remove it
        return True

    def remove_object(self, sha: str) -> None:
        from webnnc.cache._tree import remove_object

        remove_object(self.object_path(sha))

    def entry_file(self, key: str) -> str:
        if not HEX64.fullmatch(key):
            raise CacheError(f"not a cache key: {key!r} (expected 64 lowercase hex digits)")
        return os.path.join(self.entries_dir, key[:2], f"{key}.json")

    def entry_path(self, key: str) -> Path:
        return as_path(self.entry_file(key))

    def object_file(self, sha: str) -> str:
        if not HEX64.fullmatch(sha):
            raise CacheCorruptionError(f"not an artifact sha256: {sha!r}")
        return os.path.join(self.objects_dir, sha[:2], sha)

    def object_path(self, sha: str) -> Path:
        return as_path(self.object_file(sha))

    def unpacked_root(self, folder: str) -> Path:
        """The folder that holds unpacked archives of one family (``coreml``, ...)."""
        if not _NAME.fullmatch(folder) or folder in _RESERVED:
            raise CacheError(f"not a folder name for unpacked archives: {folder!r}")
        return self.directory / folder

    def atomic_write(self, path: str | os.PathLike[str], data: bytes) -> None:
        """Write ``data`` to ``tmp/``, fsync it and rename it onto ``path``."""
        folder, name = os.path.split(os.fspath(path))
        os.makedirs(folder, mode=0o700, exist_ok=True)
        os.makedirs(self.tmp_dir, mode=0o700, exist_ok=True)  # the folder may have been deleted under us
        tmp = os.path.join(self.tmp_dir, f"{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def read_manifest(self, key: str) -> Manifest | None:
        """The manifest under ``key`` (unverified), or None when there is no readable file."""
        try:
            text = read_bounded(self.entry_file(key))
        except OSError:
            return None
        return Manifest.from_json(text)

    def scan_keys(self) -> Iterator[str]:
        """Every key with an entry file (unverified), in sorted order."""
        try:
            shards = sorted(os.scandir(self.entries_dir), key=lambda d: d.name)
        except OSError:
            return
        for shard in shards:
            if not shard.is_dir():
                continue
            for f in sorted(os.listdir(shard.path)):
                key = f.removesuffix(".json")
                if f.endswith(".json") and HEX64.fullmatch(key):
                    yield key

    def sizes(self) -> tuple[dict[str, tuple[float, int]], dict[str, int]]:
        """({key: (mtime, manifest bytes)}, {sha: object bytes}) from a directory scan."""
        entries: dict[str, tuple[float, int]] = {}
        for key in self.scan_keys():
            try:
                st = os.stat(self.entry_file(key))
            except OSError:
                continue
            entries[key] = (st.st_mtime, st.st_size)
        objects: dict[str, int] = {}
        try:
            shards = list(os.scandir(self.objects_dir))
        except OSError:
            shards = []
        for shard in shards:
            if shard.is_dir():
                for f in os.scandir(shard.path):
                    if HEX64.fullmatch(f.name):
                        try:
                            if f.is_dir(follow_symlinks=False):  # a multi-file artifact: every file counts
                                objects[f.name] = sum(g.stat(follow_symlinks=False).st_size for g in os.scandir(f.path))
                            else:
                                objects[f.name] = f.stat(follow_symlinks=False).st_size
                        except OSError:
                            continue
        return entries, objects
