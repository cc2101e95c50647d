"""Deployment bundles: export -> import round trip, load without the compiler, tampering rejected."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import webnnc
from tests.cache.helpers import X, build_tiny, fake_manifest, tiny_expected
from tests.conftest import run_python
from webnnc.cache.bundle import BundleError, BundleReader, export_bundle, import_bundle
from webnnc.cache.store import ArtifactStore

DATA_A = b"artifact A " * 300
DATA_B = b"artifact B " * 300


@pytest.fixture
def bundle(tmp_path: Path, cache_dir: Path) -> Path:
    with ArtifactStore(cache_dir) as store:
        assert store.put(fake_manifest(DATA_A, graph="a", name="a"), DATA_A) is not None
        assert store.put(fake_manifest(DATA_B, graph="b", name="b"), DATA_B) is not None
        path = tmp_path / "models.webnnc"
        exported = export_bundle(store, path)
    assert sorted(m.name or "" for m in exported) == ["a", "b"]
    return path


def _members(path: Path) -> list[tuple[tarfile.TarInfo, bytes]]:
    with tarfile.open(path) as tar:
        out = []
        for info in tar.getmembers():
            f = tar.extractfile(info)
            out.append((info, f.read() if f else b""))
        return out


def _rewrite(path: Path, edit: Callable[[str, bytes], bytes]) -> None:
    members = _members(path)
    with tarfile.open(path, "w") as tar:
        for info, data in members:
            data = edit(info.name, data)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_round_trip_imports_exactly_the_verified_entries(bundle: Path, tmp_path: Path) -> None:
    with ArtifactStore(tmp_path / "other") as dest:
        imported, present = import_bundle(dest, bundle)
        assert sorted(m.name or "" for m in imported) == ["a", "b"] and present == []
        for name, data in (("a", DATA_A), ("b", DATA_B)):
            key = dest.resolve_name(name, "onnx-cpu")
            assert key is not None
            hit = dest.get(key)
            assert hit is not None and hit.data == data
        again, present = import_bundle(dest, bundle)
        assert again == [] and len(present) == 2


def test_export_of_selected_names_only(cache_dir: Path, tmp_path: Path) -> None:
    with ArtifactStore(cache_dir) as store:
        store.put(fake_manifest(DATA_A, graph="a", name="a"), DATA_A)
        store.put(fake_manifest(DATA_B, graph="b", name="b"), DATA_B)
        export_bundle(store, tmp_path / "one.webnnc", ["b"])
        with pytest.raises(BundleError, match="no entry named 'zzz'"):
            export_bundle(store, tmp_path / "none.webnnc", ["zzz"])
    with BundleReader(tmp_path / "one.webnnc") as reader:
        assert [m.name for m in reader.manifests.values()] == ["b"]
    assert not (tmp_path / "none.webnnc").exists()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        pytest.param(
            lambda name, data: data[:-1] + bytes([data[-1] ^ 1]) if name.startswith("objects/") else data,
            "do not match",
            id="artifact-byte-flipped",
        ),
        pytest.param(
            lambda name, data: data.replace(b'"library.onnxruntime":"', b'"library.onnxruntime":"9')
            if name.startswith("entries/")
            else data,
            "key parts do not hash",
            id="manifest-key-parts-edited",
        ),
        pytest.param(
            lambda name, data: data.replace(b'"bundle_version": 1', b'"bundle_version": 7')
            if name == "webnnc-bundle.json"
            else data,
            "bundle_version 7",
            id="unknown-bundle-version",
        ),
    ],
)
def test_tampered_bundle_is_rejected_and_imports_nothing(
    bundle: Path, tmp_path: Path, edit: Callable[[str, bytes], bytes], message: str
) -> None:
    _rewrite(bundle, edit)
    with ArtifactStore(tmp_path / "dest") as dest:
        with pytest.raises(BundleError, match=message):
            import_bundle(dest, bundle)
        assert list(dest.keys()) == []


@pytest.mark.parametrize("kind", ["symlink", "path-traversal", "extra-file"])
def test_unexpected_members_reject_the_bundle(bundle: Path, tmp_path: Path, kind: str) -> None:
    with tarfile.open(bundle, "a") as tar:
        if kind == "symlink":
            info = tarfile.TarInfo("objects/" + "cd" * 32)
            info.type = tarfile.SYMTYPE
            info.linkname = "/etc/passwd"
            tar.addfile(info)
        else:
            info = tarfile.TarInfo("../../evil.py" if kind == "path-traversal" else "entries/notes.txt")
            info.size = 5
            tar.addfile(info, io.BytesIO(b"print"))
    with pytest.raises(BundleError, match="rejected"):
        import_bundle(ArtifactStore(tmp_path / "dest"), bundle)
    assert not (tmp_path / "evil.py").exists() and not (tmp_path.parent / "evil.py").exists()


def test_not_a_bundle(tmp_path: Path) -> None:
    junk = tmp_path / "junk.webnnc"
    junk.write_bytes(b"\x00" * 2000)
    with pytest.raises(BundleError, match="not a"):
        BundleReader(junk)


@pytest.mark.parametrize(
    ("content", "found"),
    [(b"", "found an empty file"), (b"\x89PNG not a tar" * 100, "found 1400 B of something else")],
)
def test_not_a_tar_is_one_line_naming_the_file(tmp_path: Path, content: bytes, found: str) -> None:
    # tarfile's own message lists every method it tried, one per line
    junk = tmp_path / "junk.webnnc"
    junk.write_bytes(content)
    with pytest.raises(BundleError) as e:
        BundleReader(junk)
    assert "\n" not in str(e.value) and str(junk) in str(e.value) and found in str(e.value), str(e.value)


def _edit_index(edit: Callable[[dict[str, object]], object]) -> Callable[[str, bytes], bytes]:
    def rewrite(name: str, data: bytes) -> bytes:
        return json.dumps(edit(json.loads(data))).encode() if name == "webnnc-bundle.json" else data

    return rewrite


def _set_in_first_entry(field: str, value: object) -> Callable[[dict[str, object]], object]:
    def edit(index: dict[str, object]) -> object:
        entries = index["entries"]
        assert isinstance(entries, list)
        entries[0][field] = value
        return index

    return edit


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda index: [index], "expected a JSON object, found a list"),
        (lambda index: None, "expected a JSON object, found null"),
        (lambda index: {**index, "entries": {"a": 1}}, "'entries': expected a list, found an object"),
        (lambda index: {**index, "entries": "abc"}, "'entries': expected a list, found a string"),
        (lambda index: {**index, "entries": [[1, 2]]}, "entries[0]: expected an object with key and sha256, found a list"),
        (_set_in_first_entry("key", "../../etc"), "entries[0].key: expected 64 hex digits, found '../../etc'"),
        (_set_in_first_entry("sha256", 5), "entries[0].sha256: expected 64 hex digits, found 5"),
        # a string was once taken letter by letter: names 'a' ... as unsigned aliases
        (_set_in_first_entry("names", "abc"), "entries[0].names: expected a list of strings, found a string"),
        (lambda index: {**index, "entries": [*index["entries"], index["entries"][0]]}, "is listed twice"),
    ],
)
def test_malformed_index_says_what_was_expected_and_found(
    bundle: Path, tmp_path: Path, edit: Callable[[dict[str, object]], object], message: str
) -> None:
    _rewrite(bundle, _edit_index(edit))
    with ArtifactStore(tmp_path / "dest") as dest:
        with pytest.raises(BundleError) as e:
            import_bundle(dest, bundle)
        text = str(e.value)
        assert f"{bundle}: rejected: malformed webnnc-bundle.json: " in text and message in text, text
        assert "\n" not in text
        assert list(dest) == []  # nothing imported
    with ArtifactStore(tmp_path / "dest") as dest:  # the cache still takes a good entry
        assert dest.put(fake_manifest(DATA_A, graph="a", name="a"), DATA_A) is not None


def test_export_to_a_folder_or_an_unwritable_place_is_one_line(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ArtifactStore(cache_dir) as store:
        assert store.put(fake_manifest(DATA_A, graph="a", name="a"), DATA_A) is not None
        folder = tmp_path / "out"
        folder.mkdir()
        with pytest.raises(BundleError, match=f"cannot write {folder}: expected a bundle file path, found a folder"):
            export_bundle(store, folder)  # was IsADirectoryError from os.replace

        def refuse(src: object, dst: object) -> None:
            raise PermissionError(13, "Permission denied", str(dst))

        monkeypatch.setattr("webnnc.cache.bundle.os.replace", refuse)
        target = tmp_path / "models.webnnc"
        with pytest.raises(BundleError, match=f"cannot write {target}: Permission denied"):
            export_bundle(store, target)  # was a bare PermissionError
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != cache_dir.name) == ["out"]  # no temp file left


def test_import_streams_artifacts_instead_of_reading_them_whole(
    bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # import read every artifact into memory (a weights file is hundreds of MB)
    def whole(self: BundleReader, key: str) -> bytes:
        raise AssertionError("import read an artifact whole")

    monkeypatch.setattr(BundleReader, "artifact", whole)
    with ArtifactStore(tmp_path / "other") as dest:
        imported, _ = import_bundle(dest, bundle)
        assert sorted(m.name or "" for m in imported) == ["a", "b"]
        assert dest.verify() == []
        for name, data in (("a", DATA_A), ("b", DATA_B)):
            key = dest.resolve_name(name, "onnx-cpu")
            hit = dest.get(key) if key else None
            assert hit is not None and hit.data == data


def test_runtime_loads_from_a_bundle_without_the_compiler(cache_dir: Path, tmp_path: Path) -> None:
    context = webnnc.ML().create_context(cache_dir=cache_dir)
    graph = build_tiny(context, 2.5, name="shipped")
    assert graph.build_info["source"] == "compiled"
    with ArtifactStore(cache_dir) as store:
        export_bundle(store, tmp_path / "shipped.webnnc", ["shipped"])
    code = (
        "import json, sys, numpy as np, webnnc.runtime\n"
        f"m = webnnc.runtime.load('shipped', bundle={str(tmp_path / 'shipped.webnnc')!r})\n"
        "x = np.array([[-1.5, 0.0, 2.0], [3.0, -4.0, 0.5]], np.float32)\n"
        "y = m({'x': x})['y']\n"
        "heavy = [n for n in ('webnnc.compiler', 'onnx', 'coremltools') if n in sys.modules]\n"
        "print(json.dumps({'y': y.tolist(), 'dtype': str(y.dtype), 'heavy': heavy}))\n"
    )
    out = json.loads(run_python(code, cwd=tmp_path, env={"WEBNNC_CACHE_DIR": str(tmp_path / "empty")}).strip())
    assert out["heavy"] == [] and out["dtype"] == "float32"
    np.testing.assert_allclose(np.array(out["y"]), tiny_expected(2.5), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(context.compute(graph, {"x": X})["y"], tiny_expected(2.5), rtol=1e-6)


def test_runtime_load_by_name_skips_incompatible_entries(cache_dir: Path) -> None:
    """The newest entry for a name was built with another onnxruntime: load says why it was skipped."""
    from webnnc.runtime import RuntimeLoadError, load

    with ArtifactStore(cache_dir) as store:
        m = fake_manifest(DATA_A, graph="x", name="pinned", libraries={"onnxruntime": "0.0.1"})
        store.put(m, DATA_A)
    with pytest.raises(RuntimeLoadError, match=r"unusable here: .*onnxruntime 0\.0\.1"):
        load("pinned", cache_dir=cache_dir)
    manifest = json.loads((cache_dir / "entries" / m.key[:2] / f"{m.key}.json").read_text())
    assert manifest["name"] == "pinned"


_RUNTIME_ONLY = """
import json, sys
import numpy as np

class Block:  # this machine "has only the runtime": the compiler and converters cannot import
    def find_spec(self, name, path=None, target=None):
        if name.startswith("webnnc.compiler") or name.split(".")[0] in ("onnx", "coremltools", "onnxsim"):
            raise ImportError(f"blocked: {{name}}")

sys.meta_path.insert(0, Block())
from webnnc.cli import main
import webnnc.runtime

codes = [main(["--cache-dir", {dest!r}, "cache", "import", {bundle!r}]), main(["--cache-dir", {dest!r}, "cache", "verify"])]
m = webnnc.runtime.load("shipped", cache_dir={dest!r})
y = m({{"x": np.array([[-1.5, 0.0, 2.0], [3.0, -4.0, 0.5]], np.float32)}})["y"]
print(json.dumps({{"codes": codes, "y": y.tolist()}}))
"""


def test_import_and_load_on_a_runtime_only_machine(cache_dir: Path, tmp_path: Path) -> None:
    context = webnnc.ML().create_context(cache_dir=cache_dir)
    assert build_tiny(context, 0.5, name="shipped").build_info["source"] == "compiled"
    bundle = tmp_path / "shipped.webnnc"
    with ArtifactStore(cache_dir) as store:
        export_bundle(store, bundle)
    code = _RUNTIME_ONLY.format(dest=str(tmp_path / "dest"), bundle=str(bundle))
    out = run_python(code, cwd=tmp_path)
    lines = out.strip().splitlines()
    assert any(line.startswith("imported 1 entries") for line in lines), out
    result = json.loads(lines[-1])
    assert result["codes"] == [0, 0]
    np.testing.assert_allclose(np.array(result["y"]), tiny_expected(0.5), rtol=1e-6, atol=1e-6)


def test_runtime_load_by_name_takes_the_newest_entry_that_verifies(cache_dir: Path) -> None:
    from webnnc.runtime import load

    context = webnnc.ML().create_context(cache_dir=cache_dir)
    older = build_tiny(context, 1.0, name="evolving")
    newer = build_tiny(context, 2.0, name="evolving")
    np.testing.assert_allclose(load("evolving", cache_dir=cache_dir)({"x": X})["y"], tiny_expected(2.0), rtol=1e-6)
    # by key, the older one is still there
    np.testing.assert_allclose(
        load(older.build_info["key"], cache_dir=cache_dir)({"x": X})["y"], tiny_expected(1.0), rtol=1e-6
    )
    # the newest is damaged: it is dropped and the next newest is loaded
    with ArtifactStore(cache_dir) as store:
        hit = store.get(newer.build_info["key"])
        assert hit is not None
    Path(hit.path).write_bytes(b"garbage")
    np.testing.assert_allclose(load("evolving", cache_dir=cache_dir)({"x": X})["y"], tiny_expected(1.0), rtol=1e-6)
