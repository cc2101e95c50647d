"""The store's files: where entries and objects live, how they are written, how they verify.

Where the folder is (:func:`default_cache_dir`), how big it may be (:func:`parse_size`).
:class:`Layout` names every path of a cache folder (``CACHE.md`` draws it) and owns the two
primitives everything else is built from: the atomic write and the directory scan.
:func:`check_manifest` and :func:`verify_bytes` are the checks every read passes through.
The store facade (``store.py``) and its maintenance (``_maintenance.py``) use these; nothing
here takes a lock (the callers say which one they hold).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

from webnnc.cache._hash import blake3_hex
from webnnc.cache.errors import CacheCorruptionError, CacheError
from webnnc.cache.key import key_digest
from webnnc.cache.manifest import Manifest

__all__ = [
    "CACHEDIR_TAG",
    "HEX64",
    "Layout",
    "check_manifest",
    "default_cache_dir",
    "parse_size",
    "read_or_none",
    "sha256_file",
    "verify_bytes",
]

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20
HEX64 = re.compile(r"[0-9a-f]{64}")
_NAME = re.compile(r"[a-z][a-z0-9_-]*")
_RESERVED = frozenset({"objects", "entries", "index", "locks", "tmp"})  # the store's own folders
CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file marks the folder as a cache (webnnc compiled artifacts).\n"
    "# See https://bford.info/cachedir/\n"
)


def default_cache_dir() -> Path:
    """``$WEBNNC_CACHE_DIR``, else ``$XDG_CACHE_HOME/webnnc``, else ``~/.cache/webnnc``."""
    env = os.environ.get("WEBNNC_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "webnnc"


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


def sha256_file(path: str | os.PathLike[str]) -> tuple[str, int]:
    """(hex sha256, size) of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
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
        digest = hashlib.sha256(data).hexdigest()
        if digest != manifest.artifact_sha256:
            raise CacheCorruptionError(
                f"artifact sha256 {digest[:12]}… differs from the manifest's {manifest.artifact_sha256[:12]}…"
            )


class Layout:
    """The paths of one cache folder, and the file operations on them."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.objects = directory / "objects"
        self.entries = directory / "entries"
        self.tmp = directory / "tmp"
        self.locks = directory / "locks"

    def entry_path(self, key: str) -> Path:
        if not HEX64.fullmatch(key):
            raise CacheError(f"not a cache key: {key!r} (expected 64 lowercase hex digits)")
        return self.entries / key[:2] / f"{key}.json"

    def object_path(self, sha: str) -> Path:
        if not HEX64.fullmatch(sha):
            raise CacheCorruptionError(f"not an artifact sha256: {sha!r}")
        return self.objects / sha[:2] / sha

    def unpacked_root(self, folder: str) -> Path:
        """The folder that holds unpacked archives of one family (``coreml``, ...)."""
        if not _NAME.fullmatch(folder) or folder in _RESERVED:
            raise CacheError(f"not a folder name for unpacked archives: {folder!r}")
        return self.directory / folder

    def atomic_write(self, path: Path, data: bytes) -> None:
        """Write ``data`` to ``tmp/``, fsync it and rename it onto ``path``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)  # the folder may have been deleted under us
        tmp = self.tmp / f"{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise

    def read_manifest(self, key: str) -> Manifest | None:
        """The manifest under ``key`` (unverified), or None when there is no readable file."""
        try:
            text = self.entry_path(key).read_bytes()
        except OSError:
            return None
        return Manifest.from_json(text)

    def scan_keys(self) -> Iterator[str]:
        """Every key with an entry file (unverified), in sorted order."""
        try:
            shards = sorted(os.scandir(self.entries), key=lambda d: d.name)
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
                st = self.entry_path(key).stat()
            except OSError:
                continue
            entries[key] = (st.st_mtime, st.st_size)
        objects: dict[str, int] = {}
        try:
            shards = list(os.scandir(self.objects))
        except OSError:
            shards = []
        for shard in shards:
            if shard.is_dir():
                for f in os.scandir(shard.path):
                    if HEX64.fullmatch(f.name):
                        try:
                            objects[f.name] = f.stat().st_size
                        except OSError:
                            continue
        return entries, objects
