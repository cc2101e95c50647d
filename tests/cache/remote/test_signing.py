"""Signature records (cache/signing.py): HMAC and Ed25519, what they cover, key handling."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.cache.helpers import fake_manifest
from webnnc.cache.signing import (
    Ed25519Signer,
    Ed25519Verifier,
    HmacKey,
    Keyring,
    SignatureError,
    entry_payload,
)

SECRET = b"0123456789abcdef0123456789abcdef"


def test_hmac_covers_every_manifest_field() -> None:
    ring = Keyring(signer=HmacKey(SECRET), verifiers=[HmacKey(SECRET)])
    m = fake_manifest(b"abc")
    record = ring.sign_entry(m)
    assert ring.verify_entry(m, record).startswith("hmac-sha256:")
    for change in (
        {"artifact_sha256": "0" * 64}, {"artifact_size": 4}, {"name": "other"}, {"created": m.created + 1},
        {"extra": {"memory_plan": {"y": [0, 8]}}}, {"session": {"threads": 1}}, {"format": "ort"},
    ):
        with pytest.raises(SignatureError):
            ring.verify_entry(m.replace(**change), record)


def test_unsigned_untrusted_and_short_keys_are_refused() -> None:
    ring = Keyring(verifiers=[HmacKey(SECRET)])
    m = fake_manifest(b"abc")
    with pytest.raises(SignatureError, match="not signed"):
        ring.verify_entry(m, None)
    other = HmacKey(b"another-secret-entirely-01234567").sign(entry_payload(m))
    with pytest.raises(SignatureError, match="not trusted"):
        ring.verify_entry(m, other)
    with pytest.raises(SignatureError, match="at least 16"):
        HmacKey(b"short")


def test_ed25519_fleet_verifies_but_cannot_sign(tmp_path: Path) -> None:
    pytest.importorskip("cryptography")
    if subprocess.run(["which", "ssh-keygen"], capture_output=True).returncode != 0:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        key = Ed25519PrivateKey.generate()
        (tmp_path / "k").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        (tmp_path / "k.pub").write_bytes(key.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH))
    else:
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "k")], check=True)
    builder = Keyring.from_env(env={"WEBNNC_REMOTE_SIGNING_KEY": str(tmp_path / "k")})
    fleet = Keyring.from_env(env={"WEBNNC_REMOTE_TRUSTED_KEYS": str(tmp_path / "k.pub")})
    assert fleet.signer is None and fleet.can_verify
    m = fake_manifest(b"weights")
    record = builder.sign_entry(m)
    assert fleet.verify_entry(m, record).startswith("ed25519:")
    with pytest.raises(SignatureError):
        fleet.verify_entry(m.replace(name="x"), record)
    with pytest.raises(SignatureError):
        fleet.sign_entry(m)
    assert isinstance(builder.signer, Ed25519Signer)
    assert isinstance(fleet.verifiers[0], Ed25519Verifier)


def test_keys_from_files_never_from_the_cache(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text(SECRET.decode() + "\n")
    ring = Keyring.from_env(env={"WEBNNC_REMOTE_KEY_FILE": str(tmp_path / "secret")})
    m = fake_manifest(b"a")
    assert ring.verify_entry(m, HmacKey(SECRET).sign(entry_payload(m)))
    with pytest.raises(SignatureError, match="cannot read"):
        Keyring.from_env(env={"WEBNNC_REMOTE_KEY_FILE": str(tmp_path / "missing")})
    assert not Keyring.from_env(env={}).can_verify
