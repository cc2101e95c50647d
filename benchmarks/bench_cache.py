"""What a cache hit costs: key computation, lookup + verification, session creation.

For W3 (MobileNetV2, ~14 MB of weights) and a model with ~100 MB of weights (six 2048x2048
float32 matmuls), the graph is compiled once into a fresh cache folder; then ``build()`` is
repeated and every hit's own timings are collected (``graph.build_info["timings_ms"]``):

- ``key``: the structural digest of the graph, which hashes every constant's bytes;
- ``lookup``: ``ArtifactStore.get``: read the manifest, re-derive its key, read the
  artifact and check its size and hash (BLAKE3 when the ``blake3`` package is installed,
  else sha256 via hashlib/OpenSSL);
- ``hash``: that artifact hash alone (part of ``lookup``), measured on the same bytes, plus
  sha256 of the same bytes for comparison;
- ``session``: creating the ONNX Runtime session from the verified bytes;
- ``total``: the whole ``build()`` call on a hit (graph construction by the user excluded).

Usage::

    python benchmarks/bench_cache.py             # -> results/cache.md
    python benchmarks/bench_cache.py --quick --results-dir /tmp/x
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import RESULTS_DIR, fmt_ms, machine_lines, markdown_table, median


def big_weights(builder: Any) -> dict[str, Any]:
    """Six chained [1,2048] x [2048,2048] float32 matmuls: 6 x 16 MiB = ~100 MB of weights."""
    import numpy as np

    rng = np.random.default_rng(0)
    x = builder.input("input", [1, 2048], "float32")
    for _ in range(6):
        w = (rng.standard_normal([2048, 2048]) / 45).astype(np.float32)
        x = builder.matmul(x, builder.constant(w))
    return {"output": x}


def measure(name: str, fn: Callable[[Any], dict[str, Any]], repeats: int, cache_dir: Path) -> dict[str, Any]:
    import webnnc
    from webnnc.cache.store import ArtifactStore

    context = webnnc.ML().create_context(cache_dir=cache_dir)
    b = context.create_graph_builder()
    first = b.build(fn(b), name=f"bench-cache-{name}")
    assert first.build_info["source"] == "compiled", first.build_info
    with ArtifactStore(cache_dir) as store:
        hit = store.get(first.build_info["key"], use=False)
        assert hit is not None
        data = hit.data
    from webnnc.cache._hash import blake3_hex

    hash_name = "blake3" if hit.manifest.artifact_blake3 and blake3_hex(b"") else "sha256"
    rows: dict[str, list[float]] = {"key": [], "lookup": [], "hash": [], "sha256": [], "session": [], "total": []}
    del first
    for _ in range(repeats):
        b = context.create_graph_builder()
        outputs = fn(b)
        # the artifact hash alone, timed while no session exists (ORT's threads idle)
        t1 = time.perf_counter()
        if hash_name == "blake3":
            blake3_hex(data)
        else:
            hashlib.sha256(data).hexdigest()
        t2 = time.perf_counter()
        hashlib.sha256(data).hexdigest()
        rows["hash"].append((t2 - t1) * 1e3)
        rows["sha256"].append((time.perf_counter() - t2) * 1e3)
        t0 = time.perf_counter()
        graph = b.build(outputs)
        total = (time.perf_counter() - t0) * 1e3
        assert graph.build_info["source"] == "cache-hit", graph.build_info
        t = graph.build_info["timings_ms"]
        del graph
        rows["key"].append(t["key"])
        rows["lookup"].append(t["lookup"])
        rows["session"].append(t["session"])
        rows["total"].append(total)
    out: dict[str, Any] = {k: (median(v), min(v)) for k, v in rows.items()}
    out["artifact_mb"] = len(data) / 1e6
    out["hash_name"] = hash_name
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats instead of 15")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args()
    from webnnc.compiler.workloads import w3_mobilenet_v2

    repeats = 3 if args.quick else 15
    results = {}
    for name, fn in (("W3 MobileNetV2", w3_mobilenet_v2), ("100 MB weights", big_weights)):
        with tempfile.TemporaryDirectory() as d:
            results[name] = measure(name.split()[0], fn, repeats, Path(d))
        print(name, results[name], file=sys.stderr)
    header = [
        "model", "artifact", "key", "lookup + verify", "of which hash", "(sha256 instead)",
        "session", "hit total", "hash share",
    ]
    def cell(r: dict[str, Any], k: str) -> str:
        med, low = r[k]
        return f"{fmt_ms(med)} ({fmt_ms(low)})"

    rows = [
        [
            name,
            f"{r['artifact_mb']:.1f} MB",
            *(cell(r, k) for k in ("key", "lookup", "hash", "sha256", "session", "total")),
            f"{100 * r['hash'][0] / r['total'][0]:.0f}%",
        ]
        for name, r in results.items()
    ]
    lines = [
        "# Cache-hit overhead",
        "",
        f"Median (minimum) of {repeats} hits per model, in milliseconds, in one process (page "
        "cache warm). `hash` is the artifact hash a hit checks, timed alone before each hit "
        f"({', '.join(sorted({r['hash_name'] for r in results.values()}))}); `(sha256 instead)` "
        "is what sha256 would cost on the same bytes. "
        "`key` hashes the graph and every constant (sha256, in the compiler). "
        "Command: `python benchmarks/bench_cache.py`.",
        "",
        *markdown_table(header, rows),
        "",
        "The machine may be shared with other jobs; under load the minimum is the better "
        "estimate of the cost, the median of what a user sees.",
        "",
        *machine_lines(),
        "",
    ]
    args.results_dir.mkdir(parents=True, exist_ok=True)
    (args.results_dir / "cache.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
