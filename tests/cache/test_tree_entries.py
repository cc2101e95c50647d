"""Multi-file entries (graph + mapped weights): publish, fingerprinted hits, tampering, accounting.

The store does not parse artifacts, so these use fake files; tests/runtime and tests/e2e run
real ones through ONNX Runtime.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import pytest

from tests.cache.helpers import fake_manifest
from webnnc.cache import _tree
from webnnc.cache.bundle import BundleReader, export_bundle, import_bundle
from webnnc.cache.manifest import Manifest, tree_digest
from webnnc.cache.store import ArtifactStore

GRAPH = b"graph-bytes" * 10
WEIGHTS = bytes(range(256)) * 4096  # 1 MiB


def _manifest(blob: bytes = GRAPH, weights: bytes = WEIGHTS, **kwargs: object) -> Manifest:
    files = {n: _tree.file_facts(b) for n, b in (("model.onnx", blob), ("weights", weights))}
    for f in files.values():
        f.pop("blake3")
    base = fake_manifest(b"", **kwargs)  # type: ignore[arg-type]
    return base.replace(files=files, artifact_sha256=tree_digest(files), artifact_size=len(blob) + len(weights))


def _put(store: ArtifactStore, m: Manifest | None = None) -> Manifest:
    m = m or _manifest()
    stored = store.put(m, {"model.onnx": GRAPH, "weights": WEIGHTS})
    assert stored is not None and stored.folder is not None and stored.data == GRAPH
    return stored.manifest


def _age(monkeypatch: pytest.MonkeyPatch) -> None:
    # the weights were written just now: move the racy window instead of sleeping
    monkeypatch.setattr(_tree, "_RACY_S", -1.0)


def test_publish_stores_one_private_folder_and_hits_return_the_graph(cache_dir: Path) -> None:
    with ArtifactStore(cache_dir) as store:
        m = _put(store)
        folder = cache_dir / "objects" / m.artifact_sha256[:2] / m.artifact_sha256
        assert sorted(p.name for p in folder.iterdir()) == ["model.onnx", "weights"]
        assert (folder / "weights").read_bytes() == WEIGHTS
        assert os.stat(folder / "weights").st_mode & 0o077 == 0 and os.stat(folder).st_mode & 0o077 == 0
        assert all(len(f["blake3"]) == 64 for f in m.files.values()), "put records BLAKE3 per file"
        hit = store.get(m.key)
        assert hit is not None and hit.data == GRAPH and hit.folder == str(folder)
        assert store.volume() >= len(GRAPH) + len(WEIGHTS), "size accounting counts every file"
        assert store.find("model", "onnx-cpu")[0].key == m.key


def test_weights_are_hashed_on_first_use_then_trusted_by_fingerprint(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ArtifactStore(cache_dir) as store:
        m = _put(store)
        _age(monkeypatch)
        first = store.get(m.key)
        assert first is not None and "hash_weights" in first.timings_ms
        again = store.get(m.key)
        assert again is not None and "fingerprint" in again.timings_ms and "hash_weights" not in again.timings_ms


def test_an_edited_weights_file_is_detected_and_dropped(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with ArtifactStore(cache_dir) as store:
        m = _put(store)
        _age(monkeypatch)
        assert store.get(m.key) is not None  # fingerprint recorded
        weights = Path(store.get(m.key).path) / "weights"  # type: ignore[union-attr]
        st = weights.stat()
        with open(weights, "r+b") as f:  # same size, one byte flipped, mtime put back
            f.seek(12345)
            f.write(bytes([WEIGHTS[12345] ^ 1]))
        os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns))
        with caplog.at_level(logging.WARNING):
            assert store.get(m.key) is None
        assert "corrupt" in caplog.text and "weights" in caplog.text
        assert not weights.exists(), "the bad object is removed, so the next build stores a fresh one"


def test_a_symlinked_weights_file_is_refused(cache_dir: Path, tmp_path: Path) -> None:
    with ArtifactStore(cache_dir) as store:
        m = _put(store)
        weights = cache_dir / "objects" / m.artifact_sha256[:2] / m.artifact_sha256 / "weights"
        outside = tmp_path / "elsewhere"
        outside.write_bytes(WEIGHTS)
        weights.unlink()
        weights.symlink_to(outside)
        assert store.get(m.key) is None
        assert outside.exists(), "never follows the link to delete its target"


@pytest.mark.parametrize("files", [{"../model.onnx": {}}, {"weights": {}}, {"model.onnx": {"sha256": "x", "size": 1}}])
def test_manifest_file_lists_outside_the_fixed_names_are_corrupt(cache_dir: Path, files: dict) -> None:
    with ArtifactStore(cache_dir) as store:
        m = _put(store)
        path = cache_dir / "entries" / m.key[:2] / f"{m.key}.json"
        obj = json.loads(path.read_text())
        obj["files"] = files
        path.write_text(json.dumps(obj))
        assert store.get(m.key) is None


def test_eviction_removes_whole_folders(cache_dir: Path) -> None:
    with ArtifactStore(cache_dir, size_limit=int(1.5 * len(WEIGHTS))) as store:
        a = _put(store)
        time.sleep(0.01)
        other = bytes(reversed(WEIGHTS))
        mb = _manifest(weights=other, graph="g1")
        assert store.put(mb, {"model.onnx": GRAPH, "weights": other}) is not None
        assert store.get(a.key) is None and store.get(mb.key) is not None
        assert not (cache_dir / "objects" / a.artifact_sha256[:2] / a.artifact_sha256).exists()
        assert store.volume() <= 1.5 * len(WEIGHTS)


def test_verify_rehashes_every_file(cache_dir: Path) -> None:
    with ArtifactStore(cache_dir) as store:
        m = _put(store)
        assert store.verify() == []
        weights = cache_dir / "objects" / m.artifact_sha256[:2] / m.artifact_sha256 / "weights"
        weights.write_bytes(WEIGHTS[:-1] + b"\0")
        bad = store.verify()
        assert [k for k, _ in bad] == [m.key]


def test_bundles_carry_every_file(cache_dir: Path, tmp_path: Path) -> None:
    with ArtifactStore(cache_dir) as store:
        m = _put(store)
        export_bundle(store, tmp_path / "b.webnnc")
    with BundleReader(tmp_path / "b.webnnc") as reader:
        reader.verify_all()
        files = reader.artifact(m.key)
        assert files == {"model.onnx": GRAPH, "weights": WEIGHTS}
    with ArtifactStore(tmp_path / "other") as other:
        imported, _ = import_bundle(other, tmp_path / "b.webnnc")
        assert [x.key for x in imported] == [m.key]
        hit = other.get(m.key)
        assert hit is not None and (Path(hit.path) / "weights").read_bytes() == WEIGHTS


@pytest.mark.parametrize("mode", [0o775, 0o777])
def test_a_folder_others_can_write_is_not_used(
    tmp_path: Path, mode: int, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / f"shared-{mode:o}"
    with ArtifactStore(folder) as store:
        m = _put(store)
    folder.chmod(mode)
    with caplog.at_level(logging.WARNING), ArtifactStore(folder) as store:
        assert not store.trusted and store.get(m.key) is None
        assert store.put(m, {"model.onnx": GRAPH, "weights": WEIGHTS}) is None
    assert "writable by" in caplog.text
    if mode == 0o775:  # a trusted group may opt in
        monkeypatch.setenv("WEBNNC_CACHE_SHARED", "group")
        with ArtifactStore(folder) as store:
            assert store.get(m.key) is not None
