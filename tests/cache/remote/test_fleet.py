"""A simulated fleet: 8 processes ("machines"), each with its own local cache, one remote.

1. One machine compiles and pushes; the other 7 load the model by name (zero compiles) and
   get the same outputs.
2. All 8 start at once on a new graph with the remote build lock on: exactly one compiles,
   the other 7 wait for its push and pull it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

_MACHINE = r"""
import json, sys, numpy as np
import webnnc, webnnc.runtime
cache, remote, mode, k, how = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5]
x = np.array([[-1.5, 0.0, 2.0, 1.0], [3.0, -4.0, 0.5, 2.0]], np.float32)
if how == "load":
    g = webnnc.runtime.load("fleet-model", cache_dir=cache, remote=remote)
    out, source = g.run({"x": x})["y"], g.build_info["source"]
else:
    ctx = webnnc.ML().create_context(cache_dir=cache, remote_cache=remote, remote_mode=mode)
    b = ctx.create_graph_builder()
    xi = b.input("x", [2, 4], "float32")
    w = b.constant(np.full([2, 4], k, np.float32))
    g = b.build({"y": b.relu(b.add(b.mul(xi, w), b.constant(np.ones([2, 4], np.float32))))}, name="fleet-model")
    out, source = ctx.compute(g, {"x": x})["y"], g.build_info["source"]
compiler = any(m.startswith("webnnc.compiler") for m in sys.modules)
print(json.dumps({"source": source, "y": out.tolist(), "compiler_imported": compiler}))
"""


def _start(tmp_path: Path, i: int, remote: str, mode: str, k: float, how: str, env: dict[str, str]) -> Any:
    return subprocess.Popen(
        [sys.executable, "-c", _MACHINE, str(tmp_path / f"machine{i}"), remote, mode, str(k), how],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )


def _finish(proc: Any) -> dict[str, Any]:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["stderr"] = err
    return result


# remote_url is parametrized over file/s3/redis; the fleet runs on the two servers only
@pytest.mark.parametrize("remote_url", ["s3", "redis"], indirect=True)
def test_one_compile_seven_loads_by_name(tmp_path: Path, remote_url: str) -> None:
    env = dict(os.environ)
    first = _finish(_start(tmp_path, 0, remote_url, "read-write", 2.0, "build", env))
    assert first["source"] == "compiled"
    procs = [_start(tmp_path, i, remote_url, "read-only", 2.0, "load", env) for i in range(1, 8)]
    results = [_finish(p) for p in procs]
    assert all(r["source"] == "loaded" for r in results), [r["source"] for r in results]
    assert not any(r["compiler_imported"] for r in results)  # zero compiles: the compiler never loaded
    assert all(r["y"] == first["y"] for r in results)
    for i in range(1, 8):  # each machine now has its own verified local copy
        assert len(list((tmp_path / f"machine{i}" / "entries").rglob("*.json"))) == 1


@pytest.mark.parametrize("remote_url", ["s3", "redis"], indirect=True)
def test_eight_at_once_with_the_lock_compile_once(tmp_path: Path, remote_url: str) -> None:
    env = {**os.environ, "WEBNNC_REMOTE_LOCK": "1"}
    procs = [_start(tmp_path, i, remote_url, "read-write", 4.0, "build", env) for i in range(8)]
    results = [_finish(p) for p in procs]
    sources = sorted(r["source"] for r in results)
    assert sources == ["cache-hit"] * 7 + ["compiled"], sources
    assert all(r["y"] == results[0]["y"] for r in results)
    assert not any("Traceback" in r["stderr"] for r in results)
