"""Hostile settings and planted files around the store: one CacheError naming the setting,
or the damage is dropped and the next build works (second adversarial audit, wave 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cache.helpers import entry_path, fake_manifest
from webnnc.cache.errors import CacheError
from webnnc.cache.store import ArtifactStore

DATA = b"artifact bytes " * 64


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("WEBNNC_CACHE_LOCK_TIMEOUT", "abc", "WEBNNC_CACHE_LOCK_TIMEOUT: expected a number of seconds >= 0; found 'abc'"),
        ("WEBNNC_CACHE_LOCK_TIMEOUT", "-1", "WEBNNC_CACHE_LOCK_TIMEOUT: expected a number of seconds >= 0; found '-1'"),
        ("WEBNNC_CACHE_LOCK_TIMEOUT", "nan", "WEBNNC_CACHE_LOCK_TIMEOUT: expected a number of seconds >= 0; found 'nan'"),
        ("WEBNNC_CACHE_SIZE_LIMIT", "abc", "WEBNNC_CACHE_SIZE_LIMIT: cannot read a size from 'abc'"),
    ],
)
def test_a_garbage_setting_is_named(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(CacheError) as info:
        ArtifactStore(cache_dir)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_an_explicit_argument_is_named_too(cache_dir: Path) -> None:
    with pytest.raises(CacheError, match="lock_timeout: expected a number of seconds >= 0; found -5"):
        ArtifactStore(cache_dir, lock_timeout=-5)
    with pytest.raises(CacheError, match="size_limit: cannot read a size"):
        ArtifactStore(cache_dir, size_limit="lots")


@pytest.mark.parametrize("how", ["verify", "gc", "put"])
def test_a_folder_planted_as_a_manifest_is_dropped(cache_dir: Path, how: str) -> None:
    manifest = fake_manifest(DATA)
    with ArtifactStore(cache_dir) as store:
        assert store.put(manifest, DATA) is not None
    entry = entry_path(cache_dir, manifest.key)
    entry.unlink()
    entry.mkdir()
    (entry / "inside").write_text("not a manifest")
    with ArtifactStore(cache_dir) as store:
        if how == "verify":
            assert [k for k, _ in store.verify()] == [manifest.key]
        elif how == "gc":
            store.gc()
        else:  # a build of the same key finds the damage, drops it and publishes anew
            assert store.get(manifest.key) is None
        assert not entry.is_dir()
        assert store.put(manifest, DATA) is not None
        hit = store.get(manifest.key)
        assert hit is not None and hit.data == DATA
