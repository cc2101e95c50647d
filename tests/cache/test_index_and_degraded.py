"""The index is advisory (deleted, damaged or tampered: no crash, no unpickling) and an
unwritable cache degrades to in-memory builds with one warning."""

from __future__ import annotations

import errno
import json
import logging
import os
import pickle
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import diskcache
import numpy as np
import pytest

import webnnc
from tests.cache.helpers import X, build_tiny, fake_manifest, tiny_expected
from webnnc.cache._index import SafeDisk
from webnnc.cache.errors import CacheError
from webnnc.cache.store import ArtifactStore

DATA = b"artifact bytes " * 500


def _put_named(cache_dir: Path, name: str = "model") -> str:
    with ArtifactStore(cache_dir) as store:
        m = fake_manifest(DATA, name=name)
        assert store.put(m, DATA) is not None
        return m.key


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_deleted_index_is_rebuilt_from_the_manifests(cache_dir: Path) -> None:
    key = _put_named(cache_dir)
    shutil.rmtree(cache_dir / "index")
    shutil.rmtree(cache_dir / "names")  # the hit path's names files: make the lookup ask the index
    with ArtifactStore(cache_dir) as store:
        assert store.resolve_name("model", "onnx-cpu") == key
        hit = store.get(key)
        assert hit is not None and hit.data == DATA
        assert store.hits(key) == 1
    rows = sqlite3.connect(cache_dir / "index" / "cache.db").execute("SELECT key FROM Cache").fetchall()
    assert ("n/onnx-cpu/model",) in rows, "names were re-registered from the manifests"


def test_damaged_index_is_moved_aside_and_rebuilt(cache_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    key = _put_named(cache_dir)
    db = cache_dir / "index" / "cache.db"
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    db.write_bytes(b"this is not an SQLite database" * 100)
    shutil.rmtree(cache_dir / "names")  # the hit path's names files: make the lookup ask the index
    with caplog.at_level(logging.WARNING), ArtifactStore(cache_dir) as store:
        assert store.get(key, name="model") is not None
        assert store.resolve_name("model", "onnx-cpu") == key
        assert store.hits(key) == 1
    assert len(_warnings(caplog)) == 1 and "damaged" in _warnings(caplog)[0]
    assert list((cache_dir / "index").glob("cache.db.damaged-*")), "the damaged file is kept for inspection"


class _Payload:
    """Unpickling this creates a file: proof that code ran."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.path, "w"))


# (hit counts left the index for an append-only file per entry; "meta/built" is read on open)
@pytest.mark.parametrize("row", ["n/onnx-cpu/model", "meta/built"])
def test_a_pickled_index_row_is_refused_not_unpickled(cache_dir: Path, tmp_path: Path, row: str) -> None:
    key = _put_named(cache_dir)
    with ArtifactStore(cache_dir) as store:
        assert store.get(key) is not None  # creates the hit row
    sentinel = tmp_path / "code-ran"
    db = sqlite3.connect(cache_dir / "index" / "cache.db")
    with db:
        n = db.execute(
            "UPDATE Cache SET mode = ?, value = ? WHERE key = ?",
            (diskcache.core.MODE_PICKLE, pickle.dumps(_Payload(str(sentinel))), row.format(key=key)),
        ).rowcount
    db.close()
    assert n == 1, "the row to tamper with exists"
    shutil.rmtree(cache_dir / "names")  # the hit path's names files: make the lookup ask the index
    with ArtifactStore(cache_dir) as store:
        assert store.resolve_name("model", "onnx-cpu") == key  # found by scanning instead
        assert store.hits(key) == 1  # counted in the entry's own file, whatever the index holds
        hit = store.get(key)
        assert hit is not None and hit.data == DATA
    assert not sentinel.exists(), "a tampered index row made the store unpickle"


def test_safe_disk_refuses_to_write_pickles(tmp_path: Path) -> None:
    with diskcache.Cache(str(tmp_path / "dc"), disk=SafeDisk) as cache:
        cache.set("ok", "text")
        cache.set("n", 3)
        with pytest.raises(CacheError, match="must be str, bytes or int"):
            cache.set("bad", {"a": 1})
        with pytest.raises(CacheError, match="keys must be str"):
            cache.set(("tuple", "key"), "x")


def test_unwritable_folder_builds_in_memory_with_one_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    cache_dir = blocker / "cache"  # can never be created, even by root
    with caplog.at_level(logging.WARNING):
        context = webnnc.ML().create_context(cache_dir=cache_dir)
        for k in (1.0, 2.0, 1.0):
            graph = build_tiny(context, k)
            assert graph.build_info["source"] == "compiled-uncached"
            np.testing.assert_allclose(context.compute(graph, {"x": X})["y"], tiny_expected(k), rtol=1e-6)
    warnings = _warnings(caplog)
    assert len(warnings) == 1, warnings
    assert str(cache_dir) in warnings[0] and "in memory" in warnings[0]


def test_full_disk_degrades_once_and_keeps_running(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    context = webnnc.ML().create_context(cache_dir=cache_dir)
    assert context.store() is not None

    def full(self: ArtifactStore, path: Path, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ArtifactStore, "_atomic_write", full)
    with caplog.at_level(logging.WARNING):
        for k in (4.0, 5.0):
            graph = build_tiny(context, k)
            assert graph.build_info["source"] == "compiled-uncached"
            np.testing.assert_allclose(context.compute(graph, {"x": X})["y"], tiny_expected(k), rtol=1e-6)
    warnings = _warnings(caplog)
    assert len(warnings) == 1 and "No space left" in warnings[0], warnings
    assert list(ArtifactStore(cache_dir).keys()) == []


_READ_ONLY_RUN = textwrap.dedent(
    """
    import json, logging, numpy as np, webnnc
    from tests.cache.helpers import X, build_tiny
    seen = []
    class H(logging.Handler):
        def emit(self, record):
            if record.levelno >= logging.WARNING:
                seen.append(record.getMessage())
    logging.getLogger().addHandler(H())
    context = webnnc.ML().create_context(cache_dir={cache_dir!r})
    hit = build_tiny(context, 1.0)
    warnings_after_hit = len(seen)
    miss = build_tiny(context, 7.0)
    again = build_tiny(context, 8.0)
    print(json.dumps({{
        "sources": [g.build_info["source"] for g in (hit, miss, again)],
        "y": [context.compute(g, {{"x": X}})["y"].tolist() for g in (hit, miss)],
        "warnings": seen,
        "warnings_after_hit": warnings_after_hit,
        "loaded": webnnc.runtime.load("ro-model", cache_dir={cache_dir!r})({{"x": X}})["y"].tolist(),
    }}))
    """
)


def _read_only_command(cache_dir: Path, code: str) -> list[str] | None:
    """A command running ``code`` with ``cache_dir`` truly read-only, or None if impossible here."""
    if os.geteuid() != 0:
        return [sys.executable, "-c", code]  # the caller chmods the folder
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    probe = subprocess.run([unshare, "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        return None
    d = str(cache_dir)
    script = f'mount --bind "{d}" "{d}" && mount -o remount,bind,ro "{d}" && exec "$0" -c "$1"'
    return [unshare, "-m", "sh", "-c", script, sys.executable, code]


def test_read_only_folder_still_serves_hits_and_runs_misses_in_memory(cache_dir: Path, tmp_path: Path) -> None:
    context = webnnc.ML().create_context(cache_dir=cache_dir)
    assert build_tiny(context, 1.0, name="ro-model").build_info["source"] == "compiled"
    context.store().close()  # type: ignore[union-attr]
    code = _READ_ONLY_RUN.format(cache_dir=str(cache_dir))
    cmd = _read_only_command(cache_dir, code)
    if cmd is None:
        pytest.skip("cannot make a read-only folder here: running as root without mount namespaces")
    before = sorted(str(p) for p in cache_dir.rglob("*"))
    if os.geteuid() != 0:
        for p in [cache_dir, *cache_dir.rglob("*")]:
            p.chmod(p.stat().st_mode & ~0o222)
    try:
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    finally:
        if os.geteuid() != 0:
            for p in [cache_dir, *cache_dir.rglob("*")]:
                p.chmod(p.stat().st_mode | 0o200)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["sources"] == ["cache-hit", "compiled-uncached", "compiled-uncached"]
    np.testing.assert_allclose(np.array(out["y"][0]), tiny_expected(1.0), rtol=1e-6)
    np.testing.assert_allclose(np.array(out["y"][1]), tiny_expected(7.0), rtol=1e-6)
    np.testing.assert_allclose(np.array(out["loaded"]), tiny_expected(1.0), rtol=1e-6)
    assert out["warnings_after_hit"] == 0, "a process that only reads is not warned"
    assert len(out["warnings"]) == 1 and "cannot be written" in out["warnings"][0], out["warnings"]
    assert sorted(str(p) for p in cache_dir.rglob("*")) == before, "nothing was written"


def test_a_cache_folder_deleted_under_a_running_process_is_recreated(
    cache_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    context = webnnc.ML().create_context(cache_dir=cache_dir)
    assert build_tiny(context, 1.0).build_info["source"] == "compiled"
    shutil.rmtree(cache_dir)  # e.g. `rm -rf ~/.cache/webnnc` while an application runs
    with caplog.at_level(logging.WARNING):
        again = build_tiny(context, 1.0)
        assert again.build_info["source"] == "compiled"
        assert build_tiny(context, 1.0).build_info["source"] == "cache-hit"
    assert _warnings(caplog) == []
    np.testing.assert_allclose(context.compute(again, {"x": X})["y"], tiny_expected(1.0), rtol=1e-6)
