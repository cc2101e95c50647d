"""A second, separate process that builds the same graph gets a cache hit.

The same graph is built three ways in three fresh interpreters sharing one cache folder:
the second and third create the constants in the opposite order, build the two independent
branches in the opposite order and give intermediate values internal names. Only the first
compiles; the others report a cache hit under the same key and compute the same numbers.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tests.conftest import run_python

_SCRIPT = """
import json, sys
import numpy as np
import webnnc

variant = {variant!r}
context = webnnc.ML().create_context(cache_dir={cache_dir!r})
b = context.create_graph_builder()
x = b.input("x", [2, 4], "float32")
w_data = np.arange(16, dtype=np.float32).reshape(4, 4) / 8
s_data = np.array([0.5, -1, 2, 0.25], np.float32)
if variant == "as-written":
    w = b.constant(w_data)
    s = b.constant(s_data)
    left = b.relu(b.matmul(x, w))
    right = b.sigmoid(b.mul(x, s))
else:  # constants created in the other order, branches built in the other order, names set
    s = b.constant(s_data)
    w = b.constant(w_data)
    right = b.sigmoid(b.mul(x, s))
    left = b.relu(b.matmul(x, w))
    right.value.name = "gate"
    left.value.name = "projection"
graph = b.build({{"y": b.add(left, right)}})
y = context.compute(graph, {{"x": np.linspace(-2, 2, 8, dtype=np.float32).reshape(2, 4)}})["y"]
print(json.dumps({{"source": graph.build_info["source"], "key": graph.build_info["key"],
                  "dtype": str(y.dtype), "y": y.tolist()}}))
"""


def _build(variant: str, cache_dir: Path, cwd: Path) -> dict[str, object]:
    out = run_python(_SCRIPT.format(variant=variant, cache_dir=str(cache_dir)), cwd=cwd)
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return result


def test_second_process_gets_a_cache_hit(tmp_path: Path, cache_dir: Path) -> None:
    first = _build("as-written", cache_dir, tmp_path)
    second = _build("reordered-and-named", cache_dir, tmp_path)
    third = _build("as-written", cache_dir, tmp_path)
    assert first["source"] == "compiled"
    assert second["source"] == "cache-hit", second
    assert third["source"] == "cache-hit", third
    assert first["key"] == second["key"] == third["key"]
    assert first["dtype"] == second["dtype"] == "float32"
    assert first["y"] == second["y"] == third["y"]
    # and the numbers are right (float64 reference; float32 rounding only)
    x = np.linspace(-2, 2, 8).reshape(2, 4)
    w = np.arange(16).reshape(4, 4) / 8
    ref = np.maximum(x @ w, 0) + 1 / (1 + np.exp(-x * np.array([0.5, -1, 2, 0.25])))
    np.testing.assert_allclose(np.array(first["y"]), ref, rtol=1e-6, atol=1e-6)


def test_a_different_graph_misses(tmp_path: Path, cache_dir: Path) -> None:
    first = _build("as-written", cache_dir, tmp_path)
    # Same structure, one constant value changed: the key must change.
    script = _SCRIPT.format(variant="as-written", cache_dir=str(cache_dir)).replace(
        "[0.5, -1, 2, 0.25]", "[0.5, -1, 2, 0.5]"
    )
    other = json.loads(run_python(script, cwd=tmp_path).strip().splitlines()[-1])
    assert other["source"] == "compiled"
    assert other["key"] != first["key"]
