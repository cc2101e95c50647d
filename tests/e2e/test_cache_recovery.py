"""A corrupt artifact in the cache is detected, dropped and rebuilt; it is never returned."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import webnnc
from webnnc.cache.store import ArtifactStore

X = np.array([[-1.5, 0.0, 2.0], [3.0, -4.0, 0.5]], np.float32)
EXPECTED = np.maximum(X.astype(np.float64) * 2.0, 0.0)


def _build(context: Any) -> Any:
    b = context.create_graph_builder()
    x = b.input("x", [2, 3], "float32")
    return b.build({"y": b.relu(b.mul(x, b.constant(np.full([2, 3], 2.0, np.float32))))})


def _artifact_path(cache_dir: Path, key: str) -> Path:
    with ArtifactStore(cache_dir) as store:
        hit = store.get(key)
        assert hit is not None
        path = Path(hit.path)
        # a folder artifact (graph + weights; every one where ORT stores small initializers
        # externally too, as 1.19 does): damage its graph
        return path / "model.onnx" if path.is_dir() else path


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), id="truncated"),
        pytest.param(lambda p: p.write_bytes(b"\x00" * len(p.read_bytes())), id="zeroed"),
        pytest.param(lambda p: p.unlink(), id="deleted"),
    ],
)
def test_corrupt_artifact_is_rebuilt(cache_dir: Path, damage: Any, caplog: pytest.LogCaptureFixture) -> None:
    context = webnnc.ML().create_context(cache_dir=cache_dir)
    first = _build(context)
    assert first.build_info["source"] == "compiled"
    damage(_artifact_path(cache_dir, first.build_info["key"]))

    # A fresh context (as another process would) must not get the damaged bytes back.
    context = webnnc.ML().create_context(cache_dir=cache_dir)
    with caplog.at_level(logging.WARNING):
        second = _build(context)
    assert second.build_info["source"] == "compiled", "a damaged entry was returned as a hit"
    assert any("corrupt" in r.getMessage() for r in caplog.records)
    np.testing.assert_allclose(context.compute(second, {"x": X})["y"], EXPECTED, rtol=0, atol=0)

    # The rebuilt entry is good again.
    third = _build(webnnc.ML().create_context(cache_dir=cache_dir))
    assert third.build_info["source"] == "cache-hit"
    assert third.build_info["key"] == first.build_info["key"]
