"""The remote tier on real engines (a folder, moto's S3 server, redis-server).

Each test runs against every engine (``remote_url`` is parametrized): push / pull by key
and by name, refusal of every kind of bad object, a remote that is down, the build lock.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.cache.helpers import X, build_tiny, fake_manifest, tiny_expected
from tests.cache.remote.helpers import edit_manifest, flip_artifact_byte, rewrite_bundle, unsign
from webnnc.cache.remote import RemoteCache, RemoteConfig, open_tiered_store
from webnnc.cache.remote._tiered import TieredStore
from webnnc.cache.signing import HmacKey, Keyring
from webnnc.cache.store import ArtifactStore


def _remote(url: str, **kw: Any) -> RemoteCache:
    return RemoteCache(RemoteConfig(url, **kw))


def _pushed_fake(
    tmp_path: Path, url: str, data: bytes = b"artifact-bytes" * 100, name: str = "model", graph: str = "g0"
) -> tuple[str, RemoteCache]:
    """A fake entry (no compiler) pushed from a "build machine"; returns (key, its remote)."""
    remote = _remote(url, mode="read-write")
    with ArtifactStore(tmp_path / "builder") as store:
        m = fake_manifest(data, name=name, graph=graph)
        assert store.put(m, data) is not None
        assert remote.push(store, m.key, strict=True)
    return m.key, remote


def _refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "refused" in r.getMessage()]


# ---------------------------------------------------------------------- push / pull
def test_push_then_pull_by_key_and_name(tmp_path: Path, remote_url: str) -> None:
    data = os.urandom(3000)
    key, _ = _pushed_fake(tmp_path, remote_url, data)
    fleet = TieredStore(tmp_path / "fleet", remote=_remote(remote_url))
    hit = fleet.get(key)
    assert hit is not None and hit.data == data
    other = TieredStore(tmp_path / "fleet2", remote=_remote(remote_url))
    found = other.find("model", "onnx-cpu")
    assert [m.key for m in found] == [key]
    assert other.get(key, use=False) is not None  # now local: no remote needed


def test_build_pushes_and_another_machine_hits(tmp_path: Path, remote_url: str) -> None:
    import webnnc

    ci = webnnc.ML().create_context(cache_dir=tmp_path / "ci", remote_cache=remote_url, remote_mode="read-write")
    g = build_tiny(ci, 3.0, name="tiny")
    assert g.build_info["source"] == "compiled"
    node = webnnc.ML().create_context(cache_dir=tmp_path / "node", remote_cache=remote_url)
    g2 = build_tiny(node, 3.0, name="tiny")
    assert g2.build_info["source"] == "cache-hit"
    np.testing.assert_allclose(node.compute(g2, {"x": X})["y"], tiny_expected(3.0), rtol=1e-6)
    from webnnc.runtime import load

    loaded = load("tiny", cache_dir=tmp_path / "node3", remote=remote_url)
    np.testing.assert_allclose(loaded.run({"x": X})["y"], tiny_expected(3.0), rtol=1e-6)


def test_read_only_machine_never_pushes(tmp_path: Path, remote_url: str) -> None:
    import webnnc

    node = webnnc.ML().create_context(cache_dir=tmp_path / "node", remote_cache=remote_url)
    g = build_tiny(node, 5.0)
    assert g.build_info["source"] == "compiled"
    other = webnnc.ML().create_context(cache_dir=tmp_path / "other", remote_cache=remote_url)
    assert build_tiny(other, 5.0).build_info["source"] == "compiled"


# ---------------------------------------------------------------------- refusals
@pytest.mark.parametrize(
    "damage",
    ["artifact-byte", "manifest-field", "unsigned", "foreign-key", "truncated", "other-key", "garbage"],
)
def test_bad_remote_objects_are_refused(
    tmp_path: Path, remote_url: str, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    key, remote = _pushed_fake(tmp_path, remote_url, os.urandom(5000))
    obj = f"entries/{key}.webnnc"
    good = tmp_path / "good.webnnc"
    bad = tmp_path / "bad.webnnc"
    assert remote.backend().download(obj, good, 1 << 30)
    if damage == "artifact-byte":
        rewrite_bundle(good, bad, member=flip_artifact_byte)
    elif damage == "manifest-field":
        rewrite_bundle(good, bad, member=edit_manifest)
    elif damage == "unsigned":
        rewrite_bundle(good, bad, index=unsign)
    elif damage == "foreign-key":
        forged = HmacKey(b"someone-else-entirely-0123456789")

        def resign(idx: dict[str, Any]) -> dict[str, Any]:
            idx["signatures"][key] = forged.sign(b"anything")
            return idx

        rewrite_bundle(good, bad, index=resign)
    elif damage == "truncated":
        bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    elif damage == "other-key":  # a validly signed entry, stored under another key's name
        other_key, _ = _pushed_fake(tmp_path / "b2", remote_url, b"other" * 50, name="other", graph="g1")
        assert other_key != key
        assert remote.backend().download(f"entries/{other_key}.webnnc", bad, 1 << 30)
    else:
        bad.write_bytes(b"\x00not a tar" * 100)
    remote.backend().upload(obj, bad)

    caplog.set_level(logging.WARNING)
    fleet = TieredStore(tmp_path / "fleet", remote=_remote(remote_url))
    for _ in range(2):  # refused every time, one warning each
        assert fleet.get(key) is None
    assert len(_refusals(caplog)) == 2, caplog.text
    assert fleet.manifest(key) is None  # nothing was published locally


def test_forged_name_record_is_refused(tmp_path: Path, remote_url: str, caplog: pytest.LogCaptureFixture) -> None:
    _, remote = _pushed_fake(tmp_path, remote_url)
    record = json.loads(remote.backend().read_small("names/onnx-cpu/model") or b"{}")
    record["key"] = "f" * 64  # point the name elsewhere, keep the old signature
    remote.backend().write_small("names/onnx-cpu/model", json.dumps(record).encode())
    caplog.set_level(logging.WARNING)
    fleet = TieredStore(tmp_path / "fleet", remote=_remote(remote_url))
    assert fleet.find("model", "onnx-cpu") == []
    assert any("refused remote name record" in r.getMessage() for r in caplog.records)


def test_refused_object_means_a_correct_local_compile(
    tmp_path: Path, remote_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    import webnnc

    ci = webnnc.ML().create_context(cache_dir=tmp_path / "ci", remote_cache=remote_url, remote_mode="read-write")
    key = build_tiny(ci, 7.0).build_info["key"]
    remote = _remote(remote_url, mode="read-write")
    good, bad = tmp_path / "good", tmp_path / "bad"
    assert remote.backend().download(f"entries/{key}.webnnc", good, 1 << 30)
    rewrite_bundle(good, bad, member=edit_manifest)
    remote.backend().upload(f"entries/{key}.webnnc", bad)
    caplog.set_level(logging.WARNING)
    node = webnnc.ML().create_context(cache_dir=tmp_path / "node", remote_cache=remote_url)
    g = build_tiny(node, 7.0)
    assert g.build_info["source"] == "compiled"
    np.testing.assert_allclose(node.compute(g, {"x": X})["y"], tiny_expected(7.0), rtol=1e-6)
    assert len(_refusals(caplog)) >= 1


def test_unsigned_machine_refuses_everything(tmp_path: Path, remote_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    key, _ = _pushed_fake(tmp_path, remote_url)
    other_keys = Keyring(verifiers=[HmacKey(b"a-different-secret-0123456789ab")])
    fleet = TieredStore(tmp_path / "fleet", remote=RemoteCache(RemoteConfig(remote_url), other_keys))
    assert fleet.get(key) is None
    monkeypatch.delenv("WEBNNC_REMOTE_KEY")
    store = open_tiered_store(tmp_path / "plain", remote_url)  # no trusted key: the remote is not used
    assert not isinstance(store, TieredStore)


# ---------------------------------------------------------------------- faults
def test_remote_down_costs_one_warning_and_a_local_compile(
    tmp_path: Path, keyed_env: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import socket

    import webnnc
    from webnnc.cache.remote import _tier

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(_tier, "_WARNED", set())
    caplog.set_level(logging.WARNING)
    for url in (f"redis://127.0.0.1:{port}/0", "s3://nobucket/x"):
        if url.startswith("s3"):
            pytest.importorskip("s3fs")
            monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
            monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
            monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
        else:
            pytest.importorskip("redis")
        caplog.clear()
        ctx = webnnc.ML().create_context(cache_dir=tmp_path / url[:5], remote_cache=url, remote_mode="read-write")
        t0 = time.perf_counter()
        for k in (11.0, 12.0, 13.0):
            g = build_tiny(ctx, k)
            assert g.build_info["source"] == "compiled"
            np.testing.assert_allclose(ctx.compute(g, {"x": X})["y"], tiny_expected(k), rtol=1e-6)
        elapsed = time.perf_counter() - t0
        warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(warnings) == 1, [r.getMessage() for r in warnings]
        assert "unavailable" in warnings[0].getMessage() and not warnings[0].exc_info
        assert elapsed < 30, elapsed  # one connection failure, then the remote is skipped


def test_remote_lock_is_exclusive_and_expires(tmp_path: Path, remote_url: str) -> None:
    a = _remote(remote_url, mode="read-write", lock=True, lock_ttl=2.0)
    b = _remote(remote_url, mode="read-write", lock=True, lock_ttl=2.0)
    a.backend(), b.backend()  # connect first: the TTL below must not run out while connecting
    key = "a" * 64
    token = a.acquire_build_lock(key, timeout=0)
    assert token is not None
    assert b.acquire_build_lock(key, timeout=0.2) is None  # held: b waits, gives up, compiles itself
    time.sleep(2.3)  # the holder "died" without releasing: its lock expires
    token_b = b.acquire_build_lock(key, timeout=5)
    assert token_b is not None
    a.release_build_lock(key, token)  # a late release must not free b's lock
    assert a.acquire_build_lock(key, timeout=0) is None
    b.release_build_lock(key, token_b)
    assert a.acquire_build_lock(key, timeout=0) is not None


# ---------------------------------------------------------------------- multi-file entries
def _build_weighted(context: Any, name: str) -> Any:
    """A graph whose 64x64 weight (16 KiB) is stored in the entry's mapped ``weights`` file."""
    b = context.create_graph_builder()
    x = b.input("x", [1, 64], "float32")
    w = b.constant(np.arange(64 * 64, dtype=np.float32).reshape(64, 64) / 4096.0)
    return b.build({"y": b.relu(b.matmul(x, w))}, name=name)


def test_multi_file_entry_travels_file_by_file(tmp_path: Path, remote_url: str) -> None:
    import webnnc
    from webnnc.runtime import load

    ci = webnnc.ML().create_context(cache_dir=tmp_path / "ci", remote_cache=remote_url, remote_mode="read-write")
    g = _build_weighted(ci, "weighted")
    assert g.build_info["source"] == "compiled"
    stored = ArtifactStore(tmp_path / "ci").find("weighted", "onnx-cpu")
    assert stored and set(stored[0].files) == {"model.onnx", "weights"}  # really several files
    x = np.linspace(-1, 1, 64, dtype=np.float32).reshape(1, 64)
    want = np.maximum(x.astype(np.float64) @ (np.arange(64 * 64).reshape(64, 64) / 4096.0), 0)
    loaded = load("weighted", cache_dir=tmp_path / "fleet", remote=remote_url)
    np.testing.assert_allclose(loaded.run({"x": x})["y"], want, rtol=1e-5, atol=1e-6)
    pulled = ArtifactStore(tmp_path / "fleet").find("weighted", "onnx-cpu")
    assert [m.key for m in pulled] == [stored[0].key]


def test_tampered_weights_file_is_refused(tmp_path: Path, remote_url: str, caplog: pytest.LogCaptureFixture) -> None:
    import webnnc

    remote = _remote(remote_url, mode="read-write")
    g = _build_weighted(webnnc.ML().create_context(cache_dir=tmp_path / "ci"), "weighted")
    key = g.build_info["key"]
    with ArtifactStore(tmp_path / "ci") as store:
        assert remote.push(store, key, strict=True)
    obj, good, bad = f"entries/{key}.webnnc", tmp_path / "good.webnnc", tmp_path / "bad.webnnc"
    assert remote.backend().download(obj, good, 1 << 30)
    rewrite_bundle(good, bad, member=lambda n, d: flip_artifact_byte(n, d) if n.endswith("/weights") else d)
    remote.backend().upload(obj, bad)
    caplog.set_level(logging.WARNING)
    fleet = TieredStore(tmp_path / "fleet", remote=_remote(remote_url))
    assert fleet.get(key) is None
    assert _refusals(caplog), "a tampered weights file must be refused with a warning"
    assert not list(fleet.keys()), "nothing from a refused object may be stored"
