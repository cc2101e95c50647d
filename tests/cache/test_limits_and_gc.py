"""Size limit with least-recently-used eviction; gc removes what no current version can use."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.cache.helpers import FORMAT_VERSION, entry_path, fake_manifest, object_path
from webnnc.cache.compat import runtime_incompatibility, unusable_reason
from webnnc.cache.key import LAYOUT_VERSION
from webnnc.cache.store import DEFAULT_SIZE_LIMIT, ArtifactStore

KIB = 1024


def _blob(i: int) -> bytes:
    return bytes([i]) * (10 * KIB)


def _put(store: ArtifactStore, i: int, *, used: float) -> str:
    m = fake_manifest(_blob(i), graph=f"g{i}", name=f"m{i}")
    assert store.put(m, _blob(i)) is not None
    os.utime(entry_path(store.directory, m.key), (used, used))  # last use, explicitly
    return m.key


def test_default_limit_is_explicit_and_configurable(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert ArtifactStore(cache_dir).size_limit == DEFAULT_SIZE_LIMIT == 8 * 2**30
    monkeypatch.setenv("WEBNNC_CACHE_SIZE_LIMIT", "512M")
    assert ArtifactStore(cache_dir).size_limit == 512 * 2**20
    assert ArtifactStore(cache_dir, size_limit="1G").size_limit == 2**30


def test_eviction_removes_least_recently_used_first_and_respects_the_limit(cache_dir: Path) -> None:
    now = time.time()
    limit = 35 * KIB  # room for three 10 KiB artifacts and their manifests
    with ArtifactStore(cache_dir, size_limit=limit) as store:
        k0 = _put(store, 0, used=now - 400)
        k1 = _put(store, 1, used=now - 300)
        k2 = _put(store, 2, used=now - 200)
        assert store.get(k0) is not None  # k0 is now the most recently used
        k3 = _put(store, 3, used=now - 100)  # over the limit: the LRU entry (k1) goes
        assert sorted(store.keys()) == sorted([k0, k2, k3])
        assert not object_path(cache_dir, fake_manifest(_blob(1)).artifact_sha256).exists()
        assert store.volume() <= limit
        k4 = _put(store, 4, used=now)
        assert sorted(store.keys()) == sorted([k0, k3, k4])  # then k2
        assert store.volume() <= limit
        assert store.get(k1) is None and store.find("m1") == []


def test_the_entry_just_stored_is_never_evicted_even_when_alone_over_the_limit(
    cache_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with ArtifactStore(cache_dir, size_limit=5 * KIB) as store:
        key = _put(store, 0, used=time.time())
        assert list(store.keys()) == [key]
        assert store.get(key) is not None
    assert any("over its" in r.getMessage() for r in caplog.records)


def test_gc_removes_entries_no_current_version_can_use_and_debris(cache_dir: Path) -> None:
    with ArtifactStore(cache_dir) as store:
        current = fake_manifest(_blob(1), graph="now")
        old_format = fake_manifest(_blob(2), graph="old", format_version=FORMAT_VERSION - 1)
        old_layout = fake_manifest(_blob(3), graph="layout", layout_version=LAYOUT_VERSION - 1)
        other_ort = fake_manifest(_blob(4), graph="ort", libraries={"onnxruntime": "1.0.0"})
        for m, i in ((current, 1), (old_format, 2), (old_layout, 3), (other_ort, 4)):
            assert store.put(m, _blob(i)) is not None
        orphan = object_path(cache_dir, "ab" * 32)
        orphan.parent.mkdir(parents=True, exist_ok=True)
        orphan.write_bytes(b"unreferenced")
        (cache_dir / "tmp" / "half-written.tmp").write_bytes(b"x")

        def unusable(m: object) -> str | None:
            return unusable_reason(m, format_version=FORMAT_VERSION)  # type: ignore[arg-type]

        dry = store.gc(unusable, dry_run=True)
        assert len(dry.entries) == 3 and len(list(store.keys())) == 4, "dry run removes nothing"
        report = store.gc(unusable)
        reasons = dict(report.entries)
        assert f"format version {FORMAT_VERSION - 1}" in reasons[old_format.key]
        assert "layout version" in reasons[old_layout.key]
        assert "onnxruntime 1.0.0" in reasons[other_ort.key]
        assert list(store.keys()) == [current.key]
        assert report.orphan_objects == 4 and report.tmp_files == 1  # 3 freed artifacts + the stray one
        assert not orphan.exists()
        assert store.get(current.key) is not None


def test_runtime_compatibility_explains_itself() -> None:
    m = fake_manifest(b"x", libraries={"onnxruntime": "0.1"})
    assert runtime_incompatibility(m, "onnx-cuda") == "compiled for target onnx-cpu, not onnx-cuda"
    problem = runtime_incompatibility(m, "onnx-cpu")
    assert problem is not None and "onnxruntime 0.1" in problem
    assert runtime_incompatibility(fake_manifest(b"x"), "onnx-cpu") is None


def test_evicting_an_entry_in_use_does_not_pull_it_from_under_the_running_graph(cache_dir: Path) -> None:
    import numpy as np

    import webnnc
    from tests.cache.helpers import X, build_tiny, tiny_expected

    build_tiny(webnnc.ML().create_context(cache_dir=cache_dir), 6.0, name="in-use")
    context = webnnc.ML().create_context(cache_dir=cache_dir)
    graph = build_tiny(context, 6.0)  # a hit: the session holds the verified bytes
    assert graph.build_info["source"] == "cache-hit"
    with ArtifactStore(cache_dir) as store:
        assert len(store.evict(limit=0)) == 1
        assert list(store.keys()) == [] and store.volume() == 0
    for _ in range(3):
        np.testing.assert_allclose(context.compute(graph, {"x": X})["y"], tiny_expected(6.0), rtol=1e-6)
