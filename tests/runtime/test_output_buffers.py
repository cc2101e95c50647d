"""Pooled output buffers (runtime/graph.py): reuse only on request, never behind the caller's back."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest


def _graph(context: Any, n: int = 8) -> Any:
    b = context.create_graph_builder()
    x = b.input("x", [n], "float32")
    return b.build({"y": b.mul(x, b.constant(np.full([n], 2.0, np.float32))), "z": b.neg(x)})


def test_default_results_are_never_overwritten_by_a_later_run(nocache_context: Any) -> None:
    g = _graph(nocache_context)
    first = g.run({"x": np.ones(8, np.float32)})
    second = g.run({"x": np.full(8, 3.0, np.float32)})
    np.testing.assert_array_equal(first["y"], np.full(8, 2.0))
    np.testing.assert_array_equal(second["y"], np.full(8, 6.0))
    np.testing.assert_array_equal(first["z"], np.full(8, -1.0))
    assert not np.shares_memory(first["y"], second["y"])


def test_reuse_outputs_returns_the_pooled_buffers(nocache_context: Any) -> None:
    g = _graph(nocache_context)
    first = g.run({"x": np.ones(8, np.float32)}, reuse_outputs=True)
    np.testing.assert_array_equal(first["y"], np.full(8, 2.0))
    assert not first["y"].flags.writeable
    second = g.run({"x": np.full(8, 3.0, np.float32)}, reuse_outputs=True)
    assert np.shares_memory(first["y"], second["y"])
    np.testing.assert_array_equal(first["y"], np.full(8, 6.0))  # overwritten, as documented
    for a in second.values():
        assert a.ctypes.data % 64 == 0  # planned offsets in one aligned allocation
    plan = g.manifest.extra["memory_plan"]["outputs"]
    assert {name: off for name, (off, _) in plan.items()} == {"y": 0, "z": 64}


def test_large_outputs_and_subsets_take_the_plain_path(nocache_context: Any) -> None:
    g = _graph(nocache_context, n=1 << 15)  # 2 x 128 KiB of outputs: above the copy limit
    x = np.arange(1 << 15, dtype=np.float32)
    a, b = g.run({"x": x}), g.run({"x": x + 1})
    assert not np.shares_memory(a["y"], b["y"])
    np.testing.assert_array_equal(a["y"], 2 * x)
    only = g.run({"x": x}, outputs=["z"])
    assert list(only) == ["z"]
    np.testing.assert_array_equal(only["z"], -x)


def test_concurrent_runs_get_their_own_results(nocache_context: Any) -> None:
    g = _graph(nocache_context)
    errors: list[str] = []

    def worker(k: int) -> None:
        for _ in range(200):
            out = g.run({"x": np.full(8, float(k), np.float32)})
            if not np.array_equal(out["y"], np.full(8, 2.0 * k)):
                errors.append(f"thread {k} got {out['y']}")

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


@pytest.mark.parametrize("reuse", [False, True])
def test_results_match_the_plain_session(nocache_context: Any, reuse: bool) -> None:
    g = _graph(nocache_context)
    x = np.random.default_rng(0).standard_normal(8).astype(np.float32)
    got = g.run({"x": x}, reuse_outputs=reuse)
    plain = g.run({"x": x}, outputs=["y", "z"])
    for k in ("y", "z"):
        np.testing.assert_array_equal(got[k], plain[k])
        assert got[k].dtype == np.float32


def test_non_contiguous_inputs_are_bound_correctly(nocache_context: Any) -> None:
    g = _graph(nocache_context, n=4)
    big = np.arange(16, dtype=np.float32)
    x = big[::4]  # strided view
    assert not x.flags.c_contiguous
    np.testing.assert_array_equal(g.run({"x": x})["z"], -x)
