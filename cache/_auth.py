"""The user's own key: every local entry carries a MAC tag made with it (issue 15).

Content hashes prove only that bytes match a manifest anyone could have written; the tag
proves this user's webnnc wrote the manifest. The key is a 32-byte secret kept outside the
cache folder (``$WEBNNC_CACHE_KEY_FILE``, else ``$XDG_CONFIG_HOME/webnnc/cache-key``, else
``~/.config/webnnc/cache-key``), created 0600 on first use; the tag is a ``blake2b-256``
record of :mod:`webnnc.cache.signing` (keyed BLAKE2b) over the same canonical payload the
remote tier signs (:func:`~webnnc.cache.signing.entry_payload`: the whole parsed manifest
and its artifact digests), stored in the manifest file under ``auth``. Entries tagged
``hmac-sha256`` with the same key (cache layout 3 and before) still verify, so that a hit
on one reports it as made for another layout rather than as forged.

# NOTE: cost on a hit. One small-file read per process (the key, cached) and per hit one
# canonical JSON dump of the parsed manifest plus one keyed BLAKE2b over ~2 KB: see
# benchmarks/results/manifest_auth.md (a few tens of us, against 5-300 ms for the session a
# hit opens). Why BLAKE2b and not HMAC-SHA256: `hmac` loads OpenSSL (3-4 ms of a cold hit,
# more than the rest of the check); CPython's built-in BLAKE2 is a MAC without it.
#
# NOTE: a key that cannot be read or created (no home folder, a key file others can read)
# leaves the store untrusted: it warns once and runs uncached, as for a folder others can
# write. An ephemeral key would make every process rebuild every graph silently.
"""

from __future__ import annotations

import _thread
import json
import os
import stat
from typing import Any

from webnnc.cache._files import user_path
from webnnc.cache._log import get_logger
from webnnc.cache.errors import CacheError
from webnnc.cache.manifest import Manifest
from webnnc.cache.signing import (
    SIGNATURE_DOMAIN,
    Blake2bKey,
    HmacKey,
    SignatureError,
    artifact_digests,
)

__all__ = ["AUTH_FIELD", "KeyUnavailableError", "LocalKey", "check_tag", "local_key", "local_key_path", "sealed_json"]

logger = get_logger(__name__)

AUTH_FIELD = "auth"  # the manifest file's field holding the tag (not a Manifest field)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_KEYS: dict[str, LocalKey] = {}  # path -> key: read once per process
_LOCK = _thread.allocate_lock()  # threading.Lock itself, without importing threading


class KeyUnavailableError(CacheError):
    """The user's cache key cannot be read or created (the cache then runs untrusted)."""


class LocalKey:
    """The user's cache key: tags local entries (``tag``) and signs bundles (``hmac``)."""

    def __init__(self, secret: bytes) -> None:
        self.tag = Blake2bKey(secret)  # checks the secret's length (SignatureError)
        self.key_id = self.tag.key_id
        self._secret = secret
        self._hmac: HmacKey | None = None

    @property
    def hmac(self) -> HmacKey:
        """The same secret as an ``hmac-sha256`` key (bundles, and entries tagged before)."""
        if self._hmac is None:
            self._hmac = HmacKey(self._secret)
        return self._hmac


def local_key_path() -> str:
    """Where the user's cache key lives (outside every cache folder)."""
    return user_path("WEBNNC_CACHE_KEY_FILE", "XDG_CONFIG_HOME", ".config", "webnnc", "cache-key")


def _read_key(path: str) -> bytes:
    fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _CLOEXEC)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise KeyUnavailableError(f"the cache key {path} is not a regular file")
        if hasattr(os, "geteuid"):
            if st.st_uid not in (os.geteuid(), 0):
                raise KeyUnavailableError(f"the cache key {path} is owned by uid {st.st_uid}, not by this user")
            if st.st_mode & 0o077:  # whoever can read it can forge entries
                raise KeyUnavailableError(
                    f"the cache key {path} is readable or writable by others (mode "
                    f"{stat.S_IMODE(st.st_mode):o}); chmod 600 it, or delete it to make a new one"
                )
        data = os.read(fd, 4096)
    finally:
        os.close(fd)
    return data.strip()


def _create_key(path: str) -> None:
    import secrets  # once per user, not on every hit

    folder, name = os.path.split(path)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o600)
    try:
        os.write(fd, secrets.token_hex(32).encode() + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # atomic and never replaces: two processes creating at once agree
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)
    logger.info("created the cache key %s (it authenticates this user's cache entries)", path)


def local_key() -> LocalKey:
    """The user's cache key, created on first use.

    Raises:
        KeyUnavailableError: it cannot be read or created, or others can read it.
    """
    path = local_key_path()
    cached = _KEYS.get(path)
    if cached is not None:
        return cached
    with _LOCK:
        try:
            try:
                secret = _read_key(path)
            except FileNotFoundError:
                _create_key(path)
                secret = _read_key(path)
            key = LocalKey(secret)
        except OSError as e:
            raise KeyUnavailableError(f"cannot read or create the cache key {path} ({e.strerror or e})") from None
        except SignatureError as e:
            raise KeyUnavailableError(f"the cache key {path} is unusable: {e}") from None
        _KEYS[path] = key
        return key


def _payload(obj: dict[str, Any], manifest: Manifest) -> bytes:
    # ``entry_payload(manifest)`` of signing.py, computed from the parsed file rather than by
    # re-serializing the Manifest (to_obj + a JSON round trip: 160-190 us of a
    # 500 us get(), measured with benchmarks/bench_manifest_auth.py). The two are equal for
    # every file the store writes; for any other file, every field it holds (known or not)
    # is covered, so nothing a reader could use escapes the tag.
    body = {"manifest": obj, "artifacts": artifact_digests(manifest)}
    return SIGNATURE_DOMAIN + json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def sealed_json(manifest: Manifest, key: LocalKey) -> bytes:
    """The manifest file's bytes: the manifest with its ``auth`` tag."""
    obj = json.loads(manifest.to_json())
    tag = key.tag.sign(_payload(obj, manifest))
    obj[AUTH_FIELD] = tag
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def check_tag(manifest: Manifest, obj: Any, key: LocalKey) -> str:
    """Check the ``auth`` tag of a parsed manifest file (``obj``, which loses its ``auth``);
    returns the tag's scheme (``key.tag.scheme``, or ``hmac-sha256`` for an earlier webnnc's).

    Raises:
        SignatureError: no tag, another key's tag, or one that does not verify.
    """
    record = obj.pop(AUTH_FIELD, None) if isinstance(obj, dict) else None
    if not isinstance(record, dict) or not record:
        raise SignatureError("it carries no authentication tag (written by another program or an older webnnc)")
    if record.get("key_id") != key.key_id:
        raise SignatureError(f"its tag is by key {str(record.get('key_id'))[:16]!r}, not this user's cache key")
    scheme = record.get("scheme")
    if scheme == key.tag.scheme:
        key.tag.verify(_payload(obj, manifest), record)
    elif scheme == HmacKey.scheme:  # tagged by an earlier webnnc with the same key
        key.hmac.verify(_payload(obj, manifest), record)
    else:
        raise SignatureError(f"its tag's scheme {str(scheme)[:32]!r} is not one this webnnc writes")
    return str(scheme)
