"""webnnc.cache.remote: a shared remote tier behind the local cache (object storage, Redis).

A build machine compiles once and pushes signed entries; every machine of a fleet pulls
them on a local miss, verifies signature and hashes, and publishes them into its own local
cache. Configured by URL (``WEBNNC_REMOTE_CACHE``, ``create_context(remote_cache=...)``,
``--remote``); see ``cache/CACHE.md`` ("Remote tier") and ``cache/REMOTE.md``.

Imported only when a remote is configured: the libraries behind it (fsspec, s3fs, redis)
load on the first remote operation.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from webnnc.cache.errors import CacheError
from webnnc.cache.remote._config import RemoteConfig, RemoteConfigError
from webnnc.cache.remote._tier import RemoteCache, RemoteError
from webnnc.cache.signing import SignatureError

if TYPE_CHECKING:
    from webnnc.cache.store import ArtifactStore

__all__ = [
    # configuration
    "RemoteConfig",
    "open_remote",
    "open_tiered_store",
    "remote_configured",
    # the tier
    "RemoteCache",
    "TieredStore",
    # errors
    "RemoteConfigError",
    "RemoteError",
    "SignatureError",
]

logger = logging.getLogger(__name__)

_WARNED: set[str] = set()


def open_remote(remote: str | RemoteConfig | None = None, **overrides: Any) -> RemoteCache | None:
    """The remote tier for ``remote`` (a URL or config; default ``$WEBNNC_REMOTE_CACHE``).

    None when no remote is configured.

    Raises:
        RemoteConfigError: a setting is malformed.
        SignatureError: a key file named in the environment is unusable.
        CacheError: no trusted key is configured (a remote without one is never read).
    """
    config = remote if isinstance(remote, RemoteConfig) else RemoteConfig.from_env(remote, **overrides)
    if config is None:
        return None
    cache = RemoteCache(config)
    if not cache.keyring.can_verify:
        raise CacheError(
            f"the remote cache {config.url} needs a trusted key: set WEBNNC_REMOTE_KEY (a shared secret), "
            "WEBNNC_REMOTE_KEY_FILE, or WEBNNC_REMOTE_TRUSTED_KEYS (Ed25519 public keys); see cache/CACHE.md"
        )
    return cache


def remote_configured(remote: str | RemoteConfig | None = None) -> bool:
    """Whether a remote is named by the argument or ``WEBNNC_REMOTE_CACHE`` (cheap)."""
    return remote is not None or bool(os.environ.get("WEBNNC_REMOTE_CACHE"))


def open_tiered_store(
    directory: str | os.PathLike[str] | None = None,
    remote: str | RemoteConfig | None = None,
    *,
    mode: str | None = None,
    lock: bool | None = None,
    **kwargs: Any,
) -> ArtifactStore:
    """The local store, backed by the remote tier when one is configured and usable.

    A remote that is misconfigured (no trusted key, a bad setting) costs one warning and
    the local store alone is returned: a remote never stops a build.
    """
    from webnnc.cache.store import ArtifactStore

    try:
        cache = open_remote(remote, mode=mode, lock=lock)
    except CacheError as e:
        key = str(remote or os.environ.get("WEBNNC_REMOTE_CACHE"))
        if key not in _WARNED:
            _WARNED.add(key)
            logger.warning("remote cache not used: %s", e)
        cache = None
    if cache is None:
        return ArtifactStore(directory, **kwargs)
    from webnnc.cache.remote._tiered import TieredStore

    return TieredStore(directory, remote=cache, **kwargs)


def __getattr__(name: str) -> Any:
    if name == "TieredStore":
        from webnnc.cache.remote._tiered import TieredStore

        return TieredStore
    raise AttributeError(name)

