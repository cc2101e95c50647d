"""Deferred weight prepacking: a graph compiled with prepacking answers at once, unpacked, and
switches to its prepacked session at its second call, after letting the first one go.

The reference for every result is numpy in float64 (rtol 1e-4, atol 1e-4: a float32 GEMM over
K=1024 products of standard normals, whose sums reach ~100).
"""

from __future__ import annotations

import logging
import os
import tempfile
import weakref
from pathlib import Path

import numpy as np
import pytest

import webnnc
import webnnc.runtime

K, N = 1024, 512  # 2 MiB of GEMM weights: the compile step asks for prepacking

_W = np.random.default_rng(0).standard_normal((K, N)).astype(np.float32)


def _compile(cache: Path) -> str:
    ctx = webnnc.ML().create_context(cache_dir=cache)
    b = ctx.create_graph_builder()
    x = b.input("x", [4, K], "float32")
    g = b.build({"y": b.matmul(x, b.constant(_W))}, name="mm")
    assert g.manifest.session["prepacking"] is True, g.manifest.session
    return str(g.build_info["key"])


def _check(y: np.ndarray, x: np.ndarray) -> None:
    np.testing.assert_allclose(y, x.astype(np.float64) @ _W.astype(np.float64), rtol=1e-4, atol=1e-4)


@pytest.fixture
def cache(cache_dir: Path) -> Path:  # per test: each test has its own user cache key
    _compile(cache_dir)
    return cache_dir


def _x(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((4, K)).astype(np.float32)


def test_the_second_call_switches_after_letting_the_first_session_go(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    g = webnnc.runtime.load("mm", cache_dir=cache)
    assert g.build_info["session"]["prepacking"] == "deferred"
    upgrade = g._upgrade
    assert upgrade is not None
    first = weakref.ref(g._session)
    _check(g.run({"x": _x(1)})["y"], _x(1))
    assert g._upgrade is upgrade and g._session is first()  # one run may be the only one
    create = upgrade.create
    seen: list[object] = []

    def create_after_the_first_is_gone() -> object:
        seen.append(first())  # the weights are never mapped by two sessions at once
        return create()

    monkeypatch.setattr(upgrade, "create", create_after_the_first_is_gone)
    _check(g.run({"x": _x(2)})["y"], _x(2))  # the second call switches, then runs
    assert seen == [None] and first() is None and g._upgrade is None
    assert g.build_info["session"]["prepacking"] == "on (deferred)"
    assert g.build_info["timings_ms"]["session.prepacked"] > 0
    assert g.finish_loading()  # nothing left to do
    for seed in (3, 4):  # on the prepacked session, through the output pool and without it
        _check(g.run({"x": _x(seed)})["y"], _x(seed))
        _check(g.run({"x": _x(seed)}, ["y"])["y"], _x(seed))


def test_finish_loading_switches_before_any_call(cache: Path) -> None:
    g = webnnc.runtime.load("mm", cache_dir=cache)
    first = weakref.ref(g._session)
    assert g.finish_loading() and g._upgrade is None and first() is None
    assert g.build_info["session"]["prepacking"] == "on (deferred)"
    _check(g.run({"x": _x(9)})["y"], _x(9))


def test_a_failed_creation_reopens_the_unpacked_session(cache: Path, caplog: pytest.LogCaptureFixture) -> None:
    g = webnnc.runtime.load("mm", cache_dir=cache)
    assert g._upgrade is not None

    def fails() -> object:
        raise RuntimeError("out of memory\nmore detail")

    g._upgrade.create = fails
    with caplog.at_level(logging.WARNING, logger="webnnc"):
        assert not g.finish_loading()
    assert any("staying on the unpacked session (RuntimeError: out of memory)" in r.getMessage() for r in caplog.records)
    assert g.build_info["session"]["prepacking"] == "deferred" and g._upgrade is None
    for seed in (1, 2, 3):
        _check(g.run({"x": _x(seed)})["y"], _x(seed))


def test_eager_and_off(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    eager = webnnc.runtime.load("mm", cache_dir=cache, prepacking="eager")
    assert eager.build_info["session"]["prepacking"] == "on" and eager._upgrade is None
    off = webnnc.runtime.load("mm", cache_dir=cache, prepacking="off")
    assert off.build_info["session"]["prepacking"] == "off" and off._upgrade is None
    for g in (eager, off):
        _check(g.run({"x": _x(5)})["y"], _x(5))
        assert g.finish_loading()  # nothing to switch
    monkeypatch.setenv("WEBNNC_PREPACKING", "eager")
    assert webnnc.runtime.load("mm", cache_dir=cache).build_info["session"]["prepacking"] == "on"
    monkeypatch.setenv("WEBNNC_PREPACKING", "later")
    with pytest.raises(ValueError, match=r"\$WEBNNC_PREPACKING must be one of deferred, eager, off; found 'later'"):
        webnnc.runtime.load("mm", cache_dir=cache)
    with pytest.raises(ValueError, match="prepacking must be one of"):
        webnnc.runtime.load("mm", cache_dir=cache, prepacking="yes")


def test_changed_entry_is_not_opened_again(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    key = _compile(tmp_path)
    g = webnnc.runtime.load(key, cache_dir=tmp_path)
    first = g._session
    weights = next(tmp_path.glob("objects/*/*/weights"))
    st = weights.stat()
    os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # replaced, as far as a stat knows
    with caplog.at_level(logging.WARNING, logger="webnnc"):
        assert not g.finish_loading()
    assert g._session is first and g._upgrade is None
    assert g.build_info["session"]["prepacking"] == "deferred"
    assert any("staying on the unpacked session" in r.getMessage() and "changed" in r.getMessage() for r in caplog.records)
    _check(g.run({"x": _x(6)})["y"], _x(6))  # the first session still serves


def test_dispatch_follows_the_switch(cache: Path) -> None:
    ctx = webnnc.ML().create_context(cache_dir=cache)
    g = webnnc.runtime.load("mm", cache_dir=cache)
    x = ctx.create_tensor([4, K], "float32")
    y = ctx.create_tensor([4, N], "float32")
    first = weakref.ref(g._session)
    for seed in range(4):
        ctx.write_tensor(x, _x(seed))
        ctx.dispatch(g, {"x": x}, {"y": y})
        _check(ctx.read_tensor(y), _x(seed))
        assert (g._upgrade is None) == (seed >= 1)  # the second dispatch switched
    assert first() is None and g.build_info["session"]["prepacking"] == "on (deferred)"


def test_bundle_load_defers_too_and_removes_its_folder(cache: Path, tmp_path: Path) -> None:
    """A held artifact (a bundle) is written to a private folder that lives until the
    prepacked session has opened it: loads from a bundle and from the cache agree."""
    from webnnc.cache.bundle import export_bundle
    from webnnc.cache.store import ArtifactStore

    with ArtifactStore(cache) as store:
        export_bundle(store, tmp_path / "mm.webnnc")
    before = set(Path(tempfile.gettempdir()).glob("webnnc-load-*"))
    g = webnnc.runtime.load("mm", bundle=tmp_path / "mm.webnnc")
    assert g.build_info["session"]["prepacking"] == "deferred"
    scratch = [p for p in set(Path(tempfile.gettempdir()).glob("webnnc-load-*")) - before if (p / "weights").exists()]
    assert scratch, "the bundle's weights are in a private folder while the upgrade may need them"
    from_cache = webnnc.runtime.load("mm", cache_dir=cache)
    x = _x(7)
    np.testing.assert_array_equal(g.run({"x": x})["y"], from_cache.run({"x": x})["y"])
    assert g.finish_loading() and g.build_info["session"]["prepacking"] == "on (deferred)"
    assert not any(p.exists() for p in scratch)
    _check(g.run({"x": x})["y"], x)


def test_a_graph_that_cannot_reopen_says_so_on_every_call(cache: Path) -> None:
    from webnnc.runtime.errors import WebNNRuntimeError

    ctx = webnnc.ML().create_context(cache_dir=cache)
    g = webnnc.runtime.load("mm", cache_dir=cache)
    assert g._upgrade is not None

    def gone() -> object:
        raise FileNotFoundError("weights")

    g._upgrade.create = gone
    g._upgrade.reopen = gone
    g.run({"x": _x(1)})
    for _ in range(2):  # the call that switches, then any later one: one line, never a None
        with pytest.raises(WebNNRuntimeError, match=r"reopening the unpacked one failed too \(FileNotFoundError: weights\); load it again"):
            g.run({"x": _x(2)})
    x, y = ctx.create_tensor([4, K], "float32"), ctx.create_tensor([4, N], "float32")
    with pytest.raises(WebNNRuntimeError, match="load it again"):
        ctx.dispatch(g, {"x": x}, {"y": y})


def test_concurrent_first_calls_switch_once_and_all_compute_right(cache: Path) -> None:
    """Calls from several threads from the very first: each runs on a whole session (never on
    the graph between its two), the switch happens once, and every result is right."""
    from concurrent.futures import ThreadPoolExecutor

    g = webnnc.runtime.load("mm", cache_dir=cache)
    upgrade = g._upgrade
    assert upgrade is not None
    finals: list[object] = []
    final = upgrade.final

    def counted() -> object:
        session = final()
        finals.append(session)
        return session

    upgrade.final = counted  # type: ignore[method-assign]

    def work(seed: int) -> None:
        for k in range(6):
            x = _x(100 * seed + k)
            out = g.run({"x": x}, ["y"] if k % 2 else None)
            _check(out["y"], x)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(work, range(4)))
    assert len(finals) == 1 and g._upgrade is None and g._session is finals[0]
    assert g.build_info["session"]["prepacking"] == "on (deferred)"
