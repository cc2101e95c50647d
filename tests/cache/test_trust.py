"""Issue 15, tried as an attacker would: whoever lacks the user's key cannot choose outputs.

Each test is one point of the issue's "Why" list (2: planted entries, 3: forged bundles,
4: one-character manifest edits and malformed fields, 6: resource bombs in manifests and
bundles, 10: truncated bundles); each failed before entries and bundles were authenticated.
The attacker writes files directly (as another user of a shared folder, or anything that
can write it), never through the store, and holds no key of the user's.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import os
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest

import webnnc
from tests.cache.helpers import X, build_tiny, entry_path, fake_manifest, tiny_expected
from webnnc.cache.bundle import BundleError, BundleReader, export_bundle, import_bundle
from webnnc.cache.manifest import Manifest
from webnnc.cache.store import ArtifactStore
from webnnc.runtime import load
from webnnc.runtime.errors import RuntimeLoadError

DATA = b"artifact " * 200


def _two_graphs(cache_dir: Path) -> tuple[Manifest, Manifest]:
    """The user's graph (k=1) and the attacker's (k=5), both compiled into ``cache_dir``."""
    context = webnnc.ML().create_context(cache_dir=cache_dir)
    build_tiny(context, 1.0, name="mine")
    build_tiny(context, 5.0, name="theirs")
    with ArtifactStore(cache_dir) as store:
        mine, theirs = store.find("mine", "onnx-cpu")[0], store.find("theirs", "onnx-cpu")[0]
    return mine, theirs


def _forge(mine: Manifest, theirs: Manifest) -> bytes:
    """The manifest an attacker writes: the user's key and key parts, the attacker's artifact.

    Every hash in it is right (key parts hash to the key, files add up to the artifact): all
    a reader could check before entries carried the user's tag."""
    forged = theirs.replace(key=mine.key, key_parts=mine.key_parts, name=mine.name)
    return forged.to_json().encode()


def _fresh_build(cache_dir: Path) -> np.ndarray:
    context = webnnc.ML().create_context(cache_dir=cache_dir)
    graph = build_tiny(context, 1.0, name="mine")
    return np.asarray(context.compute(graph, {"x": X})["y"])


def test_planted_entry_is_a_miss_and_the_build_is_right(cache_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    mine, theirs = _two_graphs(cache_dir)
    entry_path(cache_dir, mine.key).write_bytes(_forge(mine, theirs))
    with caplog.at_level(logging.WARNING, logger="webnnc.cache"):
        np.testing.assert_allclose(_fresh_build(cache_dir), tiny_expected(1.0), rtol=1e-6)
        np.testing.assert_allclose(load("mine", cache_dir=cache_dir)({"x": X})["y"], tiny_expected(1.0), rtol=1e-6)
    warnings = [r.getMessage() for r in caplog.records if "not authenticated" in r.getMessage()]
    assert len(warnings) == 1, warnings  # one warning, then the rebuilt entry is the user's again


def test_entry_tagged_with_another_users_key_is_refused(
    cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine, theirs = _two_graphs(cache_dir)
    # the attacker runs webnnc too, with their own key: their tag is valid, but not the user's
    monkeypatch.setenv("WEBNNC_CACHE_KEY_FILE", str(tmp_path / "attacker-key"))
    attacker = ArtifactStore(tmp_path / "attacker-cache")
    raw = attacker._sealed(Manifest.from_json(_forge(mine, theirs)))
    monkeypatch.undo()
    monkeypatch.setenv("WEBNNC_CACHE_DIR", str(cache_dir))
    entry_path(cache_dir, mine.key).write_bytes(raw)
    with ArtifactStore(cache_dir) as store:
        assert store.get(mine.key) is None
    np.testing.assert_allclose(_fresh_build(cache_dir), tiny_expected(1.0), rtol=1e-6)


def test_one_character_manifest_edits_never_give_another_entry(cache_dir: Path) -> None:
    with ArtifactStore(cache_dir) as store:
        m = store.put(fake_manifest(DATA), DATA)
        assert m is not None
        path = entry_path(cache_dir, m.manifest.key)
        original = path.read_bytes()
        text = original.decode()
        for i in range(0, len(text), 3):
            for ch in ("1", "e", '"'):
                if text[i] == ch:
                    continue
                path.write_bytes((text[:i] + ch + text[i + 1 :]).encode())
                hit = store.get(m.manifest.key, use=False)
                assert hit is None or hit.manifest == m.manifest, (i, ch)
                if hit is None:  # dropped: publish the user's entry again for the next edit
                    store.put(m.manifest, DATA)
                path.write_bytes(original)


def test_cache_verify_reports_an_edited_manifest(cache_dir: Path) -> None:
    with ArtifactStore(cache_dir) as store:
        m = store.put(fake_manifest(DATA), DATA)
        assert m is not None
        path = entry_path(cache_dir, m.manifest.key)
        obj = json.loads(path.read_bytes())
        obj["outputs"][0]["shape"] = [3, 2]  # the runtime would read the output with this shape
        path.write_bytes(json.dumps(obj).encode())
        bad = store.verify()
        assert [k for k, _ in bad] == [m.manifest.key] and "not authenticated" in bad[0][1]
        assert store.get(m.manifest.key) is None


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", ["a", "b"]), ("created", 1e300), ("artifact_size", "12"), ("outputs", [{"name": "y", "data_type": "eloat32", "shape": [2]}])],
)
def test_malformed_manifest_fields_do_not_break_listings(
    cache_dir: Path, field: str, value: object, capsys: pytest.CaptureFixture[str]
) -> None:
    from webnnc.cli import main

    with ArtifactStore(cache_dir) as store:
        good = store.put(fake_manifest(DATA, graph="good", name="good"), DATA)
        bad = store.put(fake_manifest(DATA, graph="bad", name="bad"), DATA)
        assert good is not None and bad is not None
        path = entry_path(cache_dir, bad.manifest.key)
        obj = json.loads(path.read_bytes())
        obj[field] = value
        path.write_bytes(json.dumps(obj).encode())
        assert [m.key for m in store.manifests()] == [good.manifest.key]
        assert [e.manifest.key for e in store.entries()] == [good.manifest.key]
    assert main(["cache", "ls", "--cache-dir", str(cache_dir)]) == 0
    assert "good" in capsys.readouterr().out


def test_huge_and_deeply_nested_manifests_are_refused_unparsed(cache_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    with ArtifactStore(cache_dir) as store:
        a = store.put(fake_manifest(DATA, graph="a"), DATA)
        b = store.put(fake_manifest(DATA, graph="b"), DATA)
        assert a is not None and b is not None
        with open(entry_path(cache_dir, a.manifest.key), "wb") as f:
            f.truncate(1 << 30)  # sparse: 1 GiB that must never be read
        entry_path(cache_dir, b.manifest.key).write_bytes(b"[" * 500_000)
        with caplog.at_level(logging.WARNING, logger="webnnc.cache"):
            t0 = time.perf_counter()
            assert store.get(a.manifest.key) is None and store.get(b.manifest.key) is None
            assert time.perf_counter() - t0 < 5
        assert "over the" in caplog.text and "nested too deeply" in caplog.text
        assert list(store.manifests()) == []


# ---------------------------------------------------------------------------- bundles
def _bundle(cache_dir: Path, path: Path, data: bytes = DATA, graph: str = "g") -> Manifest:
    with ArtifactStore(cache_dir) as store:
        hit = store.put(fake_manifest(data, graph=graph, name="model"), data)
        assert hit is not None
        export_bundle(store, path)
    return hit.manifest


def _rewrite_index(path: Path, edit: object) -> None:
    with tarfile.open(path) as tar:
        members = [(i, tar.extractfile(i).read()) for i in tar.getmembers()]  # type: ignore[union-attr]
    with tarfile.open(path, "w") as tar:
        for info, data in members:
            if info.name == "webnnc-bundle.json":
                index = json.loads(data)
                edit(index)  # type: ignore[operator]
                data = json.dumps(index).encode()
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_foreign_and_unsigned_bundles_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBNNC_CACHE_KEY_FILE", str(tmp_path / "attacker-key"))
    foreign = tmp_path / "foreign.webnnc"
    _bundle(tmp_path / "attacker", foreign)
    monkeypatch.setenv("WEBNNC_CACHE_KEY_FILE", str(tmp_path / "user-key"))
    unsigned = tmp_path / "unsigned.webnnc"
    _bundle(tmp_path / "attacker2", unsigned)
    _rewrite_index(unsigned, lambda index: index.pop("signatures"))
    for path, why in ((foreign, "not trusted here"), (unsigned, "is not signed")):
        with ArtifactStore(tmp_path / "dest") as dest:
            with pytest.raises(BundleError, match=why):
                import_bundle(dest, path)
            assert list(dest.keys()) == []
        with pytest.raises(RuntimeLoadError, match=why):
            load("model", bundle=path)
        with ArtifactStore(tmp_path / "dest") as dest:  # the explicit opt-in
            assert len(import_bundle(dest, path, trust_unsigned=True).imported) == 1
            dest.clear()


def test_bundle_signed_by_a_trusted_key_then_edited_is_refused_even_when_trusting_unsigned(
    tmp_path: Path,
) -> None:
    path = tmp_path / "b.webnnc"
    m = _bundle(tmp_path / "src", path)
    other = fake_manifest(b"other bytes" * 50, graph="g2", name="model")

    def swap(index: dict) -> None:  # the signature stays, the entry's name record moves
        index["signatures"][m.key]["value"] = "0" * 64

    _rewrite_index(path, swap)
    with pytest.raises(BundleError, match="does not verify"):
        import_bundle(ArtifactStore(tmp_path / "dest"), path, trust_unsigned=True)
    assert other.key != m.key


def test_trusted_team_key_and_env_listed_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBNNC_BUNDLE_KEY", "team secret shared by CI and fleet")
    monkeypatch.setenv("WEBNNC_CACHE_KEY_FILE", str(tmp_path / "ci-key"))
    path = tmp_path / "team.webnnc"
    _bundle(tmp_path / "ci", path)
    monkeypatch.setenv("WEBNNC_CACHE_KEY_FILE", str(tmp_path / "fleet-key"))  # another machine
    with ArtifactStore(tmp_path / "fleet") as dest:
        assert len(import_bundle(dest, path).imported) == 1
    monkeypatch.delenv("WEBNNC_BUNDLE_KEY")
    with pytest.raises(BundleError, match="not trusted here"):
        import_bundle(ArtifactStore(tmp_path / "fleet2"), path)


def test_same_key_other_bytes_is_reported_not_present(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "b.webnnc"
    m = _bundle(tmp_path / "src", path)
    with ArtifactStore(tmp_path / "dest") as dest:
        other = fake_manifest(b"x" * 99).replace(key=m.key, key_parts=m.key_parts, name="model")
        assert dest.put(other, b"x" * 99) is not None
        with caplog.at_level(logging.WARNING, logger="webnnc.cache"):
            report = import_bundle(dest, path)
        assert report.present == [] and [c.key for c in report.conflicts] == [m.key]
        assert "differs from the cache's entry" in caplog.text
        hit = dest.get(m.key)
        assert hit is not None and hit.data == b"x" * 99  # the cache's own entry is kept


def test_unsigned_alias_cannot_point_a_name_at_another_entry(tmp_path: Path) -> None:
    path = tmp_path / "b.webnnc"
    m = _bundle(tmp_path / "src", path)
    _rewrite_index(path, lambda index: index["entries"][0]["names"].append("victim-model"))
    with BundleReader(path) as reader:
        from webnnc.cache.bundle import bundle_keyring

        reader.check_origin(bundle_keyring())
        assert reader.find("victim-model") == [] and [x.key for x in reader.find("model")] == [m.key]


def _bomb_bundle(path: Path, header_bytes: int) -> None:
    """A gzip bundle whose first member is a pax header declaring ``header_bytes``."""
    raw = io.BytesIO()
    info = tarfile.TarInfo("././@PaxHeader")
    info.type = tarfile.XHDTYPE
    info.size = header_bytes
    raw.write(info.tobuf(format=tarfile.USTAR_FORMAT))
    with gzip.open(path, "wb") as f:
        f.write(raw.getvalue())
        zeros = b"0" * (1 << 20)
        for _ in range(header_bytes >> 20):
            f.write(zeros)


def test_resource_bombs_in_bundles_are_refused_with_one_line(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.webnnc"
    _bomb_bundle(bomb, 256 << 20)  # ~250 KB of gzip declaring a 256 MiB header
    assert bomb.stat().st_size < 2 << 20
    with pytest.raises(BundleError, match="extension header"):
        BundleReader(bomb)
    # an index over its limit is refused from its declared size
    big = tmp_path / "big.webnnc"
    _bundle(tmp_path / "src", big)
    _rewrite_index(big, lambda index: index.update(pad="x" * (17 << 20)))
    with pytest.raises(BundleError, match=r"over the .* limit"):
        BundleReader(big)
    # an artifact member whose size is not the manifest's is refused before it is read
    lying = tmp_path / "lying.webnnc"
    _bundle(tmp_path / "src2", lying)
    with tarfile.open(lying) as tar:
        members = [(i, tar.extractfile(i).read()) for i in tar.getmembers()]  # type: ignore[union-attr]
    with tarfile.open(lying, "w") as tar:
        for info, data in members:
            if info.name.startswith("objects/"):
                data = data * 3
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(BundleError, match="its manifest says"):
        BundleReader(lying)


def test_truncated_bundle_is_one_clean_error(tmp_path: Path) -> None:
    path = tmp_path / "b.webnnc"
    _bundle(tmp_path / "src", path, data=os.urandom(50_000))
    raw = path.read_bytes()
    for cut in (len(raw) // 3, len(raw) // 2, raw.rfind(b'"bundle_version"') + 5):  # the index is last
        path.write_bytes(raw[:cut])
        with pytest.raises(BundleError), BundleReader(path) as reader:
            reader.verify_all()
        with pytest.raises(RuntimeLoadError):
            load("model", bundle=path)


# ---------------------------------------------------------------------------- the key
def test_key_is_created_private_outside_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WEBNNC_CACHE_KEY_FILE")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    with ArtifactStore(tmp_path / "cache") as store:
        assert store.put(fake_manifest(DATA), DATA) is not None
    key = tmp_path / "config" / "webnnc" / "cache-key"
    assert key.stat().st_mode & 0o777 == 0o600 and (key.parent.stat().st_mode & 0o777) == 0o700
    assert not any(p.name == "cache-key" for p in (tmp_path / "cache").rglob("*"))


def test_a_key_others_can_read_leaves_the_cache_unused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    key = tmp_path / "shared-key"
    key.write_text("a" * 64)
    key.chmod(0o644)
    monkeypatch.setenv("WEBNNC_CACHE_KEY_FILE", str(key))
    with caplog.at_level(logging.WARNING, logger="webnnc.cache"), ArtifactStore(tmp_path / "cache") as store:
        assert store.put(fake_manifest(DATA), DATA) is None
        assert not store.trusted and "readable or writable by others" in caplog.text
