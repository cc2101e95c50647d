"""Artifact hashes: sha256 names and always can verify; BLAKE3, when installed, verifies faster.

# NOTE: why two hashes. sha256 is the content address (object file names, bundle members,
# manifests any tool can check with `sha256sum`), and stays the fallback everywhere. But
# re-hashing the artifact is on every cache hit's path, and once ONNX Runtime creates a
# session in a few milliseconds, sha256 (about 2 GB/s with SHA-NI) becomes a large share of
# a hit. BLAKE3 is a 256-bit cryptographic hash just as hard to forge, and the `blake3`
# package (Rust, wheels for every major platform) runs it 4-5x faster on one core. So
# ``put`` records both, and a reader that has `blake3` verifies with it; one that lacks it
# (or reads an entry written without it) uses sha256.
#
# NOTE: which sha256. `hashlib` loads OpenSSL's libcrypto on import: 3.4 ms of a cache hit's
# start (in a fresh process after numpy and onnxruntime, median of 11), more than hashing
# everything a hit hashes (a graph of tens of KB, a kernel library). So small inputs and the
# entries' MAC use CPython's built-in sha256 / BLAKE2 modules (the same ones hashlib falls
# back to without OpenSSL: no OpenSSL load, 160-240 MB/s), and large inputs and streams use
# hashlib (OpenSSL, ~1.4 GB/s with SHA-NI), imported on their first use. Where a built-in
# module is missing (another Python), hashlib serves every call.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

# Imported on first use, not with this module: a cache hit whose files are already verified
# (cache/_tree.py) hashes nothing large, and the import budget of the hit path has no room
# for it (tests/runtime/test_import_clean.py).
_UNSET: Any = object()
_blake3: Any = _UNSET  # the module, or None where it is not installed


def _module() -> Any:
    global _blake3
    if _blake3 is _UNSET:
        try:
            _blake3 = importlib.import_module("blake3")
        except ImportError:  # pragma: no cover - blake3 is a dependency; kept optional at runtime
            _blake3 = None
    return _blake3

__all__ = [
    "blake3_available", "blake3_hasher", "blake3_hex", "content_hasher", "keyed_blake2b", "sha256_hasher", "sha256_hex",
]

# Below this size the built-in sha256 costs less than loading OpenSSL (about 3.4 ms, the time
# the built-in module takes for ~550 KB); above it, hashlib is loaded and pays for itself.
_SMALL = 256 << 10
_builtin: dict[str, Any] = {}  # "sha256" / "blake2b" -> constructor (hashlib's where no built-in)


def _constructor(algorithm: str, modules: tuple[str, ...]) -> Any:
    ctor = _builtin.get(algorithm)
    if ctor is None:
        for name in modules:
            try:
                ctor = getattr(importlib.import_module(name), algorithm)
                break
            except (ImportError, AttributeError):
                continue
        else:
            import hashlib

            ctor = getattr(hashlib, algorithm)
        _builtin[algorithm] = ctor
    return ctor


def blake3_available() -> bool:
    return _module() is not None


def blake3_hex(data: bytes) -> str | None:
    """Hex BLAKE3-256 of ``data``, or None when the ``blake3`` package is not installed.

    Single-threaded on purpose: the multi-threaded mode uses a process-wide Rust thread
    pool, and a process forked after that pool started (``multiprocessing``'s default on
    Linux) can hang on its first hash. One core already runs 4-5x faster than sha256.
    """
    b3 = _module()
    if b3 is None:
        return None
    return str(b3.blake3(data).hexdigest())


def blake3_hasher() -> Any:
    """A fresh incremental BLAKE3 hasher, or None when ``blake3`` is not installed."""
    b3 = _module()
    return None if b3 is None else b3.blake3()


def content_hasher() -> tuple[str, Any]:
    """(algorithm name, a fresh incremental hasher): BLAKE3 when installed, else sha256.

    For digests that feed cache keys (constants' content digests): the caller writes the
    algorithm into the digest string, so a BLAKE3 digest never collides with a sha256 one
    and an installation without ``blake3`` still computes valid (different) keys.

    >>> name, h = content_hasher()
    >>> name in ("blake3", "sha256") and len(h.hexdigest()) == 64
    True
    """
    b3 = _module()
    if b3 is None:
        return "sha256", sha256_hasher()
    return "blake3", b3.blake3()


def sha256_hasher() -> Any:
    """A fresh incremental sha256 for streams and large inputs (hashlib: OpenSSL's speed)."""
    import hashlib

    return hashlib.sha256()


def sha256_hex(data: bytes | bytearray | memoryview) -> str:
    """Hex sha256 of ``data``: built-in for small inputs, OpenSSL's for large ones (module note).

    >>> sha256_hex(b"")[:16]
    'e3b0c44298fc1c14'
    >>> sha256_hex(bytes(1 << 20))[:16]  # a large input: hashlib
    '30e14955ebf13522'
    """
    if len(data) < _SMALL and "_hashlib" not in sys.modules:  # OpenSSL not loaded yet: keep it so
        return str(_constructor("sha256", ("_sha2", "_sha256"))(data).hexdigest())  # 3.12+, 3.11
    import hashlib

    return hashlib.sha256(data).hexdigest()


def keyed_blake2b(key: bytes, data: bytes) -> str:
    """Hex BLAKE2b-256 of ``data`` keyed with ``key`` (at most 64 bytes): BLAKE2's MAC mode.

    >>> keyed_blake2b(b"k" * 32, b"payload") == keyed_blake2b(b"k" * 32, b"payload")
    True
    >>> keyed_blake2b(b"k" * 32, b"payload") != keyed_blake2b(b"j" * 32, b"payload")
    True
    """
    return str(_constructor("blake2b", ("_blake2",))(data, key=key, digest_size=32).hexdigest())
