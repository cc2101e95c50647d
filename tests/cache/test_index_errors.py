"""Issue 15 item 9: only a damaged SQLite file (CORRUPT / NOTADB) is quarantined; a full disk,
an I/O error or a read-only database make the index unavailable (one warning), the healthy
file stays where it is, and the hit still works."""

from __future__ import annotations

import logging
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import diskcache
import pytest

from tests.cache.helpers import fake_manifest
from webnnc.cache._index import is_corruption
from webnnc.cache.store import ArtifactStore

DATA = b"artifact bytes " * 500


def _error(message: str, code: int | None) -> sqlite3.OperationalError:
    e = sqlite3.OperationalError(message)
    if code is not None:
        e.sqlite_errorcode = code  # type: ignore[attr-defined]
    return e


TRANSIENT = {
    "disk full": ("database or disk is full", 13),  # SQLITE_FULL
    "I/O error": ("disk I/O error", 10 | (4 << 8)),  # SQLITE_IOERR_WRITE
    "read-only": ("attempt to write a readonly database", 8),  # SQLITE_READONLY
    "full, no code": ("database or disk is full", None),
}


@pytest.mark.parametrize("case", sorted(TRANSIENT))
def test_full_or_failing_disk_leaves_the_index_alone(
    case: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache_dir = tmp_path / "c"
    with ArtifactStore(cache_dir) as store:
        m = fake_manifest(DATA, name="model")
        assert store.put(m, DATA) is not None
    shutil.rmtree(cache_dir / "names")  # make the lookup ask the index
    message, code = TRANSIENT[case]

    def fail(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise _error(message, code)

    for method in ("get", "set", "incr", "add", "transact", "iterkeys"):
        monkeypatch.setattr(diskcache.Cache, method, fail)
    with caplog.at_level(logging.WARNING), ArtifactStore(cache_dir) as store:
        hit = store.get(m.key, name="model")
        assert hit is not None and hit.data == DATA
        assert store.resolve_name("model", "onnx-cpu") == m.key  # found by scanning manifests
        store.get(m.key, name="model")
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "unavailable" in warnings[0] and "damaged" not in warnings[0], warnings
    index = cache_dir / "index"
    assert not list(index.glob("cache.db*.damaged-*")), "a healthy index was moved aside"
    assert (index / "cache.db").is_file()


@pytest.mark.parametrize("message, code, corrupt", [
    ("database disk image is malformed", 11, True),
    ("file is not a database", 26, True),
    ("database disk image is malformed", 11 | (1 << 8), True),  # SQLITE_CORRUPT_VTAB
    ("database disk image is malformed", None, True),
    ("database or disk is full", 13, False),
    ("disk I/O error", 10, False),
    ("database is locked", 5, False),
    ("attempt to write a readonly database", 8, False),
])
def test_only_corrupt_and_notadb_count_as_damage(message: str, code: int | None, corrupt: bool) -> None:
    assert is_corruption(_error(message, code)) is corrupt
