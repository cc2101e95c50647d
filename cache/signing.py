"""Signatures over cache entries: who may put an artifact into someone else's cache.

A content hash only proves that bytes match a manifest that anyone could have written; a
signature proves that the manifest (and through its hashes, the artifact) comes from a
holder of a trusted key. The remote tier signs every entry it pushes and refuses every
entry it pulls whose signature does not verify; the same records can sign bundles and
local entries (issue 15), which is why this module knows nothing about remotes.

Two schemes, both over the same canonical payload (:func:`entry_payload`):

- ``hmac-sha256``: one shared secret for every machine of a team (CI and fleet alike).
  Whoever can verify can also sign, so it suits machines that trust each other.
  (A third, ``blake2b-256``, the same kind of secret as a keyed BLAKE2b MAC, tags the
  user's own local entries: :class:`Blake2bKey`.)
- ``ed25519`` (needs the ``cryptography`` package): builders hold a private key, the fleet
  holds only public keys, so a fleet machine cannot forge entries. Keys are ordinary
  OpenSSH / PEM files (``ssh-keygen -t ed25519 -f webnnc-signing``).

# NOTE: what is signed. The payload is a domain-separation string followed by the canonical
# JSON (sorted keys, no spaces, ASCII) of the parsed manifest and the list of its artifact
# digests. The manifest names the key, its key parts (which hash to the key), the target,
# the formats, the IO specs, the memory plan, and every artifact's sha256 and size, so a
# verified signature plus verified artifact hashes authenticates everything the runtime
# will act on. Signing the parsed-and-reserialized manifest (not the bytes on the wire)
# means fields a reader would drop cannot carry unsigned meaning, and a field a reader
# does use is always covered.
#
# NOTE: keys never live in the cache. Secrets come from the environment or from files the
# user names (``WEBNNC_REMOTE_KEY``, ``WEBNNC_REMOTE_KEY_FILE``, ...); a record carries only
# a key id (a truncated hash of the key, which reveals nothing usable) so a verifier can
# say which key signed and refuse unknown ones.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from webnnc.cache._hash import keyed_blake2b, sha256_hex
from webnnc.cache._log import get_logger
from webnnc.cache.errors import CacheError
from webnnc.cache.manifest import Manifest

__all__ = [
    "SIGNATURE_DOMAIN",
    "Ed25519Signer",
    "Blake2bKey",
    "Ed25519Verifier",
    "HmacKey",
    "Keyring",
    "SignatureError",
    "Signer",
    "Verifier",
    "artifact_digests",
    "entry_payload",
    "name_payload",
]

logger = get_logger(__name__)

SIGNATURE_DOMAIN = b"webnnc-entry-signature-v1\n"
_MIN_SECRET = 16  # bytes: shorter shared secrets are guessable offline from any signed record


class SignatureError(CacheError):
    """A signature is missing, made with an untrusted key, or does not verify."""


def artifact_digests(manifest: Manifest) -> list[dict[str, Any]]:
    """Every artifact file the manifest describes, with its size and hashes.

    One artifact today; an entry made of several files lists each of them here so that
    the signature covers all of them.
    """
    return [
        {
            "name": "artifact",
            "sha256": manifest.artifact_sha256,
            "size": manifest.artifact_size,
            "blake3": manifest.artifact_blake3,
        }
    ]


def entry_payload(manifest: Manifest) -> bytes:
    """The canonical bytes a signature covers (see the module note).

    >>> from webnnc.cache.manifest import Manifest
    >>> m = Manifest("k" * 64, "onnx-cpu", "onnx", "0" * 64, 3, (), ())
    >>> entry_payload(m).startswith(SIGNATURE_DOMAIN)
    True
    """
    body = {"manifest": json.loads(manifest.to_json()), "artifacts": artifact_digests(manifest)}
    return SIGNATURE_DOMAIN + json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def name_payload(target: str, name: str, key: str) -> bytes:
    """The canonical bytes that sign a name record (``name`` for ``target`` is entry ``key``).

    Signed separately from entries so that whoever can write the remote cannot point a
    name at another (validly signed) entry.
    """
    body = {"target": target, "name": name, "key": key}
    return b"webnnc-name-signature-v1\n" + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


class Signer(Protocol):
    """Makes signature records: ``{"scheme", "key_id", "value"}``."""

    scheme: str
    key_id: str

    def sign(self, payload: bytes) -> dict[str, str]: ...


class Verifier(Protocol):
    """Checks signature records of one scheme against the keys it trusts."""

    scheme: str

    def key_ids(self) -> set[str]: ...

    def verify(self, payload: bytes, record: Mapping[str, Any]) -> None: ...


class HmacKey:
    """A shared secret: signs and verifies ``hmac-sha256`` records.

    >>> k = HmacKey(b"correct horse battery staple")
    >>> rec = k.sign(b"payload")
    >>> k.verify(b"payload", rec)
    >>> k.verify(b"other", rec)
    Traceback (most recent call last):
    ...
    webnnc.cache.signing.SignatureError: hmac-sha256 signature by key ... does not verify (tampered?)
    """

    scheme = "hmac-sha256"

    def __init__(self, secret: bytes) -> None:
        if len(secret) < _MIN_SECRET:
            raise SignatureError(
                f"the shared signing secret is {len(secret)} bytes; at least {_MIN_SECRET} are needed "
                "(e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)"
            )
        self._secret = secret
        self.key_id = secret_key_id(secret)

    def key_ids(self) -> set[str]:
        return {self.key_id}

    def sign(self, payload: bytes) -> dict[str, str]:
        import hashlib
        import hmac  # loads OpenSSL (3-4 ms): remote and bundle work only, never a local hit

        mac = hmac.new(self._secret, payload, hashlib.sha256).hexdigest()
        return {"scheme": self.scheme, "key_id": self.key_id, "value": mac}

    def verify(self, payload: bytes, record: Mapping[str, Any]) -> None:
        import hmac

        if not hmac.compare_digest(self.sign(payload)["value"].encode(), _value(record)):
            raise SignatureError(f"hmac-sha256 signature by key {self.key_id} does not verify (tampered?)")


def _value(record: Mapping[str, Any]) -> bytes:
    """A record's MAC value as bytes for a constant-time comparison (any text a planted
    record holds, non-ASCII included, compares unequal rather than raising)."""
    return str(record.get("value", "")).encode("utf-8", "surrogatepass")


def secret_key_id(secret: bytes) -> str:
    """The public id of a shared secret (a truncated hash that reveals nothing usable)."""
    return sha256_hex(b"webnnc-hmac-key-id\n" + secret)[:16]


class Blake2bKey:
    """A shared secret as a keyed BLAKE2b-256 MAC: signs and verifies ``blake2b-256`` records.

    BLAKE2's keyed mode is a MAC by design (RFC 7693), as strong as HMAC-SHA256 here; it
    tags the user's local entries because it checks on every cache hit without loading
    OpenSSL (``_hash.py``). The MAC key is the secret's BLAKE2b hash under a fixed domain
    label (the secret may be longer than BLAKE2's 64-byte key limit); the record's key id is
    :class:`HmacKey`'s for the same secret.

    >>> k = Blake2bKey(b"correct horse battery staple")
    >>> k.verify(b"payload", k.sign(b"payload"))
    >>> k.verify(b"other", k.sign(b"payload"))
    Traceback (most recent call last):
    ...
    webnnc.cache.signing.SignatureError: blake2b-256 signature by key ... does not verify (tampered?)
    """

    scheme = "blake2b-256"

    def __init__(self, secret: bytes) -> None:
        if len(secret) < _MIN_SECRET:
            raise SignatureError(f"the secret is {len(secret)} bytes; at least {_MIN_SECRET} are needed")
        self._mac_key = bytes.fromhex(keyed_blake2b(b"webnnc-blake2b-mac-key", secret))
        self.key_id = secret_key_id(secret)

    def key_ids(self) -> set[str]:
        return {self.key_id}

    def sign(self, payload: bytes) -> dict[str, str]:
        return {"scheme": self.scheme, "key_id": self.key_id, "value": keyed_blake2b(self._mac_key, payload)}

    def verify(self, payload: bytes, record: Mapping[str, Any]) -> None:
        from _operator import _compare_digest  # hmac.compare_digest, without importing hmac

        if not _compare_digest(keyed_blake2b(self._mac_key, payload).encode(), _value(record)):
            raise SignatureError(f"blake2b-256 signature by key {self.key_id} does not verify (tampered?)")


def _ed25519_key_id(raw_public: bytes) -> str:
    return sha256_hex(b"webnnc-ed25519-key-id\n" + raw_public)[:16]


def _cryptography() -> Any:
    try:
        from cryptography.hazmat.primitives import serialization
    except ImportError:
        raise SignatureError(
            "Ed25519 keys need the `cryptography` package (pip install 'webnnc[remote]')"
        ) from None
    return serialization


def _raw_public(public_key: Any) -> bytes:
    serialization = _cryptography()
    return bytes(public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


class Ed25519Signer:
    """A private Ed25519 key (OpenSSH or PEM file): signs ``ed25519`` records."""

    scheme = "ed25519"

    def __init__(self, private_key: Any) -> None:
        self._key = private_key
        self.key_id = _ed25519_key_id(_raw_public(private_key.public_key()))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Ed25519Signer:
        serialization = _cryptography()
        with open(path, "rb") as f:
            data = f.read()
        try:
            if b"OPENSSH PRIVATE KEY" in data:
                key = serialization.load_ssh_private_key(data, password=None)
            else:
                key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as e:
            raise SignatureError(f"{path}: not an unencrypted Ed25519 private key ({e})") from None
        if type(key).__name__ != "Ed25519PrivateKey" and not hasattr(key, "sign"):
            raise SignatureError(f"{path}: expected an Ed25519 private key; found {type(key).__name__}")
        return cls(key)

    def verifier(self) -> Ed25519Verifier:
        return Ed25519Verifier([self._key.public_key()])

    def sign(self, payload: bytes) -> dict[str, str]:
        import base64  # Ed25519 only: a cache hit checks an HMAC and never imports it

        value = base64.b64encode(self._key.sign(payload)).decode()
        return {"scheme": self.scheme, "key_id": self.key_id, "value": value}


class Ed25519Verifier:
    """Trusted Ed25519 public keys: verifies ``ed25519`` records."""

    scheme = "ed25519"

    def __init__(self, public_keys: Sequence[Any]) -> None:
        self._keys = {_ed25519_key_id(_raw_public(k)): k for k in public_keys}

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Ed25519Verifier:
        """Public keys, one ``ssh-ed25519 AAAA... comment`` line each, or PEM blocks."""
        serialization = _cryptography()
        with open(path, "rb") as f:
            text = f.read()
        keys: list[Any] = []
        try:
            if b"-----BEGIN PUBLIC KEY-----" in text:
                for block in text.split(b"-----END PUBLIC KEY-----")[:-1]:
                    keys.append(serialization.load_pem_public_key(block + b"-----END PUBLIC KEY-----\n"))
            else:
                for line in text.splitlines():
                    if line.strip() and not line.lstrip().startswith(b"#"):
                        keys.append(serialization.load_ssh_public_key(line.strip()))
        except (ValueError, TypeError) as e:
            raise SignatureError(f"{path}: not a list of Ed25519 public keys ({e})") from None
        if not keys:
            raise SignatureError(f"{path}: holds no public key")
        return cls(keys)

    def key_ids(self) -> set[str]:
        return set(self._keys)

    def verify(self, payload: bytes, record: Mapping[str, Any]) -> None:
        key = self._keys.get(str(record.get("key_id", "")))
        if key is None:
            raise SignatureError(f"ed25519 signature by untrusted key {record.get('key_id')!r}")
        import base64

        try:
            key.verify(base64.b64decode(str(record.get("value", "")), validate=True), payload)
        except Exception:  # InvalidSignature, or a value that is not base64 of 64 bytes
            raise SignatureError(
                f"ed25519 signature by key {record.get('key_id')} does not verify (tampered?)"
            ) from None


class Keyring:
    """The key that signs (optional) and the keys trusted to have signed.

    ``from_env`` reads, with ``prefix`` ``WEBNNC_REMOTE``:

    - ``<prefix>_KEY``: a shared HMAC secret (signs and verifies);
    - ``<prefix>_KEY_FILE``: a file holding that secret (its bytes, surrounding whitespace
      stripped);
    - ``<prefix>_SIGNING_KEY``: an Ed25519 private key file (signs; also trusts its own
      public key);
    - ``<prefix>_TRUSTED_KEYS``: a file of Ed25519 public keys (verifies).
    """

    def __init__(self, signer: Signer | None = None, verifiers: list[Verifier] | None = None) -> None:
        self.signer = signer
        self.verifiers: list[Verifier] = [] if verifiers is None else verifiers

    def __repr__(self) -> str:
        return f"Keyring({self.describe()})"

    @property
    def can_verify(self) -> bool:
        return bool(self.verifiers)

    def describe(self) -> str:
        signs = f"signs as {self.signer.scheme}:{self.signer.key_id}" if self.signer else "cannot sign"
        trusts = ", ".join(f"{v.scheme}:{k}" for v in self.verifiers for k in sorted(v.key_ids())) or "nothing"
        return f"{signs}; trusts {trusts}"

    @classmethod
    def from_env(cls, prefix: str = "WEBNNC_REMOTE", env: Mapping[str, str] | None = None) -> Keyring:
        """The keyring the environment describes (empty when it names no key).

        Raises:
            SignatureError: a named key file is unreadable or holds no usable key.
        """
        env = os.environ if env is None else env
        ring = cls()
        secret: bytes | None = None
        if env.get(f"{prefix}_KEY"):
            secret = env[f"{prefix}_KEY"].encode()
        elif env.get(f"{prefix}_KEY_FILE"):
            path = env[f"{prefix}_KEY_FILE"]
            try:
                with open(path, "rb") as f:
                    secret = f.read().strip()
            except OSError as e:
                raise SignatureError(f"{prefix}_KEY_FILE={path}: cannot read the secret ({e.strerror})") from None
        if secret is not None:
            hk = HmacKey(secret)
            ring.signer = hk
            ring.verifiers.append(hk)
        private = env.get(f"{prefix}_SIGNING_KEY")
        if private:
            try:
                signer = Ed25519Signer.from_file(private)
            except OSError as e:
                raise SignatureError(f"{prefix}_SIGNING_KEY={private}: {e.strerror}") from None
            ring.signer = signer  # an asymmetric key is preferred for signing over a shared secret
            ring.verifiers.append(signer.verifier())
        trusted = env.get(f"{prefix}_TRUSTED_KEYS")
        if trusted:
            try:
                ring.verifiers.append(Ed25519Verifier.from_file(trusted))
            except OSError as e:
                raise SignatureError(f"{prefix}_TRUSTED_KEYS={trusted}: {e.strerror}") from None
        return ring

    def sign_entry(self, manifest: Manifest) -> dict[str, str]:
        """A signature record over ``manifest`` and its artifact digests."""
        return self.sign(entry_payload(manifest))

    def verify_entry(self, manifest: Manifest, record: Any) -> str:
        """Check ``record`` signs ``manifest`` with a trusted key; returns ``scheme:key_id``.

        Raises:
            SignatureError: no record, an unknown scheme, an untrusted key, or a bad value.
        """
        return self.verify(entry_payload(manifest), record, what="entry")

    def sign(self, payload: bytes) -> dict[str, str]:
        """A signature record over ``payload`` (see :func:`entry_payload`, :func:`name_payload`)."""
        if self.signer is None:
            raise SignatureError("no signing key configured (set WEBNNC_REMOTE_KEY or WEBNNC_REMOTE_SIGNING_KEY)")
        return self.signer.sign(payload)

    def verify(self, payload: bytes, record: Any, *, what: str = "record") -> str:
        """Check ``record`` signs ``payload`` with a trusted key; returns ``scheme:key_id``."""
        if not isinstance(record, Mapping) or not record:
            raise SignatureError(f"the {what} is not signed")
        scheme = str(record.get("scheme", ""))
        key_id = str(record.get("key_id", ""))
        for v in self.verifiers:
            if v.scheme == scheme and key_id in v.key_ids():
                v.verify(payload, record)
                return f"{scheme}:{key_id}"
        raise SignatureError(f"signed by {scheme or '?'} key {key_id or '?'}, which is not trusted here")
