"""Errors raised by the artifact cache."""

from __future__ import annotations

__all__ = ["BypassCache", "CacheCorruptionError", "CacheError"]


class CacheError(Exception):
    """Base class of cache errors."""


class CacheCorruptionError(CacheError):
    """An entry failed verification (hash, size, manifest); it is dropped, never returned."""


class BypassCache(CacheError):  # noqa: N818 - a signal, not a failure
    """Raised while building a key for inputs that cannot be cached; compile without caching."""
