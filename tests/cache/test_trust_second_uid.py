"""Issue 15, with a real second user: the attacker runs as uid 65534 (``nobody``) in a forked
child, plants files in a folder both users can reach, and the victim (this process) builds.

These need to switch users, so they run only as root (as CI does) and are skipped elsewhere.
The single-uid versions in test_trust.py cover the same points with one user's two keys.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

import webnnc
from tests.cache.helpers import X, build_tiny, entry_path, tiny_expected
from webnnc.cache.locks import LockRefused
from webnnc.cache.store import ArtifactStore

pytestmark = pytest.mark.skipif(
    not hasattr(os, "fork") or not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="needs root to run the attacker as a second uid (fork + setuid 65534)",
)

NOBODY = 65534


def _as_nobody(action: Callable[[], None]) -> None:
    """Run ``action`` in a forked child as uid/gid 65534; fail if it raised."""
    pid = os.fork()
    if pid == 0:  # the attacker
        code = 1
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            assert os.geteuid() == NOBODY
            action()
            code = 0
        except BaseException as e:  # reported through the exit code
            os.write(2, f"attacker failed: {type(e).__name__}: {e}\n".encode())
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, "the attacker's step failed"


@pytest.fixture
def shared() -> Iterator[Path]:
    """A folder both users reach, like /tmp: root-owned, world-writable, sticky."""
    d = Path(tempfile.mkdtemp(prefix="webnnc-shared-", dir="/tmp"))
    d.chmod(0o1777)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _victim_secret(tmp_path: Path) -> Path:
    secret = tmp_path / "victim.txt"
    secret.write_text("the victim's private notes\n")
    secret.chmod(0o600)
    return secret


def _build(cache_dir: Path, k: float = 1.0, name: str = "mine") -> np.ndarray:
    context = webnnc.ML().create_context(cache_dir=cache_dir)
    graph = build_tiny(context, k, name=name)
    return np.asarray(context.compute(graph, {"x": X})["y"])


def test_cache_folder_precreated_by_another_user_is_not_used(
    shared: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret = _victim_secret(tmp_path)
    cache_dir = shared / "webnnc-cache"

    def plant() -> None:
        (cache_dir / "locks").mkdir(parents=True, mode=0o777)
        (cache_dir / "locks" / "store.lock").symlink_to(secret)
        cache_dir.chmod(0o777)

    _as_nobody(plant)
    assert (cache_dir / "locks" / "store.lock").is_symlink()
    with caplog.at_level(logging.WARNING):
        np.testing.assert_allclose(_build(cache_dir), tiny_expected(1.0), rtol=1e-6)
    assert secret.read_text() == "the victim's private notes\n"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert any("owned by uid 65534" in r.getMessage() or "writable by" in r.getMessage()
               for r in caplog.records), [r.getMessage() for r in caplog.records]


def _group_cache(shared: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache folder shared with the group ``nobody`` belongs to, opted into by the victim."""
    cache_dir = shared / "group-cache"
    cache_dir.mkdir(mode=0o770)
    os.chown(cache_dir, 0, NOBODY)
    cache_dir.chmod(0o2770)
    monkeypatch.setenv("WEBNNC_CACHE_SHARED", "group")
    return cache_dir


def test_lock_symlink_in_a_group_shared_cache_never_touches_the_victims_file(
    shared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The victim opts into group sharing; a group member plants ``locks`` with a symlink."""
    secret = _victim_secret(tmp_path)
    cache_dir = _group_cache(shared, monkeypatch)

    def plant() -> None:
        (cache_dir / "locks").mkdir(mode=0o770)
        (cache_dir / "locks" / "store.lock").symlink_to(secret)
        (cache_dir / "locks" / "build.lock").symlink_to(secret)

    _as_nobody(plant)
    np.testing.assert_allclose(_build(cache_dir), tiny_expected(1.0), rtol=1e-6)
    with ArtifactStore(cache_dir) as store, pytest.raises(LockRefused, match="is a symbolic link; refusing"):
        store.gc()  # a clean refusal, not a write through the link
    assert secret.read_text() == "the victim's private notes\n"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600


def test_entry_planted_by_a_group_member_is_never_the_victims_result(
    shared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A group member copies a real compiled entry of another graph under the victim's key."""
    staging = shared / "staging"  # the attacker's material, compiled beforehand
    staging.mkdir(mode=0o755)
    _build(staging, 1.0, "mine")
    _build(staging, 5.0, "theirs")
    with ArtifactStore(staging) as store:
        mine, theirs = store.find("mine", "onnx-cpu")[0], store.find("theirs", "onnx-cpu")[0]
    forged = theirs.replace(key=mine.key, key_parts=mine.key_parts, name=mine.name).to_json()
    for root, dirs, files in os.walk(staging):
        for n in dirs:
            os.chmod(os.path.join(root, n), 0o755)
        for n in files:
            os.chmod(os.path.join(root, n), 0o644)
    cache_dir = _group_cache(shared, monkeypatch)

    def plant() -> None:
        for item in staging.iterdir():
            if item.is_dir():
                shutil.copytree(item, cache_dir / item.name, dirs_exist_ok=True)
        target = entry_path(cache_dir, mine.key)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(forged)
        for root, dirs, files in os.walk(cache_dir):
            for n in dirs + files:
                os.chmod(os.path.join(root, n), 0o2770 if n in dirs else 0o660)

    _as_nobody(plant)
    np.testing.assert_allclose(_build(cache_dir, 1.0, "mine"), tiny_expected(1.0), rtol=1e-6)
    np.testing.assert_allclose(_build(cache_dir, 1.0, "mine"), tiny_expected(1.0), rtol=1e-6)
