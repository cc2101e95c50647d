"""Derived entries (the store's API for artifacts made from other artifacts) and the archive format.

These run on any OS: they exercise what the macOS-only CoreML load path calls
(``derived_parts``, ``ArtifactStore.get_derived/put_derived/unpacked_dir``) with plain bytes.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import zipfile
from pathlib import Path

import pytest

from tests.cache.helpers import fake_manifest
from webnnc.cache.archive import (
    UnsafeArchiveError,
    folder_matches,
    materialize,
    pack_directory,
    unpack,
)
from webnnc.cache.errors import CacheError
from webnnc.cache.key import LAYOUT_VERSION, derived_parts, key_digest
from webnnc.cache.store import ArtifactStore


def _tree(root: Path) -> Path:
    (root / "sub").mkdir(parents=True)
    (root / "a.bin").write_bytes(b"\x00\x01" * 10)
    (root / "sub" / "b.txt").write_text("hello")
    return root


def _zip(*entries: tuple[str, bytes, int]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = mode << 16
            zf.writestr(info, data)
    return buf.getvalue()


# ---------------------------------------------------------------- archive
def test_pack_is_deterministic_and_round_trips(tmp_path: Path) -> None:
    src = _tree(tmp_path / "src")
    data = pack_directory(src)
    os.utime(src / "a.bin", (1, 1))  # times do not matter
    assert pack_directory(src) == data
    unpack(data, tmp_path / "out")
    assert (tmp_path / "out" / "sub" / "b.txt").read_text() == "hello"
    assert pack_directory(tmp_path / "out") == data


@pytest.mark.parametrize("name", ["/etc/passwd", "../escape", "a/../../escape", "C:/x", "a\\..\\b", "./a"])
def test_unpack_refuses_names_that_escape(tmp_path: Path, name: str) -> None:
    with pytest.raises(UnsafeArchiveError):
        unpack(_zip(("ok.txt", b"1", 0o644), (name, b"x", 0o644)), tmp_path / "out")
    assert not (tmp_path / "out" / "ok.txt").exists()  # nothing written before the check


def test_unpack_refuses_links(tmp_path: Path) -> None:
    with pytest.raises(UnsafeArchiveError, match="not a plain file"):
        unpack(_zip(("link", b"/etc/passwd", stat.S_IFLNK | 0o777)), tmp_path / "out")


def test_materialize_replaces_an_edited_folder(tmp_path: Path) -> None:
    data = pack_directory(_tree(tmp_path / "src"))
    sha = hashlib.sha256(data).hexdigest()
    folder = materialize(data, sha, tmp_path / "root", suffix=".d")
    assert folder == tmp_path / "root" / f"{sha}.d" and folder_matches(folder, sha)
    (folder / "a.bin").write_bytes(b"edited")
    assert not folder_matches(folder, sha)
    again = materialize(data, sha, tmp_path / "root", suffix=".d")
    assert again == folder and folder_matches(again, sha)
    private = materialize(data, sha, None)
    assert private.parent != tmp_path / "root" and folder_matches(private, sha)


# ---------------------------------------------------------------- derived entries
def test_derived_parts_are_keyed_like_any_entry() -> None:
    parts = derived_parts("kind-x", "coreml", {"package_sha256": "ab" * 32, "library.tool": "1.0"})
    assert parts["layout_version"] == str(LAYOUT_VERSION) and list(parts) == sorted(parts)
    other = derived_parts("kind-x", "coreml", {"package_sha256": "ab" * 32, "library.tool": "1.1"})
    assert key_digest(parts) != key_digest(other)
    with pytest.raises(ValueError, match="redefine"):
        derived_parts("k", "coreml", {"target": "onnx-cpu"})


def test_put_and_get_derived(cache_dir: Path) -> None:
    source = fake_manifest(b"package bytes", target="coreml", libraries={})
    parts = derived_parts("kind-x", "coreml", {"package_sha256": source.artifact_sha256})
    with ArtifactStore(cache_dir) as store:
        assert store.get_derived(parts) is None
        stored = store.put_derived(parts, b"compiled", source=source, format="fmt-x", timings_ms={"t": 1.0})
        assert stored is not None
        hit = store.get_derived(parts)
        assert hit is not None and hit.data == b"compiled"
        m = hit.manifest
        assert m.key == key_digest(parts) and m.format == "fmt-x" and m.target == "coreml"
        assert m.extra["source_key"] == source.key and m.outputs == source.outputs
        assert store.verify() == []  # a derived entry verifies like any other


def test_put_derived_never_raises(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = fake_manifest(b"package bytes", target="coreml", libraries={})
    parts = derived_parts("kind-x", "coreml", {"package_sha256": source.artifact_sha256})
    with ArtifactStore(cache_dir) as store:
        def boom(*args: object, **kwargs: object) -> None:
            raise CacheError("disk on fire")

        monkeypatch.setattr(store, "put", boom)
        assert store.put_derived(parts, b"compiled", source=source, format="fmt-x") is None


def test_unpacked_dir_lives_in_the_cache(cache_dir: Path, tmp_path: Path) -> None:
    data = pack_directory(_tree(tmp_path / "src"))
    sha = hashlib.sha256(data).hexdigest()
    with ArtifactStore(cache_dir) as store:
        folder = store.unpacked_dir(data, sha, folder="fam", suffix=".d")
        assert folder == cache_dir / "fam" / f"{sha}.d" and (folder / "sub" / "b.txt").exists()
        assert store.unpacked_dir(data, sha, folder="fam", suffix=".d") == folder
        for bad in ("objects", "../x", "a/b", ""):
            with pytest.raises(CacheError):
                store.unpacked_dir(data, sha, folder=bad)


def test_unpacked_dir_falls_back_to_a_private_folder(cache_dir: Path, tmp_path: Path) -> None:
    data = pack_directory(_tree(tmp_path / "src"))
    sha = hashlib.sha256(data).hexdigest()
    with ArtifactStore(cache_dir) as store:
        (cache_dir / "fam").write_text("a file where the folder should be")
        folder = store.unpacked_dir(data, sha, folder="fam")
        assert not folder.is_relative_to(cache_dir) and folder_matches(folder, sha)
