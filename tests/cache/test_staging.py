"""A compile's staging folder: written outside the store lock, published in place."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from tests.cache.helpers import fake_manifest
from webnnc.cache._publish import STAGING_STALE_S
from webnnc.cache.errors import CacheCorruptionError
from webnnc.cache.manifest import tree_digest
from webnnc.cache.store import ArtifactStore


def test_staged_files_publish_in_place_with_the_facts_put_records(cache_dir: Path) -> None:
    files = {"model.onnx": b"graph bytes", "weights": os.urandom(3 << 20)}  # over the threaded size
    with ArtifactStore(cache_dir) as store, store.staging() as staging:
        for name, data in files.items():
            (staging.path / name).write_bytes(data)
        facts = staging.file_facts()
        assert {n: (f["sha256"], f["size"]) for n, f in facts.items()} == {
            n: (hashlib.sha256(d).hexdigest(), len(d)) for n, d in files.items()}
        base = fake_manifest(b"x")
        wrong = base.replace(files=facts, artifact_sha256="0" * 64)
        with pytest.raises(CacheCorruptionError):
            store.put(wrong, staging)
        manifest = base.replace(files=facts, artifact_sha256=tree_digest(facts),
                                       artifact_size=sum(len(d) for d in files.values()))
        stored = store.put(manifest, staging)
        assert stored is not None and stored.data == files["model.onnx"]
        assert not staging.path.exists()  # moved, not copied
        assert (Path(stored.path) / "weights").read_bytes() == files["weights"]
        assert store.verify() == []


def test_gc_spares_a_live_staging_folder_and_removes_a_stale_one(cache_dir: Path) -> None:
    with ArtifactStore(cache_dir) as store:
        live = store.staging()
        (live.path / "weights").write_bytes(b"being written")
        stale = store.staging()
        (stale.path / "weights").write_bytes(b"left by a killed compile")
        old = time.time() - STAGING_STALE_S - 60
        for p in (stale.path / "weights", stale.path):
            os.utime(p, (old, old))
        store.gc()
        store.evict(limit=0)
        assert live.path.is_dir() and not stale.path.exists()
        live.__exit__(None, None, None)
        assert not live.path.exists()
