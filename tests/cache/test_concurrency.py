"""Many real processes, one cache folder: compile once, lock with a named holder, publish atomically."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import webnnc
from tests.cache.helpers import X, build_tiny, fake_manifest, tiny_expected
from webnnc.cache.locks import BuildLock, LockTimeout
from webnnc.cache.store import ArtifactStore

PROCESSES = 8
BUILDS = 20
GRAPHS = 5

_WORKER = textwrap.dedent(
    """
    import json, os, sys, time
    import numpy as np
    import webnnc
    from tests.cache.helpers import X, build_tiny

    cache_dir, ready, go = sys.argv[1], sys.argv[2], sys.argv[3]
    context = webnnc.ML().create_context(cache_dir=cache_dir)
    open(ready, "w").close()
    while not os.path.exists(go):
        time.sleep(0.005)
    out = []
    for i in range({builds}):
        k = float(i % {graphs} + 1)
        graph = build_tiny(context, k, name=f"tiny-{{int(k)}}")
        y = context.compute(graph, {{"x": X}})["y"]
        out.append([k, graph.build_info["source"], graph.build_info["key"], y.tolist()])
    print(json.dumps(out))
    """
)


def _spawn(code: str, *args: str, cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_eight_processes_compile_each_graph_once(cache_dir: Path, tmp_path: Path) -> None:
    """8 processes x 20 builds of 5 graphs: one compile and one stored artifact per key, right outputs."""
    code = _WORKER.format(builds=BUILDS, graphs=GRAPHS)
    go = tmp_path / "go"
    procs = [_spawn(code, str(cache_dir), str(tmp_path / f"ready{i}"), str(go), cwd=tmp_path) for i in range(PROCESSES)]
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"ready{i}").exists() for i in range(PROCESSES)):
        assert time.monotonic() < deadline, "workers did not start"
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs if p.poll() is not None]
        time.sleep(0.01)
    go.touch()  # all start building at the same moment
    results = []
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
        results.extend(json.loads(out.strip().splitlines()[-1]))

    assert len(results) == PROCESSES * BUILDS
    compiled: dict[str, int] = {}
    keys: dict[float, set[str]] = {}
    for k, source, key, y in results:
        np.testing.assert_allclose(np.array(y), tiny_expected(k), rtol=1e-6, atol=1e-6)
        assert source in ("compiled", "cache-hit"), source
        compiled[key] = compiled.get(key, 0) + (source == "compiled")
        keys.setdefault(k, set()).add(key)
    assert all(len(v) == 1 for v in keys.values()), "one key per graph"
    assert len(compiled) == GRAPHS
    assert compiled == dict.fromkeys(compiled, 1), f"each key must compile exactly once: {compiled}"
    with ArtifactStore(cache_dir) as store:
        assert sorted(store.keys()) == sorted(compiled)
        assert store.stats()["artifacts"] == GRAPHS
        assert store.verify() == []
        # every build that was not the one compile of its key was one counted hit
        assert sum(store.hits(k) for k in compiled) == PROCESSES * BUILDS - GRAPHS


_HOLDER = textwrap.dedent(
    """
    import sys, time
    from webnnc.cache.locks import BuildLock
    lock = BuildLock(sys.argv[1])
    lock.acquire()
    print("held", flush=True)
    time.sleep(60)
    """
)


def _hold(path: Path, cwd: Path) -> subprocess.Popen[str]:
    p = _spawn(_HOLDER, str(path), cwd=cwd)
    assert p.stdout is not None
    assert p.stdout.readline().strip() == "held"
    return p


def test_lock_timeout_names_the_holder_and_a_dead_holder_blocks_nobody(tmp_path: Path) -> None:
    path = tmp_path / "k.lock"
    holder = _hold(path, tmp_path)
    try:
        t0 = time.monotonic()
        with pytest.raises(LockTimeout) as info:
            BuildLock(path, timeout=0.3, purpose="the build lock of key abc").acquire()
        assert 0.3 <= time.monotonic() - t0 < 5
        msg = str(info.value)
        assert f"pid {holder.pid}" in msg and "the build lock of key abc" in msg and "still running" in msg
        # a different key never waits for this one
        other = BuildLock(tmp_path / "other.lock", timeout=0)
        other.acquire()
        other.release()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # the holder was killed: the kernel released its lock, nobody waits
    lock = BuildLock(path, timeout=0)
    lock.acquire()
    lock.release()


def test_a_stuck_builder_delays_others_only_until_the_timeout(
    cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    context = webnnc.ML().create_context(cache_dir=cache_dir)
    key = build_tiny(webnnc.ML().create_context(use_cache=False), 3.0).build_info["key"]
    ArtifactStore(cache_dir).close()  # creates the folder layout
    holder = _hold(cache_dir / "locks" / f"{key}.lock", tmp_path)
    monkeypatch.setenv("WEBNNC_CACHE_LOCK_TIMEOUT", "0.3")
    try:
        with caplog.at_level(logging.WARNING):
            graph = build_tiny(webnnc.ML().create_context(cache_dir=cache_dir), 3.0)
    finally:
        holder.kill()
        holder.wait()
    assert graph.build_info["source"] == "compiled"
    assert any(f"held by pid {holder.pid}" in r.getMessage() for r in caplog.records)
    np.testing.assert_allclose(context.compute(graph, {"x": X})["y"], tiny_expected(3.0), rtol=1e-6)


_PUBLISHER = textwrap.dedent(
    """
    import os, signal, sys
    from webnnc.cache.store import ArtifactStore
    from tests.cache.helpers import fake_manifest

    cache_dir, point = sys.argv[1], sys.argv[2]
    data = os.urandom(1 << 20)
    store = ArtifactStore(cache_dir)
    manifest = fake_manifest(data, name="killed")
    print(manifest.key, flush=True)
    real_replace, real_fsync = os.replace, os.fsync
    calls = {"replace": 0, "fsync": 0}

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    def replace(src, dst):
        calls["replace"] += 1
        if point == "before-artifact-rename" and calls["replace"] == 1:
            die()
        if point == "before-manifest-rename" and calls["replace"] == 2:
            die()
        real_replace(src, dst)

    def fsync(fd):
        calls["fsync"] += 1
        if point == "mid-artifact-write":
            os.ftruncate(fd, 1000)  # half a file on disk, then death
            die()
        real_fsync(fd)

    os.replace, os.fsync = replace, fsync
    store.put(manifest, data)
    print("published", flush=True)
    """
)


@pytest.mark.parametrize("point", ["mid-artifact-write", "before-artifact-rename", "before-manifest-rename"])
def test_a_process_killed_mid_publish_leaves_no_visible_entry(
    cache_dir: Path, tmp_path: Path, point: str, caplog: pytest.LogCaptureFixture
) -> None:
    proc = _spawn(_PUBLISHER, str(cache_dir), point, cwd=tmp_path)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, err
    key = out.split()[0]
    assert "published" not in out
    with caplog.at_level(logging.WARNING), ArtifactStore(cache_dir) as store:
        assert store.get(key) is None
        assert list(store.keys()) == []
        assert store.find("killed") == []
        report = store.gc()
        assert report.tmp_files + report.orphan_objects >= 1, "the debris is collected"
        assert not any((cache_dir / "tmp").iterdir())
        assert not any(p.is_file() for p in (cache_dir / "objects").rglob("*"))
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], "a vanished publish is not corruption"


def test_publishing_the_same_key_twice_is_harmless(cache_dir: Path) -> None:
    data = b"abc" * 1000
    m = fake_manifest(data)
    with ArtifactStore(cache_dir) as a, ArtifactStore(cache_dir) as b:
        assert a.put(m, data) is not None
        assert b.put(m, data) is not None
        assert list(a.keys()) == [m.key]
        hit = b.get(m.key)
        assert hit is not None and hit.data == data


_FORKING_HOLDER = textwrap.dedent(
    """
    import os, sys, time
    from webnnc.cache.locks import BuildLock
    lock = BuildLock(sys.argv[1])
    lock.acquire()
    child = os.fork()
    if child == 0:  # inherits the locked descriptor and outlives the holder
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 1)  # let the parent's reader see end-of-file
        os.dup2(devnull, 2)
        time.sleep(60)
        os._exit(0)
    print(os.getpid(), child, flush=True)
    os._exit(0)  # the recorded holder exits without releasing
    """
)


def test_timeout_message_explains_a_holder_that_exited_but_left_a_child(tmp_path: Path) -> None:
    path = tmp_path / "k.lock"
    proc = _spawn(_FORKING_HOLDER, str(path), cwd=tmp_path)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    holder_pid, child_pid = (int(x) for x in out.split())
    try:
        with pytest.raises(LockTimeout) as info:
            BuildLock(path, timeout=0.2).acquire()
        assert f"pid {holder_pid} has exited" in str(info.value) and "inherited" in str(info.value)
    finally:
        os.kill(child_pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    lock = BuildLock(path, timeout=0)
    while not lock.try_acquire():  # the child is gone: the lock frees up
        assert time.monotonic() < deadline
        time.sleep(0.05)
    lock.release()


_CHURN = textwrap.dedent(
    """
    import json, logging, os, sys, time
    import webnnc
    from tests.cache.helpers import X, build_tiny

    warnings = []
    class Keep(logging.Handler):
        def emit(self, record):
            if record.levelno >= logging.WARNING:
                warnings.append(record.getMessage())
    logging.getLogger().addHandler(Keep())
    cache_dir, go = sys.argv[1], sys.argv[2]
    context = webnnc.ML().create_context(cache_dir=cache_dir)
    while not os.path.exists(go):
        time.sleep(0.005)
    out = []
    for i in range(12):
        k = float(i % 4 + 1)
        graph = build_tiny(context, k)
        out.append([k, graph.build_info["source"], context.compute(graph, {"x": X})["y"].tolist()])
    print(json.dumps({"builds": out, "warnings": warnings}))
    """
)


def test_constant_eviction_under_concurrent_use_stays_correct_and_quiet(
    cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A limit that holds ~2 of 4 graphs: 4 processes evict each other's entries all the time."""
    monkeypatch.setenv("WEBNNC_CACHE_SIZE_LIMIT", "3500")  # an entry is ~1.7 KiB
    go = tmp_path / "go"
    procs = [_spawn(_CHURN, str(cache_dir), str(go), cwd=tmp_path) for _ in range(4)]
    time.sleep(0.5)
    go.touch()
    builds, warnings = [], []
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
        result = json.loads(out.strip().splitlines()[-1])
        builds.extend(result["builds"])
        warnings.extend(result["warnings"])
    for k, _, y in builds:
        np.testing.assert_allclose(np.array(y), tiny_expected(k), rtol=1e-6, atol=1e-6)
    compiled = sum(source == "compiled" for _, source, _ in builds)
    assert compiled > 4, f"eviction was exercised (some graphs compiled more than once): {compiled}"
    assert warnings == [], "eviction races are misses, not corruption"
    with ArtifactStore(cache_dir) as store:
        assert store.verify() == []
        # over the limit by at most one unevicted put per process (eviction skips when busy)
        assert store.volume() <= 3500 + 4 * 2048
        store.evict()
        assert store.volume() <= 3500
