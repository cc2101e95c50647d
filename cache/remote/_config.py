"""Remote tier settings: one URL plus a few knobs, from arguments or the environment.

Every ``WEBNNC_REMOTE_*`` variable is read here (the keys in :mod:`webnnc.cache.signing`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from webnnc.cache._files import parse_seconds
from webnnc.cache.errors import CacheError

__all__ = ["DEFAULT_TIMEOUT_S", "RemoteConfig", "RemoteConfigError"]

DEFAULT_TIMEOUT_S = 5.0  # per request: a stalled remote costs at most this, then the local path
DEFAULT_LOCK_TTL_S = 900.0  # a build lock nobody releases (holder died) expires after this
_MODES = ("read-only", "read-write")


class RemoteConfigError(CacheError):
    """A remote setting is malformed (the message names the setting)."""


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    """A positive, finite number of seconds from ``env[name]`` (``default`` when unset)."""
    raw = env.get(name)
    return parse_seconds(raw, name, positive=True, error=RemoteConfigError) if raw else default


@dataclass(frozen=True)
class RemoteConfig:
    """Where the shared remote tier is and how this machine uses it.

    Args:
        url: ``s3://bucket/prefix`` (or any fsspec URL: ``file:///shared/webnnc``,
            ``gs://...``), or ``redis://host:port/db`` (``rediss://`` for TLS).
        mode: ``read-only`` (a fleet machine: pull only) or ``read-write`` (a build machine
            or CI: also push what it compiles).
        timeout: seconds any one remote request may take before the local path takes over.
        lock: take the remote build lock before compiling, so that machines compiling the
            same graph at once compile it once (needs ``read-write``).
        lock_ttl: seconds after which a build lock whose holder vanished expires.
        options: fsspec storage options (e.g. ``{"client_kwargs": {"endpoint_url": ...}}``).
    """

    url: str
    mode: str = "read-only"
    timeout: float = DEFAULT_TIMEOUT_S
    lock: bool = False
    lock_ttl: float = DEFAULT_LOCK_TTL_S
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in _MODES:
            raise RemoteConfigError(f"remote cache mode must be one of {list(_MODES)}; found {self.mode!r}")
        if not self.url:
            raise RemoteConfigError("the remote cache URL is empty")
        if not self.timeout > 0 or not self.lock_ttl > 0:
            raise RemoteConfigError(
                f"remote timeout and lock TTL must be positive; found {self.timeout!r} and {self.lock_ttl!r}"
            )

    @property
    def writable(self) -> bool:
        return self.mode == "read-write"

    @classmethod
    def from_env(cls, url: str | None = None, env: Mapping[str, str] | None = None, **overrides: Any) -> RemoteConfig | None:
        """The configuration ``url`` (else ``WEBNNC_REMOTE_CACHE``) and the environment give.

        ``WEBNNC_REMOTE_MODE`` (read-only), ``WEBNNC_REMOTE_TIMEOUT`` (5 s),
        ``WEBNNC_REMOTE_LOCK`` (off), ``WEBNNC_REMOTE_LOCK_TTL`` (900 s),
        ``WEBNNC_REMOTE_OPTIONS`` (JSON fsspec storage options). ``overrides`` whose value
        is not None win over the environment. None when no URL is set.

        Raises:
            RemoteConfigError: a variable is malformed.
        """
        env = os.environ if env is None else env
        url = url or env.get("WEBNNC_REMOTE_CACHE") or None
        if not url:
            return None
        try:
            options = json.loads(env["WEBNNC_REMOTE_OPTIONS"]) if env.get("WEBNNC_REMOTE_OPTIONS") else {}
            if not isinstance(options, dict):
                raise ValueError("not a JSON object")
        except ValueError as e:
            raise RemoteConfigError(f"WEBNNC_REMOTE_OPTIONS: expected a JSON object of storage options ({e})") from None
        mode = env.get("WEBNNC_REMOTE_MODE") or "read-only"
        if mode not in _MODES:
            raise RemoteConfigError(f"WEBNNC_REMOTE_MODE: expected one of {list(_MODES)}; found {mode!r}")
        cfg = cls(
            url=url,
            mode=mode,
            timeout=_seconds(env, "WEBNNC_REMOTE_TIMEOUT", DEFAULT_TIMEOUT_S),
            lock=_flag(env.get("WEBNNC_REMOTE_LOCK")),
            lock_ttl=_seconds(env, "WEBNNC_REMOTE_LOCK_TTL", DEFAULT_LOCK_TTL_S),
            options=options,
        )
        given = {k: v for k, v in overrides.items() if v is not None}
        return replace(cfg, **given) if given else cfg
