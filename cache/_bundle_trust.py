"""Who may have made a bundle: the keys that sign exports and that imports must trust.

See the NOTE on origin in ``bundle.py`` and cache/CACHE.md, "Threat model".
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from webnnc.cache.signing import Keyring, SignatureError, name_payload

if TYPE_CHECKING:
    from webnnc.cache.bundle import BundleReader

__all__ = ["bundle_keyring", "check_origin"]

logger = logging.getLogger(__name__)


def bundle_keyring(env: Mapping[str, str] | None = None) -> Keyring:
    """The keys that sign exported bundles and that imported bundles must be signed with.

    Signs with ``WEBNNC_BUNDLE_SIGNING_KEY`` (Ed25519) or ``WEBNNC_BUNDLE_KEY`` /
    ``WEBNNC_BUNDLE_KEY_FILE`` (a shared secret) when set, else with the user's own cache key;
    trusts the user's own key, those, and the public keys in ``WEBNNC_BUNDLE_TRUSTED_KEYS``.

    Raises:
        SignatureError: a named key file is unusable.
    """
    from webnnc.cache._auth import KeyUnavailableError, local_key

    ring = Keyring.from_env("WEBNNC_BUNDLE", env)
    try:
        own = local_key().hmac  # bundles keep hmac-sha256 records (what earlier webnnc signed)
    except KeyUnavailableError as e:
        logger.debug("bundles cannot use this user's cache key: %s", e)
        return ring
    if ring.signer is None:
        ring.signer = own
    ring.verifiers.append(own)
    return ring


def _trusted_ids(keyring: Keyring) -> set[tuple[str, str]]:
    return {(v.scheme, k) for v in keyring.verifiers for k in v.key_ids()}


def check_origin(reader: BundleReader, keyring: Keyring, *, trust_unsigned: bool) -> None:
    """The body of :meth:`BundleReader.check_origin` (raises SignatureError, one line)."""
    signatures = reader.index.get("signatures")
    signatures = signatures if isinstance(signatures, dict) else {}
    name_sigs = reader.index.get("name_signatures")
    name_sigs = name_sigs if isinstance(name_sigs, dict) else {}
    trusted = _trusted_ids(keyring)
    hint = (
        "trust its signer (WEBNNC_BUNDLE_TRUSTED_KEYS, WEBNNC_BUNDLE_KEY; see cache/CACHE.md) "
        "or accept it explicitly (--trust-unsigned, trust_unsigned=True)"
    )
    for key, manifest in reader.manifests.items():
        record = signatures.get(key)
        known = isinstance(record, dict) and (str(record.get("scheme")), str(record.get("key_id"))) in trusted
        if not known:
            if not trust_unsigned:
                if not record:
                    what = "is not signed"
                elif isinstance(record, dict):
                    what = f"is signed by key {str(record.get('key_id'))[:16]!r}, not trusted here"
                else:
                    what = "has a malformed signature"
                raise SignatureError(f"entry {key[:12]}… ({manifest.name or '-'}) {what}; {hint}")
            reader.signers[key] = "unsigned (accepted by request)"
            continue
        try:
            reader.signers[key] = keyring.verify_entry(manifest, record)
        except SignatureError as e:
            raise SignatureError(f"entry {key[:12]}… ({manifest.name or '-'}): {e}") from None
        sigs = name_sigs.get(key)
        kept = []
        for name in reader.names.get(key, ()):
            rec = sigs.get(name) if isinstance(sigs, dict) else None
            try:
                keyring.verify(name_payload(manifest.target, name, key), rec, what="name")
            except SignatureError:
                if name != manifest.name:  # the manifest's own name is signed with it
                    logger.warning("%s: ignoring the unsigned name %r of entry %s…", reader.path, name, key[:12])
                    continue
            kept.append(name)
        reader.names[key] = tuple(kept)
