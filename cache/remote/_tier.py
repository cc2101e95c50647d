"""RemoteCache: push, pull and lock entries on a shared remote, verifying everything pulled.

Objects under the remote's prefix (``cache/CACHE.md``, "Remote tier"):

    entries/<key>.webnnc      a one-entry bundle (``bundle.py``) whose index carries the
                              entry's signature under ``signatures[<key>]``
    names/<target>/<name>     a signed JSON record: this name, for this target, is this key
    locks/<key>               the remote build lock of a key (while someone compiles it)

# NOTE: the local path always works. Every remote operation is wrapped: a failure to reach
# the remote (refused, timed out, auth, full) logs ONE warning per remote per process and
# marks the remote down for ``_DOWN_S`` seconds, during which nothing waits on it; a refused
# object (unsigned, untrusted, tampered, truncated) logs one warning naming the key and why.
# Either way the caller sees a miss and compiles locally. Nothing from the remote is
# executed or unpickled: it is a tar of JSON and artifact bytes, read by BundleReader,
# which rejects links, unexpected members and manifests that do not hash to their key.
"""

from __future__ import annotations

import json
import logging
import tarfile
import tempfile
import threading
import time
import uuid
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from webnnc.cache.bundle import BundleError, BundleReader, BundleWriter
from webnnc.cache.errors import CacheCorruptionError, CacheError
from webnnc.cache.remote._backends import Backend, ObjectTooLargeError, open_backend
from webnnc.cache.remote._config import RemoteConfig, RemoteConfigError
from webnnc.cache.signing import Keyring, SignatureError, name_payload

if TYPE_CHECKING:
    from webnnc.cache.manifest import Manifest
    from webnnc.cache.store import ArtifactStore

__all__ = ["RemoteCache", "RemoteError"]

logger = logging.getLogger(__name__)

_DOWN_S = 30.0  # after a failure, skip the remote this long: a dead remote costs one timeout, not one per graph
_MAX_OBJECT = 64 << 30  # refuse remote objects above 64 GiB before downloading a byte
_POLL_S = (0.05, 0.5)  # waiting for a remote build lock: first and longest poll interval
_WARNED: set[str] = set()
_WARNED_LOCK = threading.Lock()


class RemoteError(CacheError):
    """A remote operation that the user asked for explicitly (push, pull) failed."""


def _warn_once(url: str, message: str, *args: object) -> None:
    with _WARNED_LOCK:
        first = url not in _WARNED
        _WARNED.add(url)
    (logger.warning if first else logger.debug)(message, *args)


def _short(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text[:200]}" if text else type(error).__name__


def _segment(text: str) -> str:
    """``text`` as one path segment of an object name: URL-quoted, and never ``.`` or ``..``
    (which a folder remote would resolve: a model named ``..`` would name ``names/``)."""
    quoted = quote(text, safe="")
    return quoted.replace(".", "%2E") if quoted in (".", "..") else quoted


class RemoteCache:
    """One shared remote (object storage or Redis) and the keys that sign and verify for it.

    Args:
        config: where the remote is and how this machine uses it.
        keyring: signing and trusted keys (default: from the environment).
    """

    def __init__(self, config: RemoteConfig, keyring: Keyring | None = None) -> None:
        self.config = config
        self.keyring = keyring if keyring is not None else Keyring.from_env()
        self._backend: Backend | None = None
        self._down_until = 0.0
        self.max_object_bytes = _MAX_OBJECT

    # ------------------------------------------------------------------ plumbing
    @property
    def url(self) -> str:
        return self.config.url

    @property
    def locking(self) -> bool:
        """Whether builds take the remote build lock."""
        return self.config.lock and self.config.writable and self.keyring.signer is not None

    def backend(self) -> Backend:
        """The storage engine, opened on first use (s3fs and redis import in ~0.3 s)."""
        if self._backend is None:
            self._backend = open_backend(self.config.url, timeout=self.config.timeout, options=dict(self.config.options))
        return self._backend

    def _available(self) -> bool:
        return time.monotonic() >= self._down_until and self.keyring.can_verify

    def _failed(self, doing: str, error: BaseException) -> None:
        if isinstance(error, RemoteConfigError):  # a malformed URL is not an outage: no retry
            self._down_until = float("inf")
            _warn_once(self.url, "remote cache not used: %s; using the local cache only", error)
            return
        self._down_until = time.monotonic() + _DOWN_S
        _warn_once(
            self.url,
            "remote cache %s unavailable while %s (%s); using the local cache only (retrying in %.0f s)",
            self.url, doing, _short(error), _DOWN_S,
        )

    @staticmethod
    def _entry(key: str) -> str:
        return f"entries/{key}.webnnc"

    @staticmethod
    def _name(target: str, name: str) -> str:
        return f"names/{_segment(target)}/{_segment(name)}"

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()

    # ------------------------------------------------------------------ pull
    def fetch(self, store: ArtifactStore, key: str) -> bool:
        """Pull entry ``key`` into ``store`` if the remote has a trusted copy. Never raises.

        Returns True when the entry is now in the local store.
        """
        if not self._available():
            return False
        with tempfile.TemporaryDirectory(prefix="webnnc-remote-") as d:
            path = Path(d) / "entry.webnnc"
            t0 = time.perf_counter()
            try:
                if not self.backend().download(self._entry(key), path, self.max_object_bytes):
                    logger.debug("remote %s has no entry %s…", self.url, key[:12])
                    return False
            except ObjectTooLargeError as e:
                logger.warning("refused remote entry %s… from %s: %s; compiling locally", key[:12], self.url, e)
                return False
            except Exception as e:
                self._failed(f"fetching {key[:12]}…", e)
                return False
            seconds = time.perf_counter() - t0
            size = path.stat().st_size
            ok = self._import(store, path, key)
        if ok:
            logger.info(
                "pulled %s… from %s: %.1f MB in %.2f s (%.0f MB/s)",
                key[:12], self.url, size / 1e6, seconds, size / 1e6 / max(seconds, 1e-9),
            )
        return ok

    def _import(self, store: ArtifactStore, path: Path, key: str) -> bool:
        """Verify a downloaded one-entry bundle (structure, signature, hashes) and store it."""
        try:
            with BundleReader(path) as reader:
                if set(reader.manifests) != {key}:
                    raise BundleError(f"holds entries {[k[:12] for k in reader.manifests]}, not {key[:12]}…")
                manifest = reader.manifests[key]
                signatures = reader.index.get("signatures")
                record = signatures.get(key) if isinstance(signatures, dict) else None
                signer = self.keyring.verify_entry(manifest, record)
                # hashes every byte before publishing; multi-file artifacts file by file
                if manifest.files:
                    stored = store.put_stream(manifest, lambda name: reader.artifact_stream(key, name))
                else:
                    with reader.artifact_stream(key) as f:
                        stored = store.put_stream(manifest, f)
        except (BundleError, SignatureError, CacheCorruptionError) as e:
            # name the remote object, not the temporary file it was downloaded to
            reason = str(e).replace(str(path), self._entry(key))
            logger.warning("refused remote entry %s… from %s: %s; compiling locally", key[:12], self.url, reason)
            return False
        except (tarfile.TarError, EOFError, OSError, zlib.error) as e:  # truncated or not a tar at all
            logger.warning(
                "refused remote entry %s… from %s: unreadable (%s); compiling locally", key[:12], self.url, _short(e)
            )
            return False
        logger.debug("remote entry %s… verified (signed by %s)", key[:12], signer)
        return stored

    def resolve(self, name: str, target: str) -> str | None:
        """The key the remote's signed name record gives for ``name`` on ``target``. Never raises."""
        if not self._available():
            return None
        try:
            raw = self.backend().read_small(self._name(target, name))
        except Exception as e:
            self._failed(f"resolving {name!r}", e)
            return None
        if raw is None:
            return None
        try:
            record = json.loads(raw)
            key = str(record["key"])
            self.keyring.verify(name_payload(target, name, key), record.get("signature"), what="name record")
        except (ValueError, TypeError, KeyError, AttributeError, SignatureError) as e:
            logger.warning("refused remote name record %r for %s from %s: %s", name, target, self.url, _short(e))
            return None
        return key

    def fetch_name(self, store: ArtifactStore, name: str, target: str) -> str | None:
        """Pull the entry the remote names ``name`` for ``target``; its key, or None. Never raises."""
        key = self.resolve(name, target)
        if key is not None and self.fetch(store, key):
            return key
        return None

    # ------------------------------------------------------------------ push
    def push(self, store: ArtifactStore, key: str, *, names: tuple[str, ...] = (), strict: bool = False) -> bool:
        """Sign entry ``key`` of ``store`` and upload it, with its name record(s).

        Args:
            names: extra names to record besides the manifest's own.
            strict: raise :class:`RemoteError` instead of warning (the CLI's explicit push).
        """
        try:
            manifest = self._push(store, key, names)
        except Exception as e:
            if strict:
                raise RemoteError(f"cannot push {key[:12]}… to {self.url}: {_short(e)}") from None
            self._failed(f"pushing {key[:12]}…", e)
            return False
        logger.info("pushed %s… (%s) to %s", key[:12], manifest.name or "-", self.url)
        return True

    def _push(self, store: ArtifactStore, key: str, names: tuple[str, ...]) -> Manifest:
        if not self.config.writable:
            raise RemoteError(f"the remote cache {self.url} is read-only here (set WEBNNC_REMOTE_MODE=read-write)")
        hit = store.get(key, use=False)
        if hit is None:
            raise CacheError(f"no intact entry {key[:12]}… in {store.directory}")
        manifest = hit.manifest
        signature = self.keyring.sign_entry(manifest)
        with tempfile.TemporaryDirectory(prefix="webnnc-remote-") as d:
            path = Path(d) / "entry.webnnc"
            writer = BundleWriter(path)
            try:
                writer.add(manifest, hit.data, getattr(hit, "folder", None))
                writer.close({"signatures": {key: signature}})
            except BaseException:
                writer.abort()
                raise
            del hit
            self.backend().upload(self._entry(key), path)
        for name in dict.fromkeys((*names, manifest.name or "")):
            if name:
                record = {
                    "target": manifest.target, "name": name, "key": key, "created": manifest.created,
                    "signature": self.keyring.sign(name_payload(manifest.target, name, key)),
                }
                self.backend().write_small(self._name(manifest.target, name), json.dumps(record).encode())
        return manifest

    # ------------------------------------------------------------------ build lock
    def acquire_build_lock(self, key: str, timeout: float | None) -> str | None:
        """Take the remote build lock of ``key``, or wait until the entry appears.

        Returns the lock token when taken (compile, push, then :meth:`release_build_lock`),
        or None when the entry appeared meanwhile (pull it), when waiting exceeded
        ``timeout`` (compile anyway: a duplicate compile, never a wrong result), or when the
        remote is unavailable.
        """
        if not (self.locking and self._available()):
            return None
        token = f"{uuid.uuid4().hex}"
        name = f"locks/{key}"
        start = time.monotonic()
        poll = _POLL_S[0]
        while True:
            try:
                if self.backend().try_lock(name, token, self.config.lock_ttl):
                    logger.debug("took the remote build lock of %s…", key[:12])
                    return token
                if self.backend().exists(self._entry(key)):
                    return None
            except Exception as e:
                self._failed(f"locking {key[:12]}…", e)
                return None
            waited = time.monotonic() - start
            if timeout is not None and waited >= timeout:
                logger.warning(
                    "waited %.0f s for another machine's build of %s… (remote lock at %s); compiling here",
                    waited, key[:12], self.url,
                )
                return None
            time.sleep(poll)
            poll = min(poll * 2, _POLL_S[1])

    def release_build_lock(self, key: str, token: str) -> None:
        """Release a lock taken by :meth:`acquire_build_lock` (it expires by itself anyway)."""
        try:
            self.backend().unlock(f"locks/{key}", token)
        except Exception as e:
            self._failed(f"unlocking {key[:12]}…", e)

    def describe(self) -> dict[str, Any]:
        return {
            "url": self.url, "mode": self.config.mode, "lock": self.locking,
            "timeout_s": self.config.timeout, "keys": self.keyring.describe(),
        }
