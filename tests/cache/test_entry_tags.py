"""Entry tags after the hit path lost OpenSSL: keyed BLAKE2b, and what earlier tags still do.

A local entry is tagged ``blake2b-256`` with the user's key (cache/_auth.py); an entry an
earlier webnnc tagged ``hmac-sha256`` with the same key still verifies; anything else is
refused as before. The records a hit creates are FrozenRecords, not dataclasses: their
value semantics are checked here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from pathlib import Path

import pytest

from tests.cache.helpers import entry_path, fake_manifest
from webnnc.cache import _auth, _hash
from webnnc.cache.manifest import IOSpec, Manifest
from webnnc.cache.signing import Blake2bKey, HmacKey, SignatureError
from webnnc.cache.store import ArtifactStore

DATA = b"artifact bytes " * 100


def _put(store: ArtifactStore) -> Manifest:
    m = fake_manifest(DATA)
    store.put(m, DATA)
    return m


def _retag(cache_dir: Path, key: str, record: dict[str, str] | None) -> None:
    """Rewrite an entry file with ``record`` as its tag (None: the correct hmac-sha256 tag)."""
    path = entry_path(cache_dir, key)
    obj = json.loads(path.read_bytes())
    obj.pop(_auth.AUTH_FIELD)
    if record is None:
        manifest = Manifest.from_obj(obj)
        payload = _auth._payload(json.loads(json.dumps(obj)), manifest)
        local = _auth.local_key()
        # what webnnc wrote before layout 4, computed here with hmac itself
        value = hmac.new(local._secret, payload, hashlib.sha256).hexdigest()
        record = {"scheme": "hmac-sha256", "key_id": local.key_id, "value": value}
    obj[_auth.AUTH_FIELD] = record
    path.write_bytes(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode())


def test_new_entries_carry_a_keyed_blake2b_tag(cache_dir: Path) -> None:
    with ArtifactStore(cache_dir) as store:
        m = _put(store)
        stored = json.loads(entry_path(cache_dir, m.key).read_bytes())
        tag = stored.pop(_auth.AUTH_FIELD)
        assert tag["scheme"] == "blake2b-256"
        local = _auth.local_key()
        assert tag["key_id"] == local.key_id == HmacKey(local._secret).key_id
        # an independent computation of the same MAC (hashlib's BLAKE2b, keyed as signing.py says)
        payload = _auth._payload(stored, Manifest.from_obj(stored))
        mac_key = hashlib.blake2b(local._secret, key=b"webnnc-blake2b-mac-key", digest_size=32).digest()
        assert tag["value"] == hashlib.blake2b(payload, key=mac_key, digest_size=32).hexdigest()
        hit = store.get(m.key)
        assert hit is not None and hit.data == DATA


def test_an_earlier_hmac_tag_by_the_users_key_still_verifies(cache_dir: Path) -> None:
    with ArtifactStore(cache_dir) as store:
        m = _put(store)
    _retag(cache_dir, m.key, None)
    with ArtifactStore(cache_dir) as store:
        hit = store.get(m.key)
        assert hit is not None and hit.data == DATA


@pytest.mark.parametrize(
    "record",
    [
        {"scheme": "hmac-sha256", "value": "0" * 64},  # the user's key id, a wrong value
        {"scheme": "blake2b-256", "value": "0" * 64},
        {"scheme": "sha1-mac", "value": "0" * 40},  # a scheme this webnnc never writes
        {"scheme": "blake2b-256", "value": "\u00e9" * 64},  # non-ASCII: unequal, not a TypeError
        {"scheme": "hmac-sha256", "value": "\u00e9" * 64},
        {"scheme": "blake2b-256", "value": ["not", "text"]},
    ],
)
def test_a_wrong_or_unknown_tag_is_dropped(
    cache_dir: Path, record: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    with ArtifactStore(cache_dir) as store:
        m = _put(store)
        key_id = _auth.local_key().key_id
    _retag(cache_dir, m.key, {**record, "key_id": key_id})
    with ArtifactStore(cache_dir) as store, caplog.at_level(logging.WARNING):
        assert store.get(m.key) is None
    assert not entry_path(cache_dir, m.key).exists()
    assert any("not authenticated" in r.getMessage() for r in caplog.records)


def test_blake2b_keys() -> None:
    long = os.urandom(200)  # over BLAKE2's 64-byte key limit: the MAC key is derived from it
    k = Blake2bKey(long)
    rec = k.sign(b"payload")
    k.verify(b"payload", rec)
    with pytest.raises(SignatureError, match="does not verify"):
        k.verify(b"payload!", rec)
    with pytest.raises(SignatureError, match="does not verify"):
        Blake2bKey(os.urandom(200)).verify(b"payload", rec)
    with pytest.raises(SignatureError, match="at least 16"):
        Blake2bKey(b"short")


@pytest.mark.parametrize("size", [0, 1, 55, 64, (256 << 10) - 1, 256 << 10, (1 << 20) + 3])
def test_sha256_hex_is_sha256_on_both_sides_of_the_threshold(size: int) -> None:
    data = os.urandom(size)
    assert _hash.sha256_hex(data) == hashlib.sha256(data).hexdigest()
    assert _hash.keyed_blake2b(b"k" * 32, data) == hashlib.blake2b(data, key=b"k" * 32, digest_size=32).hexdigest()


def test_records_are_immutable_values() -> None:
    m = fake_manifest(DATA)
    assert m == Manifest.from_json(m.to_json())
    assert m.replace(name="other") != m and m.replace(name="other").name == "other"
    assert m.replace().to_json() == m.to_json()
    with pytest.raises(AttributeError, match="immutable"):
        m.name = "x"  # type: ignore[misc]
    with pytest.raises(TypeError, match="no field"):
        m.replace(nmae="x")
    spec = IOSpec("x", "float32", (2, 3))
    assert {spec, IOSpec("x", "float32", (2, 3))} == {spec}  # hashable, as a frozen dataclass was
    assert repr(spec) == "IOSpec(name='x', data_type='float32', shape=(2, 3))"
    # copies and pickles rebuild through __init__ (immutable slots cannot be set afterwards)
    import copy
    import pickle

    from webnnc.cache.store import CachedArtifact

    art = CachedArtifact(m, "/x", b"data", {"t": 1.0}, {"kernels.so": b"k"})
    for clone in (copy.copy(art), copy.deepcopy(art), pickle.loads(pickle.dumps(art))):
        assert clone == art and clone.timings_ms == {"t": 1.0} and clone.held == {"kernels.so": b"k"}
    assert copy.deepcopy(m) == m and copy.deepcopy(m).key_parts is not m.key_parts
    assert pickle.loads(pickle.dumps(spec)) == spec
    # the JSON form has every field, and editing it leaves the manifest alone
    obj = m.to_obj()
    assert set(obj) == set(Manifest.__slots__)
    obj["key_parts"]["graph"] = "edited"
    assert m.key_parts.get("graph") != "edited"
