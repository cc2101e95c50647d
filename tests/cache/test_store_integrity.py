"""Every read verifies: corrupt, truncated, missing and foreign entries are dropped, never returned."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from tests.cache.helpers import entry_path, fake_manifest, object_path
from webnnc.cache import _hash
from webnnc.cache.errors import CacheError
from webnnc.cache.store import ArtifactStore, parse_size

DATA = bytes(range(256)) * 40  # 10 KiB of "artifact"


def _put(store: ArtifactStore, data: bytes = DATA, **kw: object) -> str:
    m = fake_manifest(data, **kw)  # type: ignore[arg-type]
    assert store.put(m, data) is not None
    return m.key


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_round_trip_returns_the_verified_bytes_and_counts_hits(cache_dir: Path) -> None:
    with ArtifactStore(cache_dir) as store:
        key = _put(store)
        hit = store.get(key)
        assert hit is not None and hit.data == DATA
        assert Path(hit.path).read_bytes() == DATA
        store.get(key)
        assert store.hits(key) == 2
        assert store.resolve_name("model", "onnx-cpu") == key
        assert [e.manifest.key for e in store.entries()] == [key]


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda p: p.write_bytes(p.read_bytes()[:-1] + b"\x00"), id="last-byte-changed"),
        pytest.param(lambda p: p.write_bytes(p.read_bytes()[:100]), id="truncated"),
        pytest.param(lambda p: p.write_bytes(b""), id="emptied"),
        pytest.param(lambda p: p.unlink(), id="deleted"),
    ],
)
@pytest.mark.parametrize("hashes", ["blake3+sha256", "sha256-only"])
def test_damaged_artifact_is_reported_dropped_and_never_returned(
    cache_dir: Path, damage: object, hashes: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    if hashes == "sha256-only":  # an installation without the blake3 package
        monkeypatch.setattr(_hash, "_blake3", None)
    with ArtifactStore(cache_dir) as store:
        key = _put(store)
        obj = object_path(cache_dir, fake_manifest(DATA).artifact_sha256)
        damage(obj)  # type: ignore[operator]
        with caplog.at_level(logging.WARNING):
            assert store.get(key) is None
        assert len(_warnings(caplog)) == 1 and "corrupt" in _warnings(caplog)[0]
        assert not entry_path(cache_dir, key).exists(), "the bad entry must be dropped"
        assert list(store.keys()) == []
        # rebuilt: storing again gives a good entry
        _put(store)
        hit = store.get(key)
        assert hit is not None and hit.data == DATA


def test_foreign_manifest_is_refused(cache_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A manifest filed under another key (copied, renamed) is not returned for that key."""
    with ArtifactStore(cache_dir) as store:
        key_a = _put(store, graph="a")
        key_b = _put(store, graph="b")
        entry_path(cache_dir, key_a).write_bytes(entry_path(cache_dir, key_b).read_bytes())
        with caplog.at_level(logging.WARNING):
            assert store.get(key_a) is None
        assert "belongs to key" in " ".join(_warnings(caplog))
        assert store.get(key_b) is not None


def test_edited_key_parts_are_refused(cache_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A manifest whose key parts were edited (e.g. another onnxruntime version) no longer hashes to its key."""
    with ArtifactStore(cache_dir) as store:
        key = _put(store)
        path = entry_path(cache_dir, key)
        obj = json.loads(path.read_text())
        obj["key_parts"]["library.onnxruntime"] = "0.0.1"
        path.write_text(json.dumps(obj))
        with caplog.at_level(logging.WARNING):
            assert store.get(key) is None
        assert "do not hash to its key" in " ".join(_warnings(caplog))


@pytest.mark.parametrize("text", [b"", b"{not json", b"[]", b'{"version": 1}', b'{"version": 99}'])
def test_malformed_manifest_is_refused(cache_dir: Path, text: bytes, caplog: pytest.LogCaptureFixture) -> None:
    with ArtifactStore(cache_dir) as store:
        key = _put(store)
        entry_path(cache_dir, key).write_bytes(text)
        with caplog.at_level(logging.WARNING):
            assert store.get(key) is None
        assert len(_warnings(caplog)) == 1
        assert not entry_path(cache_dir, key).exists()


def test_artifact_path_in_manifest_cannot_escape_the_cache(cache_dir: Path, tmp_path: Path) -> None:
    """A tampered artifact hash like '../../x' is refused before any file is opened."""
    outside = tmp_path / "secret"
    outside.write_bytes(DATA)
    with ArtifactStore(cache_dir) as store:
        key = _put(store)
        path = entry_path(cache_dir, key)
        obj = json.loads(path.read_text())
        obj["artifact_sha256"] = os.path.relpath(outside, object_path(cache_dir, "ab" * 32).parent)
        path.write_text(json.dumps(obj))
        assert store.get(key) is None


def test_put_refuses_a_manifest_that_does_not_describe_the_bytes(cache_dir: Path) -> None:
    with ArtifactStore(cache_dir) as store:
        m = fake_manifest(DATA)
        with pytest.raises(CacheError, match="does not describe"):
            store.put(m, DATA + b"x")
        with pytest.raises(CacheError, match="not a cache key"):
            store.get("../../etc/passwd")


def test_entries_sharing_an_artifact_keep_it_until_the_last_goes(cache_dir: Path) -> None:
    with ArtifactStore(cache_dir) as store:
        key_a = _put(store, graph="a")
        key_b = _put(store, graph="b")
        store.drop(key_a)
        hit = store.get(key_b)
        assert hit is not None and hit.data == DATA
        store.drop(key_b)
        assert not object_path(cache_dir, hit.manifest.artifact_sha256).exists()


def test_verify_rehashes_everything_and_drops_bad_entries(cache_dir: Path) -> None:
    with ArtifactStore(cache_dir) as store:
        good = _put(store, graph="good", name="good")
        other = b"other artifact" * 100
        bad = _put(store, other, graph="bad", name="bad")
        obj = object_path(cache_dir, fake_manifest(other).artifact_sha256)
        obj.write_bytes(b"x" * len(other))
        problems = store.verify()
        assert [k for k, _ in problems] == [bad]
        assert "differs from the manifest" in problems[0][1]
        assert list(store.keys()) == [good]


def test_parse_size_rejects_nonsense() -> None:
    assert parse_size("1.5K") == 1536
    with pytest.raises(ValueError, match="cannot read a size"):
        parse_size("lots")


def test_a_hit_under_a_new_name_registers_that_name(cache_dir: Path) -> None:
    with ArtifactStore(cache_dir) as store:
        key = _put(store, name="original")
        assert store.find("alias") == []
        assert store.get(key, name="alias") is not None
        assert [m.key for m in store.find("alias", "onnx-cpu")] == [key]
        assert [m.key for m in store.find("alias")] == [key]
        assert [m.key for m in store.find("original")] == [key]


def test_hits_verify_with_blake3_and_fall_back_to_sha256(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("blake3")
    with ArtifactStore(cache_dir) as store:
        key = _put(store)
        stored = json.loads(entry_path(cache_dir, key).read_text())
        assert stored["artifact_blake3"] == _hash.blake3_hex(DATA)
        # a hit checks BLAKE3 only: sha256 is not computed on the hit path
        import webnnc.cache._files as store_module  # where the store verifies bytes

        def no_sha(data: bytes) -> str:
            raise AssertionError("sha256 computed on a BLAKE3 hit")

        monkeypatch.setattr(store_module, "sha256_hex", no_sha)
        assert store.get(key) is not None
        monkeypatch.undo()
        # a manifest whose BLAKE3 was tampered with (sha256 still right) is refused
        stored["artifact_blake3"] = "0" * 64
        entry_path(cache_dir, key).write_text(json.dumps(stored))
        assert store.get(key) is None
        # an entry written without blake3 is verified with sha256 by a reader that has it
        monkeypatch.setattr(_hash, "_blake3", None)
        key = _put(store, graph="plain")
        assert json.loads(entry_path(cache_dir, key).read_text())["artifact_blake3"] == ""
        monkeypatch.undo()
        hit = store.get(key)
        assert hit is not None and hit.data == DATA
